"""Command line: ``python -m nfref [report|figures|bench|cases]``.

With no subcommand, runs the derivation report and then writes the figures.
"""

import argparse
import sys

from nfref.report.claims import all_benchmarks, run_claims, write_figures


def _cases(args):
    import numpy as np

    from nfref.registry import contract_cases
    for name, case in contract_cases().items():
        t = case.make(2 if 2 in case.dims else case.dims[0], np.random.default_rng(0))
        print(f"{name:<32} dims {case.dims}  base {case.base:<8} {t!r}")
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
    p.add_argument("-k", "--select", help="only benchmarks whose name contains this")
    sub.add_parser("cases", help="list the transforms of the contract registry")
    args = parser.parse_args(argv)

    if args.command == "cases":
        return _cases(args)
    if args.command == "bench":
        benches = all_benchmarks()
        chosen = [n for n in benches if not args.select or args.select.lower() in n.lower()]
        if not chosen:
            print(f"no benchmark name contains {args.select!r}; expected one of: "
                  f"{', '.join(benches)}", file=sys.stderr)
            return 2
        for name in chosen:
            print(f"== {name}", flush=True)
            benches[name](sys.stdout)
        return 0
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
