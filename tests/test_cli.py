"""The command line: the report's exit status, its table, and the error paths."""

import io
import contextlib

from nfref.report.cli import main


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_report_prints_every_selected_claim_and_exits_0():
    code, out, _ = _run(["report", "-k", "s00"])
    assert code == 0
    assert "eq. (8), forward trick" in out and "5 passed, 0 failed" in out


def test_report_exit_status_is_1_when_a_claim_fails(monkeypatch):
    from nfref import report
    from nfref.report.claims import Claim
    bad = Claim("a deliberately false identity", "nowhere", 1e-10, lambda: 1.0, module="s99_test")
    monkeypatch.setattr(report, "all_claims", lambda: [bad])
    code, out, _ = _run(["report"])
    assert code == 1 and "FAIL" in out and "0 passed, 1 failed" in out


def test_bench_with_no_match_names_the_benchmarks():
    code, _, err = _run(["bench", "-k", "no-such-benchmark"])
    assert code == 2 and "contract_bounds" in err


def test_cases_lists_the_registry():
    code, out, _ = _run(["cases"])
    assert code == 0 and "plu_linear" in out and "planar" in out
