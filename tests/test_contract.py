"""One contract suite over every row of the transform table (``nfref.registry.CASES``).

The checks and their bounds are :data:`nfref.gradcheck.CONTRACT` (and ``docs/contract.md``);
each case's seed is a stable hash of its name and dimension (``nfref.registry.case_seed``).
"""

import numpy as np
import pytest

from nfref.distributions import Flow, StandardNormal, UniformCube
from nfref.gradcheck import (CONTRACT, check_jacobian, check_logdet, check_normalization,
                             check_roundtrip, check_vjp)
from nfref.registry import CASES, case_seed

PAIRS = [(name, d) for name, case in CASES.items() for d in case.dims]
IDS = [f"{name}-d{d}" for name, d in PAIRS]
BOUND = {k: v[0] for k, v in CONTRACT.items()}


@pytest.fixture(params=PAIRS, ids=IDS)
def setup(request):
    name, d = request.param
    case = CASES[name]
    rng = np.random.default_rng(case_seed(name, d))
    t = case.make(d, rng)
    u = case.draw_inputs(rng, 9, d)
    return case, t, u


def test_registry_rows_are_distinct_and_seeds_differ():
    assert len(CASES) >= 40
    seeds = {case_seed(name, d) for name, d in PAIRS}
    assert len(seeds) == len(PAIRS)


def test_round_trip(setup):
    case, t, u = setup
    res = check_roundtrip(t, u, bound=case.roundtrip_tol)
    assert res.passed, str(res)


def test_logdet_against_slogdet_and_inverse(setup):
    _, t, u = setup
    res = check_logdet(t, u, bound=BOUND["log-determinant"])
    assert res.passed, str(res)


def test_jacobian_against_finite_differences(setup):
    _, t, u = setup
    res = check_jacobian(lambda v: t.forward(v)[0], t.jacobian(u), u, bound=BOUND["jacobian"])
    assert res.passed, str(res)


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_pullback_against_finite_differences(setup, direction):
    _, t, u = setup
    res = check_vjp(t, u, direction, bound=BOUND[f"{direction} VJP"])
    assert res.passed, str(res)
    assert set(res.analytic) == {"input", *t.params}
    assert res.details["pullback reused"] == 0.0


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_vjp_wrapper_equals_the_pullback(setup, direction):
    _, t, u = setup
    point = u if direction == "forward" else t.forward(u)[0]
    run, vjp = ((t.forward_and_vjp, t.forward_vjp) if direction == "forward"
                else (t.inverse_and_vjp, t.inverse_vjp))
    out, ld, pullback = run(point)
    ref_out, ref_ld = (t.forward if direction == "forward" else t.inverse)(point)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(ld, ref_ld)
    rng = np.random.default_rng(5)
    g, gl = rng.standard_normal(point.shape), rng.standard_normal(len(point))
    a_in, a_par = pullback(g, gl)
    b_in, b_par = vjp(point, g, gl)
    np.testing.assert_array_equal(a_in, b_in)
    assert a_par.keys() == b_par.keys() == t.params.keys()
    for k in a_par:
        np.testing.assert_array_equal(a_par[k], b_par[k])


def test_density_integrates_to_one(setup):
    case, t, _ = setup
    if t.dim > 2:
        pytest.skip("quadrature check is for d = 1 and 2")
    base = UniformCube(t.dim) if case.base == "uniform" else StandardNormal(t.dim)
    flow = Flow(base, t)
    res = check_normalization(flow.logpdf, lambda v: t.forward(v)[0], case.base, t.dim,
                              bound=BOUND["density integrates to 1"],
                              n_grid=case.density_grid if t.dim == 2 else None)
    assert res.passed, str(res)


def test_batch_equals_one_at_a_time_and_inputs_unchanged(setup):
    # BLAS and LAPACK pick different kernels for a batch of 9 and a batch of 1, so the two
    # agree to a few units in the last place, not bit for bit: the bound is 1e-13 (relative
    # and absolute), or the round-trip bound where the inverse is a numerical solve.
    case, t, u = setup
    tol = max(1e-13, case.roundtrip_tol if t.numerical_inverse else 0.0)
    same = dict(rtol=tol, atol=tol)
    u_copy = u.copy()
    x, ld = t.forward(u)
    x_copy = x.copy()
    u2, ld2 = t.inverse(x)
    jac = t.jacobian(u)
    for i in range(u.shape[0]):
        xi, ldi = t.forward(u[i:i + 1])
        np.testing.assert_allclose(xi[0], x[i], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(ldi[0], ld[i], rtol=1e-13, atol=1e-13)
        ui, ld2i = t.inverse(x[i:i + 1])
        np.testing.assert_allclose(ui[0], u2[i], **same)
        np.testing.assert_allclose(ld2i[0], ld2[i], **same)
        np.testing.assert_allclose(t.jacobian(u[i:i + 1])[0], jac[i], rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(u, u_copy)
    np.testing.assert_array_equal(x, x_copy)


def test_params_are_float64_and_pullback_keys_match(setup):
    _, t, u = setup
    assert all(v.dtype == np.float64 for v in t.params.values())
    _, _, pullback = t.forward_and_vjp(u)
    _, gp = pullback(np.ones_like(u), np.ones(u.shape[0]))
    assert {k: v.shape for k, v in gp.items()} == {k: v.shape for k, v in t.params.items()}


def test_numerical_inverse_is_derived_not_assigned(setup):
    _, t, _ = setup
    assert "numerical_inverse" not in vars(t)
    assert isinstance(t.numerical_inverse, bool)


@pytest.mark.parametrize("method", ["forward", "inverse", "jacobian", "forward_vjp", "inverse_vjp",
                                    "forward_and_vjp", "inverse_and_vjp"])
def test_bad_input_is_refused(setup, method):
    _, t, u = setup
    f = getattr(t, method)
    if method.startswith("inverse"):
        u = t.forward(u)[0]
    d = t.dim
    with pytest.raises(ValueError, match=rf"shape \(n, {d}\)"):
        f(u[0])                                           # a single point without batch axis
    with pytest.raises(ValueError, match=rf"shape \(n, {d}\)"):
        f(np.zeros((3, d + 1)))                           # wrong dimension
    for bad in (np.nan, np.inf, -np.inf):
        v = u.copy()
        v[0, -1] = bad
        with pytest.raises(ValueError, match="finite"):
            f(v)


def test_bad_cotangents_are_refused(setup):
    _, t, u = setup
    _, _, pullback = t.forward_and_vjp(u)
    n, d = u.shape
    with pytest.raises(ValueError, match="shape"):
        pullback(np.ones((n, d + 1)), np.ones(n))
    with pytest.raises(ValueError, match="shape"):
        pullback(np.ones((n, d)), np.ones(n + 1))
    bad = np.ones((n, d))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        pullback(bad, np.ones(n))


def test_non_finite_parameter_is_refused(setup):
    _, t, u = setup
    if not t.params:
        pytest.skip("no parameters")
    key = next(iter(t.params))
    saved = t.params[key].copy()
    t.params[key].flat[0] = np.nan
    try:
        with pytest.raises(ValueError, match=f"parameter '{key}'.*finite"):
            t.forward(u)
    finally:
        t.params[key][...] = saved
