"""Properties at the extremes of float64 (hypothesis).

Each property draws a transform (or transformer) with parameters pushed towards the edges of
what float64 represents -- spline bins of width 1e-3 of the range and knot derivatives up to
1e12, integrands with conditioner outputs up to 8 at |t| up to 1e4, planar layers next to
their singular hyperplane, radial layers at 1e-12 and 1e8 from their centre, inverse CDFs at
u = 1e-300 and u = 1 - 1e-16 -- and asserts one of two things:

* the answer is right: finite, the round trip within a bound scaled by the problem's
  conditioning, the log-determinant against ``numpy.linalg.slogdet`` of the explicit
  Jacobian (or an exact rational reference) within a bound scaled the same way;
* or a ``ValueError`` that says float64 cannot represent it (never NaN, never a wrong
  number).

Every bound says next to it where it comes from. The hypothesis profile (no deadline, a
derandomized search) is registered in ``tests/conftest.py``.
"""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from nfref.autoregressive import Coupling
from nfref.autoregressive.transformers import RationalQuadraticSpline, UMNN
from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, banana
from nfref.one_layer import Planar, Radial

EPS = np.finfo(float).eps

# ValueError messages that mean "float64 cannot represent this", per family
REFUSALS = ("cannot resolve", "float64", "not finite", "quadrature cells", "underflow")


def _refused(exc):
    return any(word in str(exc) for word in REFUSALS)


def _finite(*arrays):
    return all(np.all(np.isfinite(a)) for a in arrays)


# ---------------------------------------------------------------------- the spline
def _spline_case(draw):
    K = draw(st.integers(2, 8))
    bound = draw(st.sampled_from([0.5, 3.0, 100.0]))
    # widths and heights: logits from [-20, 20] give bins from the minimum (1e-3 of the range)
    # to nearly all of it; derivatives from the minimum 1e-3 up to 1e12
    logits = st.floats(-20.0, 20.0)
    uw = draw(st.lists(logits, min_size=K, max_size=K))
    uh = draw(st.lists(logits, min_size=K, max_size=K))
    ud = draw(st.lists(st.one_of(st.floats(-30.0, 30.0), st.floats(1e3, 1e12)),
                       min_size=K - 1, max_size=K - 1))
    return RationalQuadraticSpline(K, bound), np.array(uw + uh + ud)[None, None, :]


def _spline_points(f, xi, fractions):
    """Knots, their float neighbours, the bounds and just beyond, and points at the bin
    coordinates ``fractions`` (near 0 and 1 too) of every bin, sorted, shape (m, 1)."""
    xk = f.knots(xi)[0][0, 0]                                           # (K+1,)
    B = f.bound
    inner = xk[:-1, None] + np.outer(np.diff(xk), fractions)          # (K, f)
    pts = np.concatenate([xk, np.nextafter(xk, np.inf), np.nextafter(xk, -np.inf),
                          inner.ravel(), [-B * (1 + 1e-15), B * (1 + 1e-15), -2 * B, 2 * B]])
    return np.unique(pts)[:, None]


def _spline_exact(f, xi, x):
    """Value and derivative of the spline at the floats ``x`` in exact rational arithmetic
    from the float knots (the module docstring's formulas, written again here)."""
    xk, yk, dk = (np.asarray(v)[0, 0] for v in f.knots(xi))
    out_y, out_d = [], []
    for v in x[:, 0]:
        if v < xk[0] or v > xk[-1]:
            out_y.append(Fraction(v))
            out_d.append(Fraction(1))
            continue
        k = min(int(np.searchsorted(xk, v, side="right")) - 1, len(xk) - 2)
        x0, x1 = Fraction(xk[k]), Fraction(xk[k + 1])
        y0, y1 = Fraction(yk[k]), Fraction(yk[k + 1])
        d0, d1 = Fraction(dk[k]), Fraction(dk[k + 1])
        w, h = x1 - x0, y1 - y0
        s, u = h / w, (Fraction(v) - x0) / w
        q = u * (1 - u)
        D = s + (d0 + d1 - 2 * s) * q
        M = d1 * u * u + 2 * s * q + d0 * (1 - u) ** 2
        out_y.append(y0 + h * (s * u * u + d0 * q) / D)
        out_d.append(s * s * M / (D * D))
    return out_y, out_d


@settings(deadline=None, max_examples=60)
@given(st.data())
def test_spline_at_knots_and_bounds_is_exact_monotone_and_inverts_or_refuses(data):
    f, xi = _spline_case(data.draw)
    try:
        f.knots(xi)
    except ValueError as exc:                                   # a bin float64 cannot resolve
        assert "cannot resolve its bin" in str(exc)
        return
    t = _spline_points(f, xi, np.array([1e-12, 1e-6, 0.25, 0.5, 0.75, 1 - 1e-6, 1 - 1e-12]))
    X = np.broadcast_to(xi, (t.shape[0],) + xi.shape[1:])
    y, ld = f.forward(t, X)
    assert _finite(y, ld)
    ey, ed = _spline_exact(f, xi, t)
    ey = np.array([float(v) for v in ey])[:, None]
    # the value: about ten roundings, each relative eps of numbers at most max(B, |y|)
    assert np.all(np.abs(y - ey) <= 16 * EPS * (f.bound + np.abs(ey)))
    # log-derivative: 2 log(s/D) + log M, logs of sums of positive terms (and of D, whose
    # one negative term is bounded by the others), each known to a few eps relative
    eld = np.array([float(np.log(float(v))) for v in ed])[:, None]
    assert np.all(np.abs(ld - eld) <= 64 * EPS * (1 + np.abs(eld)))
    # monotone up to the rounding of the value
    assert np.min(np.diff(y[:, 0])) >= -4 * EPS * (f.bound + np.max(np.abs(y)))
    # round trip: y is known to eps (B + |y|), which pins t to that over the smallest slope
    # between t and the point returned (ld2 is the log-slope there)
    back, ld2 = f.inverse(y, X)
    assert _finite(back, ld2)
    slope = np.exp(np.minimum(ld, ld2))
    assert np.all(np.abs(back - t) <= 32 * EPS * (f.bound + np.abs(y)) / slope
                  + 4 * EPS * np.abs(t))


@settings(deadline=None, max_examples=30)
@given(st.data())
def test_spline_coupling_logdet_against_slogdet(data):
    f, xi = _spline_case(data.draw)
    c = Coupling(2, f, hidden_sizes=(3,), random_state=0)
    c.params["b1"][:] = xi.ravel()                              # the conditioner's output bias
    try:
        c.transformer.knots(xi)
    except ValueError as exc:
        assert "cannot resolve its bin" in str(exc)
        return
    B = f.bound
    u = data.draw(st.lists(st.floats(-2 * B, 2 * B), min_size=6, max_size=6))
    u = np.array(u).reshape(3, 2)
    try:
        x, ld = c.forward(u)
    except ValueError as exc:                  # the weights' small terms made a bin too steep
        assert _refused(exc)
        return
    J = c.jacobian(u)
    sign, ref = np.linalg.slogdet(J)
    assert np.all(sign > 0)
    # slogdet by LU is accurate to about eps times the condition number (relative to the
    # log of the determinant's scale); the transform's sum of log-derivatives is exact to
    # rounding
    cond = np.linalg.cond(J)
    assert np.all(np.abs(ld - ref) <= 64 * EPS * cond * (1 + np.abs(ref)))


# ---------------------------------------------------------------------- the integral transformer
@settings(deadline=None, max_examples=40)
@given(H=st.integers(1, 3), scale=st.sampled_from([1.0, 3.0, 8.0]),
       raw=st.lists(st.floats(-1.0, 1.0), min_size=11, max_size=11),
       t=st.one_of(st.floats(-30.0, 30.0), st.floats(-1e4, 1e4)))
def test_umnn_at_large_t_and_large_conditioner_outputs_is_monotone_and_inverts(H, scale, raw, t):
    f = UMNN(H, 8)
    xi = scale * np.array(raw[:f.n_params])[None, None, :]
    pts = t + np.linspace(-1.0, 1.0, 41)[:, None]
    X = np.broadcast_to(xi, (pts.shape[0], 1, f.n_params))
    try:
        y, ld = f.forward(pts, X)
    except ValueError as exc:
        assert _refused(exc)
        return
    assert _finite(y, ld)
    # the computed map is increasing (by construction, module docstring) up to rounding
    assert np.min(np.diff(y[:, 0])) >= -4 * EPS * np.max(np.abs(y))
    try:
        back = f.inverse(y, X)[0]
    except ValueError as exc:
        assert _refused(exc)
        return
    # solver tolerance 1e-12 relative to 1 + |t|, plus the value's rounding over the slope
    bound = 1e-11 * (1 + np.abs(pts)) + 16 * EPS * (np.abs(y) + 1) / np.exp(ld)
    assert np.all(np.abs(back - pts) <= bound)


@settings(deadline=None, max_examples=15)
@given(raw=st.lists(st.floats(-1.0, 1.0), min_size=8, max_size=8),
       scale=st.sampled_from([1.0, 4.0]), t=st.floats(-50.0, 50.0))
def test_umnn_value_far_out_against_adaptive_quadrature(raw, scale, t):
    from scipy import integrate
    from nfref.autoregressive.transformers.integral import umnn_log_integrand
    f = UMNN(2, 8)
    xi = scale * np.array(raw)[None, None, :]
    y = f.forward(np.array([[t]]), xi)[0][0, 0]
    g = lambda s: float(np.exp(umnn_log_integrand(np.array([[[s]]]), xi, 2)[0][0, 0, 0]))
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = integrate.quad(g, 0.0, t, epsabs=0.0, epsrel=2e-14, limit=500)[0]
    # the composite rule's relative error (about 1e-13 at N = 8, independent of |t|), and
    # the rounding of y = beta + integral to eps |y|
    assert abs(y - xi[0, 0, 0] - exact) <= 1e-11 * abs(exact) + 2 * EPS * abs(y)


@settings(deadline=None, max_examples=25)
@given(raw=st.lists(st.floats(-1.0, 1.0), min_size=8, max_size=8),
       scale=st.sampled_from([1.0, 3.0, 6.0]),
       u=st.lists(st.floats(-20.0, 20.0), min_size=4, max_size=4))
def test_umnn_coupling_logdet_against_slogdet(raw, scale, u):
    c = Coupling(2, UMNN(2, 8), hidden_sizes=(3,), random_state=0)
    c.params["b1"][:] = scale * np.array(raw)
    u = np.array(u).reshape(2, 2)
    try:
        x, ld = c.forward(u)
        J = c.jacobian(u)
    except ValueError as exc:
        assert _refused(exc)
        return
    sign, ref = np.linalg.slogdet(J)
    assert np.all(sign > 0)
    # the log-derivative is h(t) exactly, the Jacobian's diagonal exp(h(t)); slogdet by LU
    # is accurate to eps times the condition number
    assert np.all(np.abs(ld - ref) <= 64 * EPS * np.linalg.cond(J) * (1 + np.abs(ref)))


# ---------------------------------------------------------------------- planar and radial
def _check_round_trip_and_logdet(t, u, extra_scale=0.0, jac_terms=1.0):
    """Round trip and log-determinant of a transform ``t`` at ``u``, or a float64 refusal.

    Round trip: the forward value is known to eps times the size of the numbers it adds
    (``|u| + |x| + extra_scale``), which the inverse turns into ``1/sigma_min(J)`` times as
    much in ``u``. Log-determinant against slogdet of the explicit Jacobian: slogdet by LU
    is accurate to eps cond(J), and the Jacobian's entries, sums of terms of size
    ``jac_terms``, carry eps times those, which moves log det by that over sigma_min.
    """
    try:
        x, ld = t.forward(u)
        back, ld_inv = t.inverse(x)
        J = t.jacobian(u)
    except ValueError as exc:
        assert _refused(exc), str(exc)
        return
    assert _finite(x, ld, back, ld_inv, J)
    sv = np.linalg.svd(J, compute_uv=False)                       # (n, d)
    size = np.max(np.abs(u), 1) + np.max(np.abs(x), 1) + extra_scale
    bound = 64 * EPS * size / sv[:, -1]
    assert np.all(np.max(np.abs(back - u), 1) <= bound)
    sign, ref = np.linalg.slogdet(J)
    assert np.all(sign > 0)
    d = u.shape[1]
    ref_err = 64 * EPS * d * np.maximum(sv[:, 0], jac_terms) / sv[:, -1] * (1 + np.abs(ref))
    assert np.all(np.abs(ld - ref) <= ref_err)
    # the inverse's log-determinant is minus log|det J| at the point it returns (next to a
    # singular hyperplane that point may be far, in log det, from u itself: the round trip
    # above bounds the distance, not the log-determinant's change over it)
    Jb = t.jacobian(back)
    svb = np.linalg.svd(Jb, compute_uv=False)
    signb, refb = np.linalg.slogdet(Jb)
    assert np.all(signb > 0)
    err_b = 64 * EPS * d * np.maximum(svb[:, 0], jac_terms) / svb[:, -1] * (1 + np.abs(refb))
    # and the returned point is itself rounded (to eps times the numbers that formed it),
    # which moves log|det J| by the gradient (the forward pullback with gl = 1) times that
    grad_ld = t.forward_vjp(back, None, np.ones(len(back)))[0]
    err_b += 64 * EPS * size * np.linalg.norm(grad_ld, axis=1)
    assert np.all(np.abs(ld_inv + refb) <= err_b)


@settings(deadline=None, max_examples=40)
@given(d=st.integers(1, 3), gap=st.floats(1e-12, 1e-2), near=st.floats(-1e-6, 1e-6),
       raw=st.lists(st.floats(-2.0, 2.0), min_size=7, max_size=7))
def test_planar_next_to_its_singular_hyperplane(d, gap, near, raw):
    w = np.array(raw[:d])
    assume(w @ w > 1e-2)
    rho = np.array(raw[3:3 + d])
    # raw planar flow with w^T rho = -1 + gap: det J = 1 + c h' nearly vanishes where
    # w^T u + b = 0 (h' = 1 there)
    rho = rho + ((-1.0 + gap) - w @ rho) * w / (w @ w)
    t = Planar(w, rho, [raw[6]], reparameterize=False)
    # points on and next to the hyperplane, and one far away
    base = -raw[6] * w / (w @ w)
    u = np.stack([base, base + near * w, base + 1e-3 * w, base + 5.0 * w])
    # J = I + h' rho w^T: entries are sums of terms up to 1 + |rho| |w|
    _check_round_trip_and_logdet(t, u, extra_scale=np.abs(raw[6]) + 1.0,
                                 jac_terms=1.0 + np.linalg.norm(rho) * np.linalg.norm(w))


@settings(deadline=None, max_examples=40)
@given(d=st.integers(1, 3), far=st.sampled_from([0.0, 1e3, 1e8]),
       dist=st.floats(1e-12, 1e3), araw=st.floats(-30.0, 30.0), braw=st.floats(-30.0, 30.0),
       direction=st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3))
def test_radial_near_and_far_from_its_centre(d, far, dist, araw, braw, direction):
    e = np.array(direction[:d])
    assume(e @ e > 1e-4)
    e = e / np.linalg.norm(e)
    z0 = np.full(d, far)
    t = Radial(z0, [araw], [braw])
    u = np.stack([z0 + dist * e, z0 - 0.5 * dist * e, np.zeros(d) + 0.3])
    # |beta| joins the numbers the map adds (beta (u - z0)/q has size up to |beta|);
    # J = f I + k e e^T with f = 1 + beta/q and k = -beta r/q^2: terms up to 1 + 2|beta|/alpha
    _check_round_trip_and_logdet(t, u, extra_scale=abs(t.beta),
                                 jac_terms=1.0 + 2.0 * abs(t.beta) / t.alpha)


# ---------------------------------------------------------------------- inverse CDFs, tails
def _tail_u(draw, d):
    tails = st.sampled_from([5e-324, 1e-300, 1e-200, 1e-100, 1e-30, 1e-10, 0.5, 1 - 1e-10,
                             1 - 1e-16])
    return np.array(draw(st.lists(tails, min_size=d, max_size=d)))


@settings(deadline=None, max_examples=30)
@given(data=st.data(), kind=st.sampled_from(["gaussian", "mixture", "banana", "numerical"]),
       d=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_inverse_cdfs_in_the_tails(data, kind, d, seed):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        t = GaussianCDF.random(d, rng)
    elif kind == "mixture":
        t = GaussianMixtureCDF.random(d, rng)
    else:                                     # the closed-form quantile, or the numerical one
        t = banana(0.5, 0.7, d, with_ppf=kind == "banana")
    u = np.stack([_tail_u(data.draw, d) for _ in range(3)])
    try:
        z, ld = t.forward(u)
        back, ld_inv = t.inverse(z)
    except ValueError as exc:
        assert _refused(exc), str(exc)
        return
    assert _finite(z, ld, back, ld_inv)
    # G is known to a few eps relative to min(u, 1 - u) times (1 + z^2) (the log-density's
    # slope |z| in the Gaussian tails turns eps |z| in z into eps z^2 relative in u), 1 - u
    # itself is only known to eps/2 next to 1, and a subnormal u only to its spacing 5e-324;
    # the numerical quantile stops at a relative step of 1e-13 (times |z| for the density)
    small = np.minimum(u, 1.0 - u)
    rel = 256 * EPS if kind != "numerical" else 1e-11
    bound = rel * small * (1 + np.max(z * z, axis=1, keepdims=True)) + EPS * (small > 1e-300)
    bound = bound + 2 * 5e-324
    assert np.all(np.abs(back - u) <= bound)
    # the two log-determinants agree at the recovered point
    assert np.all(np.abs(ld + ld_inv) <= 1e-8 * (1 + np.abs(ld)))
