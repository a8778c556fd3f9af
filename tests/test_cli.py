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
    from nfref.report import claims
    from nfref.report.claims import Claim
    bad = Claim("a deliberately false identity", "nowhere", 1e-10, lambda: 1.0, module="s99_test")
    monkeypatch.setattr(claims, "all_claims", lambda: [bad])
    code, out, _ = _run(["report"])
    assert code == 1 and "FAIL" in out and "0 passed, 1 failed" in out


def test_bench_with_no_match_names_the_benchmarks():
    code, _, err = _run(["bench", "-k", "no-such-benchmark"])
    assert code == 2 and "contract_bounds" in err
    for name in ("table", "evaluations", "scaling", "memory"):
        assert name in err


def test_bench_exact_name_wins_and_options_reach_the_benchmark(monkeypatch):
    from nfref.report import cli
    calls = []

    def table(stream, rounds=None, batch=None):
        calls.append(("table", rounds, batch))

    def ktable(stream):
        calls.append(("ktable",))
    monkeypatch.setattr(cli, "all_benchmarks", lambda: {"ktable": ktable, "table": table})
    code, out, _ = _run(["bench", "-k", "table", "--rounds", "3", "--batch", "64"])
    assert code == 0 and calls == [("table", 3, 64)]
    assert "threads:" in out and "== table" in out and "== ktable" not in out
    calls.clear()
    code, _, _ = _run(["bench", "-k", "tab"])                 # no exact match: substring
    assert code == 0 and calls == [("ktable",), ("table", None, None)]


def test_bench_evaluations_counts_one_pass_and_one_pullback_per_layer():
    code, out, _ = _run(["bench", "-k", "evaluations", "--batch", "32"])
    assert code == 0, out
    line = next((ln for ln in out.splitlines() if ln.startswith("per layer per step:")), out)
    assert line.startswith("per layer per step: 1 pass, 1 pullback, 1 knots"), line
    assert "inside" not in line


def test_u1_gradient_matches_finite_differences():
    import numpy as np

    from nfref.gradcheck import check_gradient
    from nfref.report.bench import grad_log_u1, grad_u1, log_u1, u1
    z = np.random.default_rng(3).normal(0.0, 2.0, (40, 2))
    res = check_gradient(lambda v: float(np.sum(u1(v))), grad_u1(z), z, bound=1e-7)
    assert res.passed, res
    assert np.array_equal(log_u1(z), -u1(z)) and np.array_equal(grad_log_u1(z), -grad_u1(z))
    # the modes near z = (+-2, 0), on the ring: grad U1 is ~3e-9 there (the far component)
    modes = np.array([[2.0, 0.0], [-2.0, 0.0]])
    assert np.max(np.abs(grad_u1(modes))) < 1e-8
    assert np.all(u1(modes) < u1(np.array([[0.0, 2.0], [0.0, -2.0]])))
    assert np.all(np.isfinite(u1(np.zeros((1, 2))))) and np.all(grad_u1(np.zeros((1, 2))) == 0)


def test_cases_lists_the_registry():
    code, out, _ = _run(["cases"])
    assert code == 0 and "plu_linear" in out and "planar" in out
