"""The derivation report: every identity of the notes as a measured claim.

A *claim* is a small function that measures, numerically, the discrepancy between the
two sides of an identity in the notes and returns it; the report compares it with a
bound. ``python -m nfref`` runs every claim and prints one table row each (claim,
where in the notes, measured value, bound, pass); the tests run the same claims.

Claims and figures live in ``nfref/report/derivations/``, one module per section of the notes,
and register themselves with the decorators below::

    @claim("eq. (8) for the linear flow", where="000 sec. 2.1 eq. (8)", bound=1e-13,
           why="float64 floor: eps times cond(A) times |log|det A|| ~ 1e-15")
    def _():
        ...
        return max_abs_error          # or (value, "a short detail")

Every claim states ``why`` its bound has the size it has (the float64 floor times the
conditioning, a finite-difference or quadrature error, a Monte Carlo standard error, a
significance level and the false-failure rate it implies); a bound is at most about 100
times what the claim measures unless ``why`` says why not. A claim whose measured value
must be *at least* the bound (a p-value, say) passes ``at_least=True``.

Statistical claims use a fixed seed, report a p-value (Bonferroni-adjusted over the tests
they combine, :func:`bonferroni`) and pass when it is at least :data:`ALPHA`: each has a
false-failure rate of at most ``ALPHA`` for a fresh seed.

A figure function takes no argument and returns a matplotlib ``Figure``;
``python -m nfref figures`` saves it as ``figures/<name>.png``. The mutation tests of the
claims (deliberate errors injected into the library, and which claims catch them) are in
:mod:`nfref.report.mutations`.
"""

import importlib
import pkgutil
import sys
import time
from dataclasses import dataclass

__all__ = ["claim", "figure", "benchmark", "all_claims", "all_figures", "all_benchmarks",
           "run_claims", "write_figures", "bonferroni", "ALPHA"]

#: Significance level of every statistical claim: its false-failure rate for a fresh seed.
ALPHA = 1e-3

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


def claim(name, where, bound, at_least=False, why=""):
    """Register a claim (decorator). See the module docstring."""
    def deco(func):
        key = f"{func.__module__}:{name}"
        _CLAIMS[key] = Claim(name, where, float(bound), func, at_least,
                             func.__module__.rsplit(".", 1)[-1], why)
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


def run_claims(select=None, stream=None):
    """Run the claims (those whose name, place or module contains ``select``) and print a table.

    Returns
    -------
    list of ClaimResult
    """
    stream = stream or sys.stdout
    claims = [c for c in all_claims()
              if not select or select.lower() in f"{c.name} {c.where} {c.module}".lower()]
    wn = min(max([len(c.name) for c in claims] + [5]), 96)
    ww = min(max([len(c.where) for c in claims] + [18]), 32)
    print(f"{'claim':<{wn}} {'where in the notes':<{ww}} {'measured':>10} {'bound':>9}  result",
          file=stream)
    results, section = [], None
    for c in claims:
        if c.module != section:
            section = c.module
            print(f"-- {section}", file=stream)
        r = c.run()
        results.append(r)
        cmp = ">=" if c.at_least else "<="
        status = "pass" if r.passed else "FAIL"
        print(f"{c.name[:wn]:<{wn}} {c.where[:ww]:<{ww}} {r.value:>10.3e} {cmp}{c.bound:>7.1e}  "
              f"{status}{'  ' + r.detail if r.detail else ''}", file=stream, flush=True)
        if r.error:
            print(f"    raised {r.error}", file=stream)
    n_fail = sum(not r.passed for r in results)
    print(f"{len(results) - n_fail} passed, {n_fail} failed "
          f"({sum(r.seconds for r in results):.1f} s)", file=stream)
    return results


def write_figures(outdir="figures", select=None, stream=None):
    """Draw every registered figure and save it as ``<outdir>/<name>.png``; returns the paths."""
    import os

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stream = stream or sys.stdout
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for name, func in all_figures().items():
        if select and select.lower() not in name.lower():
            continue
        fig = func()
        path = os.path.join(outdir, f"{name}.png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {path}", file=stream)
        paths.append(path)
    return paths
