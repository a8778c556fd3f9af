"""One contract suite over every row of the transformer table (``nfref.registry.TRANSFORMERS``).

Each row is tried at ``n = 7`` and ``d = 1, 2, 3`` with ``xi = identity_xi + xi_scale N(0, 1)``
and ``t = t_scale N(0, 1)``, seeded by ``case_seed(name, d)``. The checks: round trip, the
log-derivative against central differences of the value, ``derivative = exp(logderiv)``, both
pullbacks against finite differences (w.r.t. ``t`` or ``y`` and ``xi``), the inverse's
log-derivative at the recovered point, strict monotonicity, the identity, the spline's knots
and boundaries, validation of shapes and finiteness, overflow, and no mutation of inputs.
"""

import numpy as np
import pytest

from nfref.autoregressive.transformers import Inverted, RationalQuadraticSpline, Transformer
from nfref.gradcheck import check_gradient
from nfref.numerics import implicit_inverse_pullback
from nfref.registry import TRANSFORMERS, case_seed

N = 7
PAIRS = [(name, d) for name in TRANSFORMERS for d in (1, 2, 3)]
IDS = [f"{name}-d{d}" for name, d in PAIRS]


class Setup:
    """A row's transformer with its draws: ``f, t (n, d), xi (n, d, k), y = f(t)``, two
    cotangents ``gy, gld`` and the generator for anything else."""

    def __init__(self, name, d):
        self.name, self.case = name, TRANSFORMERS[name]
        self.rng = np.random.default_rng(case_seed(name, d))
        self.f = self.case.make()
        k = self.f.n_params
        self.xi = self.f.identity_xi((N, d)) + self.case.xi_scale * self.rng.standard_normal(
            (N, d, k))
        self.t = self.case.t_scale * self.rng.standard_normal((N, d))
        self.y, self.ld = self.f.forward(self.t, self.xi)
        self.gy, self.gld = self.rng.standard_normal((2, N, d))


@pytest.fixture(params=PAIRS, ids=IDS)
def s(request):
    return Setup(*request.param)


def _spline(f):
    """The spline inside a row (itself or the wrapped one), or None."""
    inner = f.inner if isinstance(f, Inverted) else f
    return inner if isinstance(inner, RationalQuadraticSpline) else None


SPLINE_PAIRS = [p for p in PAIRS if _spline(TRANSFORMERS[p[0]].make()) is not None]
OWN_INVERSE_PAIRS = [p for p in PAIRS if type(TRANSFORMERS[p[0]].make())._inverse_and_vjp
                     is not Transformer._inverse_and_vjp]


@pytest.fixture(params=SPLINE_PAIRS, ids=[f"{n}-d{d}" for n, d in SPLINE_PAIRS])
def spline_setup(request):
    return Setup(*request.param)


@pytest.fixture(params=OWN_INVERSE_PAIRS, ids=[f"{n}-d{d}" for n, d in OWN_INVERSE_PAIRS])
def own_inverse(request):
    return Setup(*request.param)


# ---------------------------------------------------------------------- values
def test_round_trip_and_the_inverse_logderiv_at_the_recovered_point(s):
    t2, ld2 = s.f.inverse(s.y, s.xi)
    assert np.max(np.abs(t2 - s.t)) <= s.case.roundtrip_tol
    # the inverse's log-derivative has the forward sign and is the forward's at its output
    _, ld_at = s.f.forward(t2, s.xi)
    assert np.max(np.abs(ld2 - ld_at) / (1.0 + np.abs(ld_at))) <= 1e-10
    t3, ld3, _ = s.f.inverse_and_vjp(s.y, s.xi)
    np.testing.assert_array_equal(t3, t2)
    np.testing.assert_array_equal(ld3, ld2)


def test_logderiv_against_central_differences_of_the_value(s):
    h = 1e-6 * (1.0 + np.abs(s.t))
    fd = (s.f.forward(s.t + h, s.xi)[0] - s.f.forward(s.t - h, s.xi)[0]) / (2.0 * h)
    assert np.max(np.abs(fd / np.exp(s.ld) - 1.0)) < 1e-6


def test_derivative_is_exp_logderiv_and_the_wrappers_are_the_passes(s):
    np.testing.assert_array_equal(s.f.derivative(s.t, s.xi), np.exp(s.ld))
    y, ld, back = s.f.forward_and_vjp(s.t, s.xi)
    np.testing.assert_array_equal(y, s.y)
    np.testing.assert_array_equal(ld, s.ld)
    for a, b in zip(back(s.gy, s.gld), s.f.forward_vjp(s.t, s.xi, s.gy, s.gld)):
        np.testing.assert_array_equal(a, b)
    t, ld, back = s.f.inverse_and_vjp(s.y, s.xi)
    np.testing.assert_array_equal((t, ld), s.f.inverse(s.y, s.xi))
    for a, b in zip(back(s.gy, s.gld), s.f.inverse_vjp(s.y, s.xi, s.gy, s.gld)):
        np.testing.assert_array_equal(a, b)


def test_strictly_increasing_on_a_sorted_grid(s):
    ts = s.case.t_scale
    grid = np.linspace(-3.0 * ts, 3.0 * ts, 801)[:, None]                # (801, 1)
    d = s.t.shape[1]
    t = np.repeat(grid, d, axis=1)                                       # (801, d)
    xi = np.broadcast_to(s.xi[0], t.shape + (s.f.n_params,))            # one xi per column
    y, ld = s.f.forward(t, xi)
    assert np.all(np.diff(y, axis=0) > 0)
    assert np.all(np.isfinite(ld))


def test_identity_xi_gives_the_identity(s):
    t = np.concatenate([s.t, np.linspace(-3, 3, 7 * s.t.shape[1]).reshape(7, -1)])
    ident = s.f.identity_xi(t.shape)
    y, ld = s.f.forward(t, ident)
    assert np.max(np.abs(y - t) / (1.0 + np.abs(t))) < 1e-13
    assert np.max(np.abs(ld)) < 1e-13
    t2, ld2 = s.f.inverse(t, ident)
    assert np.max(np.abs(t2 - t) / (1.0 + np.abs(t))) < 1e-13
    assert np.max(np.abs(ld2)) < 1e-13


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_pullback_against_finite_differences(s, direction):
    key, point = ("t", s.t) if direction == "forward" else ("y", s.y)
    run = s.f.forward_and_vjp if direction == "forward" else s.f.inverse_and_vjp
    apply = s.f.forward if direction == "forward" else s.f.inverse
    _, _, back = run(point, s.xi)
    g_in, gxi = back(s.gy, s.gld)

    def scalar(p):
        out, ld = apply(p[key], p["xi"])
        return float(np.sum(s.gy * out) + np.sum(s.gld * ld))
    res = check_gradient(scalar, {key: g_in, "xi": gxi}, {key: point, "xi": s.xi}, bound=1e-6,
                         name=f"{s.name} {direction} pullback")
    assert res.passed, str(res)


def test_own_inverse_pullback_equals_the_generic_implicit_rule(own_inverse):
    s = own_inverse
    t, ld, back = s.f.inverse_and_vjp(s.y, s.xi)
    _, _, fwd = s.f.forward_and_vjp(t, s.xi)
    inv_slope = np.exp(-ld)
    generic = implicit_inverse_pullback(fwd, lambda v: v * inv_slope)(s.gy, -s.gld)
    for a, b in zip(back(s.gy, s.gld), generic):
        scale = np.max(np.abs(b), axis=0, keepdims=True) + 1e-300
        assert np.max(np.abs(a - b) / scale) < 1e-10


# ---------------------------------------------------------------------- spline knots, tails
def test_spline_knots_and_boundaries(spline_setup):
    s = spline_setup
    spline = _spline(s.f)
    xk, yk, _ = spline.knots(s.xi)                                       # (n, d, K+1)
    knots = yk if isinstance(s.f, Inverted) else xk                      # where s.f bends
    B = spline.bound
    xi = np.repeat(s.xi, knots.shape[-1], axis=1)                        # (n, d (K+1), k)
    at = knots.reshape(N, -1)
    left, right = np.nextafter(at, -np.inf), np.nextafter(at, np.inf)
    (y_l, ld_l), (y_0, ld_0), (y_r, ld_r) = (s.f.forward(v, xi) for v in (left, at, right))
    scale = 1.0 + np.abs(y_0)
    assert np.max(np.abs(y_r - y_l) / scale) < 1e-12                     # value continuous
    assert np.all(y_l <= y_0) and np.all(y_0 <= y_r)                     # and monotone there
    # derivative continuous: each one-ulp neighbour is the knot's derivative plus that side's
    # curvature times one ulp (a narrow steep bin has curvature 1e3: 1e-12 over one ulp)
    h = 1e-8 * (1.0 + np.abs(at))
    d_l, d_0, d_r = np.exp(ld_l), np.exp(ld_0), np.exp(ld_r)
    curv_l = (d_0 - s.f.derivative(at - h, xi)) / h
    curv_r = (s.f.derivative(at + h, xi) - d_0) / h
    assert np.max(np.abs(d_l - d_0 - curv_l * (left - at)) / d_0) < 1e-12
    assert np.max(np.abs(d_r - d_0 - curv_r * (right - at)) / d_0) < 1e-12
    assert np.max(np.abs(d_r - d_l) / d_0) < 1e-12 + np.max(
        (np.abs(curv_l) + np.abs(curv_r)) * (right - left) / d_0)
    # the ends: derivative 1 on both sides of +-B; the tails are the identity, logderiv 0
    ends = np.array([-B, B])
    for v in (np.nextafter(ends, 0.0), ends, np.nextafter(ends, 2 * ends)):
        t = np.broadcast_to(v, (N, 2))
        _, ld = s.f.forward(t, s.xi[:, :1].repeat(2, axis=1))
        assert np.max(np.abs(ld)) < 1e-12
    tails = np.array([-1e300, -1e6, -2.0 * B, -B * (1 + 1e-12), B * (1 + 1e-12), 2.0 * B, 1e6,
                      1e300])
    t = np.broadcast_to(tails, (N, tails.size))
    xi = np.repeat(s.xi[:, :1], tails.size, axis=1)
    y, ld = s.f.forward(t, xi)
    assert np.all(y == t) and np.all(ld == 0.0)
    t2, ld2 = s.f.inverse(t, xi)
    assert np.all(t2 == t) and np.all(ld2 == 0.0)
    _, gxi = s.f.forward_vjp(t, xi, np.ones(t.shape), np.ones(t.shape))
    assert np.all(gxi == 0.0)                                            # tails: no xi-gradient


# ---------------------------------------------------------------------- validation
def test_wrong_shapes_are_refused(s):
    f, t, xi = s.f, s.t, s.xi
    bad = [(t[0], xi[0]), (t, xi[..., :-1]), (t, np.concatenate([xi, xi], axis=1)),
           (t[:0], xi[:0]), (t[..., None], xi[..., None])]
    for a, b in bad:
        for method in ("forward", "inverse", "forward_and_vjp", "inverse_and_vjp"):
            with pytest.raises(ValueError, match="shape"):
                getattr(f, method)(a, b)
    for run, point in ((f.forward_and_vjp, t), (f.inverse_and_vjp, s.y)):
        back = run(point, xi)[2]
        for g in (s.gy[:, :1], s.gy.ravel(), s.gy[:-1]):
            if g.shape == point.shape:
                continue
            with pytest.raises(ValueError, match="shape"):
                back(g, s.gld)
            with pytest.raises(ValueError, match="shape"):
                back(s.gy, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_parameters_and_cotangents_are_refused(s, bad):
    f = s.f
    t_bad = s.t.copy()
    t_bad[-1, 0] = bad
    xi_bad = s.xi.copy()
    xi_bad[0, -1, -1] = bad
    for method, point in (("forward", s.t), ("inverse", s.y), ("forward_and_vjp", s.t),
                          ("inverse_and_vjp", s.y), ("derivative", s.t)):
        with pytest.raises(ValueError, match="finite"):
            getattr(f, method)(t_bad, s.xi)
        with pytest.raises(ValueError, match="finite"):
            getattr(f, method)(point, xi_bad)
    g_bad = s.gy.copy()
    g_bad[0, 0] = bad
    for run, point in ((f.forward_and_vjp, s.t), (f.inverse_and_vjp, s.y)):
        back = run(point, s.xi)[2]
        with pytest.raises(ValueError, match="finite"):
            back(g_bad, s.gld)
        with pytest.raises(ValueError, match="finite"):
            back(s.gy, g_bad)


def test_lists_are_taken_and_non_real_inputs_and_cotangents_are_refused(s):
    f = s.f
    # nested lists are the same arrays
    for a, b in zip(f.forward(s.t.tolist(), s.xi.tolist()), f.forward(s.t, s.xi)):
        np.testing.assert_array_equal(a, b)
    bads = [("complex", lambda a: a + 1j), ("strings", lambda a: a.astype(str)),
            ("objects", lambda a: np.array([None] * a.size, dtype=object).reshape(a.shape))]
    for what, make in bads:
        for method, point in (("forward", s.t), ("inverse", s.y), ("forward_and_vjp", s.t),
                              ("inverse_and_vjp", s.y), ("derivative", s.t)):
            name = "t" if method in ("forward", "forward_and_vjp", "derivative") else "y"
            with pytest.raises(ValueError, match=f"{name}: expected"):
                getattr(f, method)(make(point), s.xi)
            with pytest.raises(ValueError, match="xi: expected"):
                getattr(f, method)(point, make(s.xi))
        for run, point, names in ((f.forward_and_vjp, s.t, ("gy", "gld")),
                                  (f.inverse_and_vjp, s.y, ("gt", "gld"))):
            back = run(point, s.xi)[2]
            with pytest.raises(ValueError, match=f"{names[0]}: expected"):
                back(make(s.gy), s.gld)
            with pytest.raises(ValueError, match=f"{names[1]}: expected"):
                back(s.gy, make(s.gld))


def _overflow_inputs(name, f, d):
    """Finite ``t`` and ``xi`` whose value (or its solve) is beyond float64, for a direction."""
    t, xi = np.ones((2, d)), f.identity_xi((2, d))
    if name == "affine":
        xi[..., 1] = 800.0                                   # scale e^800
        return [("forward", t, xi), ("inverse", t, -xi)]
    if name == "bounded_affine":
        xi[..., 0] = 1e308                                   # shift near the largest float
        return [("forward", np.full((2, d), 1e308), xi)]
    if name in ("umnn", "inverted_umnn"):
        xi[..., 1] = 800.0                                   # g = e^800 everywhere
        return [("forward" if name == "umnn" else "inverse", t, xi)]
    if name == "sos":
        xi[..., 1:] = 1e200                                  # squares of 1e200
        return [("forward", t, xi)]
    return []


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_overflow_raises_and_never_returns_inf(name):
    case = TRANSFORMERS[name]
    f = case.make()
    rows = _overflow_inputs(name, f, 2)
    if not rows:                                             # bounded maps: huge t is the tail
        t = np.array([[-1e308, 1e308]])
        y, ld = f.forward(t, f.identity_xi(t.shape) + 1.0)
        assert np.all(y == t) and np.all(ld == 0.0)
        return
    for method, t, xi in rows:
        with np.errstate(all="ignore"):
            with pytest.raises(ValueError, match="finite|float64"):
                getattr(f, method)(t, xi)
            with pytest.raises(ValueError, match="finite|float64"):
                getattr(f, method + "_and_vjp")(t, xi)


def test_inputs_are_not_mutated_and_pullbacks_hold_no_state(s):
    arrays = [s.t, s.y, s.xi, s.gy, s.gld]
    copies = [a.copy() for a in arrays]
    for run, point in ((s.f.forward_and_vjp, s.t), (s.f.inverse_and_vjp, s.y)):
        _, _, back = run(point, s.xi)
        first = back(s.gy, s.gld)
        back(2.0 * s.gy, -s.gld)
        again = back(s.gy, s.gld)
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
