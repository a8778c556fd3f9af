"""The conformance kit: the committed vectors, their encoding, and the checker checked.

The wrong implementations live in ``tests/conformance_wrong.py``; each is caught by the
check that its error breaks. ``NfrefWrapper`` runs nfref's own classes: that it passes
shows the checker's plumbing is right, not that an independent implementation agrees.
"""

import hashlib
import json

import numpy as np
import pytest

import conformance_wrong as cw
import nfref
from nfref.conformance import check, load, load_index
from nfref.conformance.check import ImplementationError
from nfref.conformance.vectors import (SCHEMA_VERSION, VECTOR_DIR, decode, dumps, encode,
                                       generate, registered_cases)
from nfref.registry import CASES, FLOWS, TRANSFORMERS
from nfref.report.cli import main

# drift test: values to 1e-12 relative, absolute below magnitude 1 (docs/vectors.md, sec. 5)
DRIFT_RTOL, DRIFT_FLOOR = 1e-12, 1.0


def _failed(result, name):
    return [r for r in result.rows if r.check == name and not r.passed]


def _passed(result, name):
    rows = [r for r in result.rows if r.check == name]
    return bool(rows) and all(r.passed for r in rows)


# ---------------------------------------------------------------------- the vectors
def test_index_lists_every_registered_case():
    index = load_index()
    registered = set(CASES) | set(TRANSFORMERS) | set(FLOWS)
    assert set(index["registered_cases"]) == registered
    assert set(index["cases"]) == registered
    assert index["schema_version"] == SCHEMA_VERSION
    assert index["nfref_version"] == nfref.__version__
    for name, (kind, dims) in registered_cases().items():
        assert index["cases"][name]["kind"] == kind
        assert index["cases"][name]["dims"] == list(dims)
        assert sorted(index["cases"][name]["files"], key=int) == [str(d) for d in dims]


def test_committed_files_match_their_sha256_and_hold_no_nan():
    index = load_index()

    def refuse(token):
        raise AssertionError(f"non-finite constant {token} in a vector file")
    for entry in index["cases"].values():
        for f in entry["files"].values():
            text = (VECTOR_DIR / f["file"]).read_text(encoding="utf-8")
            assert hashlib.sha256(text.encode()).hexdigest() == f["sha256"], f["file"]
            json.loads(text, parse_constant=refuse)


def _diff(a, b, path=""):
    """Structural differences and float mismatches beyond the drift bound."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} vs {sorted(b)}"
        return [m for k in b for m in _diff(a[k], b[k], f"{path}.{k}")]
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), f"{path}: list length"
        return [m for i, (x, y) in enumerate(zip(a, b)) for m in _diff(x, y, f"{path}[{i}]")]
    if isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        if b.dtype != np.float64:
            return [] if np.array_equal(a, b) else [f"{path}: differs"]
        excess = np.abs(a - b) - DRIFT_RTOL * np.maximum(np.abs(b), DRIFT_FLOOR)
        return [f"{path}: {np.max(excess):.3e} over"] if np.any(excess > 0) else []
    if isinstance(b, float):
        ok = abs(a - b) <= DRIFT_RTOL * max(abs(b), DRIFT_FLOOR)
        return [] if ok else [f"{path}: {a!r} vs {b!r}"]
    assert a == b, f"{path}: {a!r} vs {b!r}"
    return []


def test_regenerated_vectors_match_the_committed_ones():
    """Regenerate every file in memory: the index's structure exactly (every field but the
    SHA-256 of each file, which changes with the last bit of any value), every value to
    1e-12 relative (absolute for entries below 1 in magnitude: the vectors' quantities are
    of order 1, so a smaller entry is a cancellation whose rounding is absolute; another
    BLAS may round differently). Regenerate the committed set with ``python -m nfref
    vectors`` when the numerics change on purpose."""
    index, texts = generate()
    committed = load_index()

    def strip(ix):
        ix = json.loads(json.dumps(ix))
        for c in ix["cases"].values():
            for f in c["files"].values():
                f.pop("sha256")
        return ix
    assert strip(index) == strip(committed), ("the index's structure changed: regenerate "
                                              "the set with python -m nfref vectors")
    problems = []
    for fname, text in texts.items():
        old = decode(json.loads((VECTOR_DIR / fname).read_text(encoding="utf-8")))
        problems += [f"{fname}{p}" for p in _diff(decode(json.loads(text)), old)]
    assert not problems, ("values drifted beyond 1e-12 (regenerate with python -m nfref "
                          "vectors if the change is meant):\n" + "\n".join(problems[:20]))


def test_float_encoding_round_trips_exactly():
    tricky = np.array([0.1 + 0.2, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1e308,
                       np.nextafter(1.0, 2.0), -np.pi, 123456789.12345679, 2.0 ** -1074])
    rng = np.random.default_rng(0)
    values = np.concatenate([tricky, rng.standard_normal(1000) * 10.0 ** rng.integers(
        -300, 300, 1000)])
    back = decode(json.loads(dumps({"a": values})))["a"]
    assert back.dtype == np.float64
    assert np.array_equal(back.view(np.int64), values.view(np.int64))   # every bit
    # a committed file decodes and re-encodes to the same text: nothing is lost on reading
    text = (VECTOR_DIR / load_index()["cases"]["maf_spline"]["files"]["3"]["file"]).read_text()
    assert dumps(decode(json.loads(text))) == text


def test_encoding_refuses_non_finite_values():
    for bad in (np.array([1.0, np.nan]), np.array([np.inf]), float("nan")):
        with pytest.raises(ValueError, match="finite"):
            encode(bad)


def test_vector_file_fields():
    doc = load("planar", 2)
    assert doc["case"] == "planar" and doc["dim"] == 2 and doc["kind"] == "transform"
    assert doc["forward"]["u"].shape == (doc["n"], 2)
    assert doc["jacobian"].shape == (doc["n"], 2, 2)
    assert set(doc["params"]) == {"w", "rho", "b"}
    assert set(doc["forward_vjp"]["gparams"]) == {"w", "rho", "b"}
    # rho_hat of docs/vectors.md sec. 2.1, from the raw parameters written in the file
    w, rho = doc["params"]["w"], doc["params"]["rho"]
    s = w @ rho
    rho_hat = rho + (np.logaddexp(0.0, s) - 1.0 - s) * w / (w @ w)
    assert np.allclose(doc["constrained"]["rho_hat"], rho_hat, rtol=1e-14, atol=1e-15)
    maf = load("maf_affine_h8x8_reversed", 3)
    assert [m.shape for m in maf["config"]["masks"]] == [(3, 8), (8, 8), (8, 6)]
    assert maf["config"]["degrees"][0].tolist() == [3, 2, 1]
    cdf = load("gaussian_cdf", 2)
    assert set(cdf["inverse_cdf"]) == {"G", "Q", "J_G"}
    assert np.all(np.triu(cdf["inverse_cdf"]["J_G"][0], 1) == 0)
    flow = load("flow_diagonal_normal_planar", 2)
    assert set(flow["nll_grad"]) == {"base.loc", "base.log_scale", "transform.w",
                                     "transform.rho", "transform.b"}


# ---------------------------------------------------------------------- the checker, correct
@pytest.mark.parametrize("case", ["planar", "maf_spline", "spline", "umnn",
                                  "flow_diagonal_normal_planar", "gaussian_cdf",
                                  "coupling_affine_h8x8_flip"])
def test_nfref_wrapper_passes(case):
    """nfref's own classes in the checker's interface (not an independent implementation)."""
    dims = [min(CASES.get(case, TRANSFORMERS.get(case, FLOWS.get(case))).dims[-1], 3)]
    result = check(cw.NfrefWrapper(), case, dims=dims)
    assert result.ok, str(result)
    assert len(result.rows) >= (3 if case.startswith("flow") else 12)


def test_planar_from_the_formulas_passes():
    result = check(cw.planar_forward, "planar")
    assert result.ok, str(result)
    assert _passed(result, "vectors: forward x")
    assert _passed(result, "self: logdet vs log|det| of FD Jacobian")


def test_result_prints_as_a_table():
    result = check(cw.WrongSignLogdet(), "radial", dims=[2], self_consistency=False)
    text = str(result)
    assert "FAILED" in text and "got" in text and "expected" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert not result.ok and result.failures


# ---------------------------------------------------------------------- the checker, wrong
def test_catches_logdet_with_the_wrong_sign():
    result = check(cw.WrongSignLogdet(), "radial", dims=[2, 3])
    assert _failed(result, "vectors: forward logdet")
    assert _failed(result, "self: logdet vs log|det| of FD Jacobian")
    assert _failed(result, "self: inverse logdet = -forward logdet")
    assert _passed(result, "vectors: forward x")
    worst = _failed(result, "vectors: forward logdet")[0].worst
    assert "got" in worst and "expected" in worst


def test_catches_a_transposed_jacobian():
    result = check(cw.TransposedJacobian(), "linear", dims=[3])
    assert _failed(result, "vectors: jacobian")
    assert _failed(result, "self: jacobian vs FD (relative per point)")


def test_catches_a_gradient_off_by_1e_6_relative():
    result = check(cw.GradientOff(), "plu_linear", dims=[3])
    rows = _failed(result, "vectors: forward VJP params")
    assert rows and 0.5e-6 < rows[0].error < 2e-6
    assert _passed(result, "vectors: forward VJP input")


def test_catches_an_inverse_right_only_near_zero():
    result = check(cw.InverseNearZero(), "planar", dims=[2])
    assert _failed(result, "vectors: inverse u")
    assert _failed(result, "self: round trip (absolute)")
    assert _passed(result, "vectors: forward x")


def test_catches_a_parameter_mapping_without_softplus():
    result = check(cw.planar_forgets_softplus, "planar")
    assert _failed(result, "vectors: forward x")
    # the map is self-consistent (logdet of its own Jacobian): only the vectors catch it
    assert _passed(result, "self: logdet vs log|det| of FD Jacobian")


def test_catches_a_made_mask_with_one_forbidden_connection():
    result = check(cw.LeakyMask(), "iaf_affine_h8x8_reversed", dims=[3])
    rows = _failed(result, "self: Jacobian zero pattern (FD)")
    assert rows and "autoregressive order" in rows[0].worst
    assert _failed(result, "vectors: forward x")
    # the same connection left closed: the pattern holds
    assert _passed(check(cw.NfrefWrapper(), "iaf_affine_h8x8_reversed", dims=[3]),
                   "self: Jacobian zero pattern (FD)")


# ---------------------------------------------------------------------- bad use
def test_unknown_case_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown case 'plnar'.*planar"):
        check(cw.planar_forward, "plnar")


def test_unsupported_dimension_is_refused():
    with pytest.raises(ValueError, match=r"d in \[1, 2, 3\]"):
        check(cw.NfrefWrapper(), "umnn", dims=[5])


def test_wrong_output_shape_names_the_output():
    with pytest.raises(ImplementationError,
                       match=r"forward output logdet has shape \(4, 1\); expected \(4,\)"):
        check(cw.WrongShape(), "radial", dims=[2])


def test_implementation_needs_a_callable():
    with pytest.raises(ValueError, match="at least one"):
        check(object(), "planar")
    with pytest.raises(ValueError, match="unknown entries"):
        check({"forwrd": cw.planar_forward}, "planar")


# ---------------------------------------------------------------------- command line
def test_cli_check_exit_status(capsys):
    assert main(["check", "conformance_wrong:NfrefWrapper", "--case", "radial",
                 "--dim", "2"]) == 0
    assert "all passed" in capsys.readouterr().out
    assert main(["check", "conformance_wrong:WrongSignLogdet", "--case", "radial",
                 "--dim", "2", "--no-fd"]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["check", "conformance_wrong:WrongShape", "--case", "radial",
                 "--dim", "2"]) == 1
    assert "expected (4,)" in capsys.readouterr().err
    assert main(["check", "conformance_wrong:NfrefWrapper", "--case", "plnar"]) == 2
    assert "expected one of" in capsys.readouterr().err
    assert main(["check", "conformance_wrong:missing", "--case", "radial"]) == 2
    assert main(["check", "no_colon", "--case", "radial"]) == 2


def test_cli_vectors_writes_a_set(tmp_path, capsys):
    assert main(["vectors", "--out", str(tmp_path)]) == 0
    index = load_index(tmp_path)
    assert index["registered_cases"] == load_index()["registered_cases"]
    files = {f["file"] for c in index["cases"].values() for f in c["files"].values()}
    assert files == {p.name for p in tmp_path.glob("*__d*.json")}
    assert "wrote" in capsys.readouterr().out
