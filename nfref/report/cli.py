"""Command line: ``python -m nfref [report|figures|bench|cases]``.

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
    args = parser.parse_args(argv)

    if args.command == "cases":
        return _cases(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "figures":
        write_figures(args.out, args.select)
        return 0
    results = run_claims(getattr(args, "select", None))
    failed = any(not r.passed for r in results)
    if args.command is None:
        print("\nwriting the figures to figures/ (a few minutes: some figures fit flows; "
              "'python -m nfref report' gives the report alone)", flush=True)
        write_figures("figures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
