"""Command line: ``python -m nfref [report|figures|bench|cases|vectors|check|site]``.

With no subcommand, runs the derivation report and then writes the figures.
"""

import argparse
import sys

from nfref.report import bench    # registers the speed benchmarks
from nfref.report.claims import all_benchmarks, run_claims, write_figures


def _cases(args):
    import numpy as np

    from nfref.registry import contract_cases
    for name, case in contract_cases().items():
        t = case.make(2 if 2 in case.dims else case.dims[0], np.random.default_rng(0))
        print(f"{name:<32} dims {case.dims}  base {case.base:<8} {t!r}")
    return 0


def _vectors(args):
    import time

    from nfref.conformance.vectors import VECTOR_DIR, write
    start = time.perf_counter()
    index = write(args.out)
    n_files = sum(len(c["files"]) for c in index["cases"].values())
    print(f"wrote {n_files} files for {len(index['cases'])} cases and index.json to "
          f"{args.out or VECTOR_DIR} in {time.perf_counter() - start:.1f} s")
    return 0


def _check(args):
    """``check MODULE:OBJECT --case NAME``: 0 if every check passes, 1 if one fails or the
    implementation returns a wrong shape, 2 for bad use (unknown case, unimportable object)."""
    import importlib

    from nfref.conformance import check
    from nfref.conformance.check import ImplementationError
    module_name, sep, attr = args.target.partition(":")
    if not sep or not module_name or not attr:
        print(f"check: expected MODULE:OBJECT, got {args.target!r}", file=sys.stderr)
        return 2
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")                      # the current folder, as python -m does
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        print(f"check: cannot load {args.target!r}: {exc}", file=sys.stderr)
        return 2
    try:
        result = check(obj, args.case, dims=args.dim, directory=args.vectors,
                       self_consistency=not args.no_fd)
    except ImplementationError as exc:
        print(f"check: the implementation failed: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 2
    print(result)
    return 0 if result.ok else 1


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _bench(args):
    """Run the chosen benchmarks, BLAS threads pinned (see :mod:`nfref.report.bench`).

    ``-k NAME`` picks the benchmark called exactly ``NAME`` if there is one (so ``-k table``
    does not also run ``ktable``), else every benchmark whose name contains it.
    ``--rounds`` and ``--batch`` go to the benchmarks that take them."""
    import inspect

    benches = all_benchmarks()
    select = (args.select or "").lower()
    chosen = [n for n in benches if n.lower() == select] or \
             [n for n in benches if select in n.lower()]
    if not chosen:
        print(f"no benchmark name contains {args.select!r}; expected one of: "
              f"{', '.join(benches)}", file=sys.stderr)
        return 2
    options = {k: v for k, v in (("rounds", args.rounds), ("batch", args.batch))
               if v is not None}
    with bench.pinned_threads() as threads:
        print(f"threads: {threads}", flush=True)
        for name in chosen:
            print(f"== {name}", flush=True)
            accepted = inspect.signature(benches[name]).parameters
            benches[name](sys.stdout, **{k: v for k, v in options.items() if k in accepted})
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nfref",
        description="nfref: a NumPy reference implementation of normalizing flows. With no "
                    "subcommand: run the derivation report, then write the figures.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("report", help="check every identity of the notes and print the "
                                      "measured errors (exit status 1 if any fails)")
    p.add_argument("-k", "--select", help="only claims whose name, place or module contains this")
    p.add_argument("--mutations", action="store_true",
                   help="inject each deliberate error of nfref.report.mutations in turn and print "
                        "the claims that fail under it (-k selects mutations by name)")
    p.add_argument("--markdown", action="store_true",
                   help="print the report as Markdown tables (the course website's page)")
    p.add_argument("--width", type=_positive_int, default=None,
                   help="columns of the text report (default: the terminal's, or 100)")
    p = sub.add_parser("figures", help="write every figure as a PNG")
    p.add_argument("--out", default="figures", help="output folder (default: figures)")
    p.add_argument("-k", "--select", help="only figures whose name contains this")
    p = sub.add_parser("bench", help="run the benchmarks (time per training step)")
    p.add_argument("-k", "--select", help="only the benchmark of this name, or else those "
                                          "whose name contains it")
    p.add_argument("--rounds", type=_positive_int, default=None,
                   help="timed rounds per measurement (default 15, or NFREF_BENCH_ROUNDS)")
    p.add_argument("--batch", type=_positive_int, default=None,
                   help="batch size (default 1024, or NFREF_BENCH_BATCH)")
    sub.add_parser("cases", help="list the transforms of the contract registry")
    p = sub.add_parser("site", help="build the course website (Sphinx: notebooks, report, API, "
                                    "figures) and print where its index.html is")
    p.add_argument("--out", default=None, help="output folder (default: docs/_build/html)")
    p = sub.add_parser("vectors", help="write the conformance test vectors (JSON, one file "
                                       "per case and dimension, and index.json)")
    p.add_argument("--out", default=None, help="output folder (default: the package's "
                                               "committed set, nfref/conformance/vectors)")
    p = sub.add_parser("check", help="check another implementation against the vectors "
                                     "(exit status 0 if every check passes, 1 if one fails)")
    p.add_argument("target", metavar="MODULE:OBJECT",
                   help="an object with forward/inverse/... callables, a dict of them, or a "
                        "forward function (nfref.conformance.Implementation)")
    p.add_argument("--case", required=True, help="a registered case (python -m nfref cases)")
    p.add_argument("--dim", type=_positive_int, action="append", default=None,
                   help="only this dimension (repeatable; default: every one of the case)")
    p.add_argument("--vectors", default=None, help="a vector folder (default: the committed set)")
    p.add_argument("--no-fd", action="store_true",
                   help="skip the finite-difference self-consistency checks")
    args = parser.parse_args(argv)

    if args.command == "cases":
        return _cases(args)
    if args.command == "vectors":
        return _vectors(args)
    if args.command == "check":
        return _check(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "site":
        from nfref.report.site import build
        return build(args.out)
    if args.command == "figures":
        write_figures(args.out, args.select)
        return 0
    if getattr(args, "mutations", False):
        from nfref.report.mutations import run_mutations
        return run_mutations(args.select)
    results = run_claims(getattr(args, "select", None), markdown=getattr(args, "markdown", False),
                         width=getattr(args, "width", None))
    failed = any(not r.passed for r in results)
    if args.command is None:
        print("\nwriting the figures to figures/ (a few minutes: some figures fit flows; "
              "'python -m nfref report' gives the report alone)", flush=True)
        write_figures("figures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
