"""Independent implementations, written from docs/vectors.md alone, pass the checker.

``tests/independent/`` re-implements planar, radial, the affine MAF and IAF with their
MADE, and the rational-quadratic spline (alone and inside a MAF and an IAF) in plain NumPy
from the schema document's formulas, without importing nfref. Each passes
:func:`nfref.conformance.check` at every dimension of its case, with every check the
checker has for the callables given (vectors and self-consistency), which shows the
document and the vector files are enough to reproduce nfref's numbers from outside. The
constrained values and the MADE masks are also compared with the files on their own, so a
wrong parameterization would be named before the map that uses it.
"""

import ast
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from independent.made import degrees, masks
from independent.maf_affine import IAFAffine, MAFAffine
from independent.planar import Planar
from independent.radial import Radial
from independent.rq_spline import IAFSpline, MAFSpline, RQSpline, Spline
from nfref.conformance import check, load_index

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
VECTORS = REPO / "nfref" / "conformance" / "vectors"

CASES = [
    (Planar, "planar"), (Planar, "planar_raw"), (Radial, "radial"),
    (MAFAffine, "maf_affine"), (MAFAffine, "maf_affine_relu_h8"),
    (MAFAffine, "maf_affine_h8x8_reversed"), (MAFAffine, "maf_affine_h16_random"),
    (Spline, "spline"), (Spline, "spline_wide"),
    (MAFSpline, "maf_spline"), (MAFSpline, "maf_spline_wide"),
    (IAFAffine, "iaf_affine"), (IAFAffine, "iaf_affine_h16_random"),
    (IAFAffine, "iaf_affine_h8x8_reversed"), (IAFSpline, "iaf_spline"),
]

# every check the checker runs for an implementation with forward, inverse, both VJPs and
# the Jacobian (the zero-pattern row only where the case has a structural zero)
VECTOR_ROWS = {"vectors: forward x", "vectors: forward logdet", "vectors: inverse u",
               "vectors: inverse logdet", "vectors: jacobian", "vectors: forward VJP input",
               "vectors: forward VJP params", "vectors: inverse VJP input",
               "vectors: inverse VJP params"}
SELF_ROWS = {"self: round trip (absolute)", "self: logdet vs log|det| of FD Jacobian",
             "self: jacobian vs FD (relative per point)", "self: forward VJP vs FD",
             "self: inverse VJP vs FD"}


def _doc(case, d):
    """A vector file read with the json module alone, arrays decoded by their shape."""
    def decode(obj):
        if isinstance(obj, dict) and set(obj) == {"data", "dtype", "shape"}:
            return np.array(obj["data"], dtype=obj["dtype"]).reshape(obj["shape"])
        if isinstance(obj, dict):
            return {k: decode(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [decode(v) for v in obj]
        return obj
    return decode(json.loads((VECTORS / f"{case}__d{d}.json").read_text(encoding="utf-8")))


def _dims(case):
    return load_index()["cases"][case]["dims"]


@pytest.mark.parametrize("impl, case", CASES, ids=[c for _, c in CASES])
def test_independent_implementation_passes_every_check(impl, case):
    result = check(impl(), case)
    assert result.ok, str(result)
    dims = _dims(case)
    assert sorted({r.dim for r in result.rows}) == sorted(dims)
    for d in dims:
        names = {r.check for r in result.rows if r.dim == d}
        assert VECTOR_ROWS <= names, sorted(VECTOR_ROWS - names)
        assert SELF_ROWS <= names, sorted(SELF_ROWS - names)
        if case.startswith(("maf", "iaf")) and d > 1:
            assert "self: Jacobian zero pattern (FD)" in names


def test_independent_modules_do_not_import_nfref():
    for path in sorted((TESTS / "independent").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] if node.level == 0 else []
            else:
                continue
            assert not any(m == "nfref" or m.startswith("nfref.") for m in mods), \
                f"{path.name} imports {mods}"
        assert "docs/vectors.md" in (ast.get_docstring(tree) or ""), path.name


@pytest.mark.parametrize("case", ["maf_affine", "maf_affine_relu_h8", "maf_affine_h8x8_reversed",
                                  "maf_affine_h16_random", "maf_spline_wide"])
def test_made_degrees_and_masks_from_the_documented_rule_match_the_files(case):
    for d in _dims(case):
        cfg = _doc(case, d)["config"]
        k = cfg["transformer"]["n_params"]
        mine = degrees(cfg["degrees"][0], cfg["hidden_sizes"])
        assert len(mine) == len(cfg["degrees"])
        for a, b in zip(mine, cfg["degrees"]):
            np.testing.assert_array_equal(a, b)
        got = masks(cfg["degrees"][0], cfg["hidden_sizes"], k)
        assert len(got) == len(cfg["masks"])
        for a, b in zip(got, cfg["masks"]):
            np.testing.assert_array_equal(a, b)


def _close(got, expected):
    """The checker's measure, max |got - expected| / max(|expected|, 1), within 1e-12."""
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    assert got.shape == expected.shape
    err = np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1.0))
    assert err <= 1e-12, err


@pytest.mark.parametrize("case", ["planar", "planar_raw"])
def test_planar_constrained_values_match_the_files(case):
    for d in _dims(case):
        doc = _doc(case, d)
        impl = Planar(doc["config"]["reparameterize"])
        *_, rho_hat, c = impl._constrained(doc["params"])
        _close(rho_hat, doc["constrained"]["rho_hat"])
        _close(c, doc["constrained"]["c"])


def test_radial_constrained_values_match_the_files():
    for d in _dims("radial"):
        doc = _doc("radial", d)
        _, _, _, alpha, gamma = Radial()._constrained(doc["params"])
        _close(alpha, doc["constrained"]["alpha"])
        _close(gamma - alpha, doc["constrained"]["beta"])


@pytest.mark.parametrize("case", ["spline", "spline_wide", "maf_spline"])
def test_spline_knots_and_derivatives_match_the_files(case):
    for d in _dims(case):
        doc = _doc(case, d)
        tr = RQSpline.from_config(doc["config"]["transformer"])
        xi = doc["params"]["xi"] if "xi" in doc["params"] else doc["constrained"]["xi"]
        X, Y, delta, *_ = tr.knots(xi, jac=False)
        _close(X, doc["constrained"]["knots_x"])
        _close(Y, doc["constrained"]["knots_y"])
        _close(delta, doc["constrained"]["derivatives"])


def test_cli_check_of_an_independent_implementation_exits_0():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    run = subprocess.run([sys.executable, "-m", "nfref", "check", "independent.radial:Radial",
                          "--case", "radial"], cwd=TESTS, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "60 checks, all passed" in run.stdout
