"""The derivation report: every identity of the notes as a measured claim.

A *claim* is a small function that measures, numerically, the discrepancy between the
two sides of an identity in the notes and returns it; the report compares it with a
bound. ``python -m nfref`` runs every claim and prints one block each, as wide as the
terminal (:func:`format_result`: pass or FAIL, the measured value and the bound, then the
claim's name, where in the notes, what is measured and the detail, wrapped, never cut);
``report --markdown`` prints one table per section instead (:func:`format_markdown`, the
course website's page). The tests run the same claims.

Claims and figures live in ``nfref/report/derivations/``, one module per section of the notes,
and register themselves with the decorators below::

    @claim("eq. (8) for the linear flow", where="000 sec. 2.1 eq. (8)", bound=1e-13,
           why="float64 floor: eps times cond(A) times |log|det A|| ~ 1e-15",
           measures="largest |eq. (7) - eq. (8)| over the points (nats)")
    def _():
        ...
        return max_abs_error          # or (value, "a short detail")

Every claim says what its number ``measures``: which quantity (a largest absolute or relative
error, a p-value, a count, a ratio) and in which unit (nats, data units, unitless), so a
reader of the report knows what is compared with the bound.

Every claim states ``why`` its bound has the size it has (the float64 floor times the
conditioning, a finite-difference or quadrature error, a Monte Carlo standard error, a
significance level and the false-failure rate it implies); a bound is at most about 100
times what the claim measures unless ``why`` says why not. A claim whose measured value
must be *at least* the bound (a p-value, say) passes ``at_least=True``.

Statistical claims use a fixed seed, report a p-value (Bonferroni-adjusted over the tests
they combine, :func:`bonferroni`) and pass when it is at least :data:`ALPHA`: each has a
false-failure rate of at most ``ALPHA`` for a fresh seed.

A figure function takes no argument and returns a matplotlib ``Figure``;
``python -m nfref figures`` saves it as ``figures/<name>.png``, printing a line before and
after each figure (with its wall-clock and CPU seconds) and, while a long one runs, one
line every :data:`PROGRESS_SECONDS`. The mutation tests of the
claims (deliberate errors injected into the library, and which claims catch them) are in
:mod:`nfref.report.mutations`.
"""

import importlib
import os
import pkgutil
import shutil
import sys
import textwrap
import threading
import time
from dataclasses import dataclass

__all__ = ["claim", "figure", "benchmark", "all_claims", "all_figures", "all_benchmarks",
           "run_claims", "format_result", "format_markdown", "report_width", "write_figures",
           "bonferroni", "ALPHA", "PROGRESS_SECONDS"]

#: Significance level of every statistical claim: its false-failure rate for a fresh seed.
ALPHA = 1e-3

#: While a figure is being drawn, :func:`write_figures` prints a progress line this often.
PROGRESS_SECONDS = 10.0

_CLAIMS, _FIGURES, _BENCHMARKS = {}, {}, {}


@dataclass(frozen=True)
class Claim:
    """An identity of the notes, measured."""

    name: str
    where: str
    bound: float
    func: object
    at_least: bool = False
    module: str = ""
    why: str = ""
    measures: str = ""

    def run(self):
        """Measure the claim; returns a :class:`ClaimResult` (an exception counts as a failure)."""
        start = time.perf_counter()
        try:
            out = self.func()
            value, detail = (out if isinstance(out, tuple) else (out, ""))
            value = float(value)
            passed = value >= self.bound if self.at_least else value <= self.bound
            error = None
        except Exception as exc:  # a claim that crashes is reported, not hidden
            value, detail, passed, error = float("nan"), "", False, f"{type(exc).__name__}: {exc}"
        return ClaimResult(self, value, bool(passed), detail, error,
                           time.perf_counter() - start)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    value: float
    passed: bool
    detail: str
    error: object
    seconds: float


def claim(name, where, bound, at_least=False, why="", measures=""):
    """Register a claim (decorator). See the module docstring."""
    def deco(func):
        key = f"{func.__module__}:{name}"
        _CLAIMS[key] = Claim(name, where, float(bound), func, at_least,
                             func.__module__.rsplit(".", 1)[-1], why, measures)
        return func
    return deco


def bonferroni(pvalues):
    """``min(1, k * min(p))`` over ``k`` p-values: a level-``alpha`` test of all of them at once
    (false-failure rate at most ``alpha`` whatever their dependence)."""
    pvalues = [float(p) for p in pvalues]
    return min(1.0, len(pvalues) * min(pvalues))


def figure(name):
    """Register a figure function (decorator): ``func() -> matplotlib.figure.Figure``."""
    def deco(func):
        _FIGURES[name] = func
        return func
    return deco


def benchmark(name):
    """Register a benchmark (decorator): ``func(stream) -> None`` prints its own table."""
    def deco(func):
        _BENCHMARKS[name] = func
        return func
    return deco


def _discover():
    from nfref.report import derivations
    for mod in pkgutil.iter_modules(derivations.__path__, derivations.__name__ + "."):
        importlib.import_module(mod.name)



def all_claims():
    """Every registered claim, in the order of the notes (module name, then definition)."""
    _discover()
    return sorted(_CLAIMS.values(), key=lambda c: c.module)


def all_figures():
    _discover()
    return dict(sorted(_FIGURES.items()))


def all_benchmarks():
    """Every registered benchmark: those of the derivations and of :mod:`nfref.report.bench`
    (registered when it is imported, as :mod:`nfref.report.cli` does)."""
    _discover()
    return dict(sorted(_BENCHMARKS.items()))


def report_width(stream=None):
    """Columns of the report: ``$COLUMNS`` if set, the terminal's width when ``stream`` is a
    terminal, else 100 (:func:`shutil.get_terminal_size`); never below 60."""
    stream = stream or sys.stdout
    if os.environ.get("COLUMNS", "").isdigit():
        width = int(os.environ["COLUMNS"])
    else:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        width = shutil.get_terminal_size((100, 24)).columns if tty else 100
    return max(width, 60)


_STATUS = 29        # "pass  1.234e-11 <= 1.0e-10  ": the result, measured value and bound


def format_result(result, width=100):
    """The report's lines for one claim, none longer than ``width``.

    The first line starts with the result, the measured value and the bound; the claim's
    name follows, wrapped (never cut) in the column to their right, then where in the notes,
    what is measured (and in which unit) and the claim's detail, wrapped the same way."""
    c, text_width = result.claim, max(width - _STATUS, 20)
    cmp = ">=" if c.at_least else "<="
    status = "pass" if result.passed else "FAIL"
    head = f"{status:<4}  {result.value:>10.3e} {cmp} {c.bound:<7.1e}  "
    pad = " " * _STATUS
    lines = []
    for label, text in (("", c.name), ("where: ", c.where), ("measures: ", c.measures),
                        ("detail: ", result.detail), ("raised: ", result.error or "")):
        if not text:
            continue
        lines += textwrap.wrap(f"{label}{text}", text_width, subsequent_indent="  ",
                               break_long_words=True, break_on_hyphens=False)
    return [(head if k == 0 else pad) + line for k, line in enumerate(lines)]


_MD_SPECIAL = "\\`*_[]<>|$~"


def _md(text):
    """``text`` as literal Markdown (CommonMark, MyST): every special character escaped."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


def format_markdown(results):
    """The report as Markdown: one table per section of the notes (claim, where in the notes,
    what is measured with the claim's detail, the measured value against its bound, the
    result), then the totals."""
    out, section = [], None
    for r in results:
        c = r.claim
        if c.module != section:
            section = c.module
            out += ["", f"## {section}", "",
                    "| claim | where in the notes | what is measured | measured vs bound | result |",
                    "| --- | --- | --- | --- | --- |"]
        cmp = "&ge;" if c.at_least else "&le;"
        status = "pass" if r.passed else "**FAIL**"
        detail = r.detail + (f" (raised {r.error})" if r.error else "")
        measures = _md(c.measures) + (f"; here: {_md(detail)}" if detail else "")
        out.append(f"| {_md(c.name)} | {_md(c.where)} | {measures} | "
                   f"{r.value:.3e} {cmp} {c.bound:.1e} | {status} |")
    n_fail = sum(not r.passed for r in results)
    out += ["", f"{len(results) - n_fail} passed, {n_fail} failed "
                f"({sum(r.seconds for r in results):.1f} s).", ""]
    return "\n".join(out)


def run_claims(select=None, stream=None, markdown=False, width=None):
    """Run the claims (those whose name, place or module contains ``select``) and print them.

    Parameters
    ----------
    select : str, optional
        Only the claims whose name, place in the notes or module contains it (any case).
    stream : file-like, optional
        Where to print (default ``sys.stdout``).
    markdown : bool
        Print one Markdown table per section once every claim has run, instead of a line
        block per claim as each one finishes (:func:`format_result`).
    width : int, optional
        Columns of the text report (default :func:`report_width`): no line is longer.

    Returns
    -------
    list of ClaimResult
    """
    stream = stream or sys.stdout
    width = report_width(stream) if width is None else max(int(width), 60)
    claims = [c for c in all_claims()
              if not select or select.lower() in f"{c.name} {c.where} {c.module}".lower()]
    if not markdown:
        head = f"{'result':<6}{'measured':>10}    {'bound':<7}  "
        for k, line in enumerate(textwrap.wrap(
                "claim; where in the notes; what is measured (and in which unit); detail",
                max(width - _STATUS, 20))):
            print((head if k == 0 else " " * _STATUS) + line, file=stream)
    results, section = [], None
    for c in claims:
        if c.module != section and not markdown:
            print(f"-- {c.module}", file=stream)
        section = c.module
        r = c.run()
        results.append(r)
        if not markdown:
            print("\n".join(format_result(r, width)), file=stream, flush=True)
    if markdown:
        print(format_markdown(results), file=stream)
    else:
        n_fail = sum(not r.passed for r in results)
        print(f"{len(results) - n_fail} passed, {n_fail} failed "
              f"({sum(r.seconds for r in results):.1f} s)", file=stream)
    return results


def write_figures(outdir="figures", select=None, stream=None):
    """Draw every registered figure and save it as ``<outdir>/<name>.png``; returns the paths.

    Prints a line before each figure (``[k/n] name ...``), one every :data:`PROGRESS_SECONDS`
    while it is drawn (some fit flows), and one after it with the wall-clock and CPU seconds
    it took (on a busy machine the two differ)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stream = stream or sys.stdout
    os.makedirs(outdir, exist_ok=True)
    chosen = [(n, f) for n, f in all_figures().items()
              if not select or select.lower() in n.lower()]
    paths, total = [], time.perf_counter()
    for k, (name, func) in enumerate(chosen, 1):
        print(f"[{k}/{len(chosen)}] {name} ...", file=stream, flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        done = threading.Event()

        def progress(name=name, start=start, done=done):
            while not done.wait(PROGRESS_SECONDS):
                print(f"      {name}: still drawing, {time.perf_counter() - start:.0f} s so far",
                      file=stream, flush=True)
        ticker = threading.Thread(target=progress, daemon=True)
        ticker.start()
        try:
            fig = func()
            path = os.path.join(outdir, f"{name}.png")
            # no "Software" stamp: the bytes depend on the pixels only, not on the version of
            # matplotlib that drew them
            fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
            plt.close(fig)
        finally:
            done.set()
            ticker.join()
        print(f"[{k}/{len(chosen)}] wrote {path} in {time.perf_counter() - start:.1f} s "
              f"(CPU {time.process_time() - cpu:.1f} s)", file=stream, flush=True)
        paths.append(path)
    print(f"{len(paths)} figure{'' if len(paths) == 1 else 's'} in "
          f"{time.perf_counter() - total:.1f} s", file=stream)
    return paths
