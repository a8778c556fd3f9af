"""The rational-quadratic spline transformer, standalone: values at knots, derivative,
tails, exact inverse (knots, boundary, tails), a discriminant that never goes negative,
gradients against finite differences, and property tests (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from nfref.gradcheck import check_gradient
from nfref.autoregressive.transformers.spline import (RationalQuadraticSpline, _bin, _local, _take,
                                       rq_discriminant, spline_knots)


def _special_points(f, xi):
    """Knots, the boundary, their float neighbours and tail points, one row per draw."""
    xk, _, _ = f.knots(xi)                                      # (n, 1, K+1)
    B = f.bound
    pts = [xk[:, 0, :], np.nextafter(xk[:, 0, :], np.inf), np.nextafter(xk[:, 0, :], -np.inf)]
    tails = np.broadcast_to([-1e6, -2 * B, -B - 1e-12, B + 1e-12, 2 * B, 1e6],
                            (xi.shape[0], 6))
    return np.concatenate(pts + [tails], axis=1)               # (n, 3(K+1) + 6)


def _flat(f, xi, pts):
    """Points (n, m) with xi (n, 1, k) -> (n m, 1) and (n m, 1, k)."""
    m = pts.shape[1]
    return pts.reshape(-1, 1), np.repeat(xi, m, axis=0)


def test_knots_are_interpolated_with_the_knot_derivatives(rng):
    f = RationalQuadraticSpline(n_bins=6, bound=2.0)
    xi = rng.standard_normal((50, 1, f.n_params))
    xk, yk, delta = f.knots(xi)
    assert np.all(xk[..., 0] == -2.0) and np.all(xk[..., -1] == 2.0)
    assert np.all(np.diff(xk, axis=-1) > 0) and np.all(np.diff(yk, axis=-1) > 0)
    t, x = _flat(f, xi, xk[:, 0, :])
    y, ld = f.forward(t, x)
    np.testing.assert_allclose(y, yk[:, 0, :].reshape(-1, 1), rtol=0, atol=2e-15)
    np.testing.assert_allclose(np.exp(ld), delta[:, 0, :].reshape(-1, 1), rtol=1e-13)
    # the derivative is continuous across the knots: approach from the left
    y_left, ld_left = f.forward(np.nextafter(t, -np.inf), x)
    np.testing.assert_allclose(np.exp(ld_left), np.exp(ld), rtol=1e-9)
    assert np.all(y_left <= y)


def test_derivative_against_finite_differences_and_identity(rng):
    f = RationalQuadraticSpline(n_bins=5, bound=3.0)
    t = rng.uniform(-4, 4, (200, 2))
    xi = rng.standard_normal((200, 2, f.n_params))
    h = 1e-6
    fd = (f.forward(t + h, xi)[0] - f.forward(t - h, xi)[0]) / (2 * h)
    np.testing.assert_allclose(fd, f.derivative(t, xi), rtol=1e-6)
    y, ld = f.forward(t, f.identity_xi(t.shape))
    assert np.max(np.abs(y - t)) < 1e-14 and np.max(np.abs(ld)) < 1e-14
    outside = np.abs(t) > 3
    y, ld = f.forward(t, xi)
    assert np.all(y[outside] == t[outside]) and np.all(ld[outside] == 0)


def test_inverse_exact_on_knots_boundary_neighbours_and_tails(rng):
    f = RationalQuadraticSpline(n_bins=8, bound=3.0)
    xi = 0.5 * rng.standard_normal((200, 1, f.n_params))
    pts = np.concatenate([_special_points(f, xi), rng.uniform(-3.5, 3.5, (200, 50))], 1)
    t, x = _flat(f, xi, pts)
    y, ld = f.forward(t, x)
    t2, ld2 = f.inverse(y, x)
    assert np.max(np.abs(t2 - t)) < 1e-12
    assert np.max(np.abs(ld2 - ld)) < 1e-9
    # y-knots map back to x-knots
    xk, yk, _ = f.knots(xi)
    t3, _ = f.inverse(*_flat(f, xi, yk[:, 0, :]))
    assert np.max(np.abs(t3 - xk[:, 0, :].reshape(-1, 1))) < 1e-12


def test_discriminant_is_never_negative_one_ulp_below_a_knot(rng):
    # tiny knot derivatives make b^2 - 4ac nearly 0 next to a knot: the expanded form
    # b^2 - 4ac may round below 0 there, the sum of squares cannot
    f = RationalQuadraticSpline(n_bins=8, bound=3.0, min_derivative=1e-7)
    xi = 4.0 * rng.standard_normal((20000, 1, f.n_params))
    xk, yk, delta, _, _ = spline_knots(xi, *f._args())
    y = np.nextafter(_take(yk, rng.integers(1, 9, (20000, 1))), -np.inf)
    k = _bin(y, yk)
    _, _, y0, _, s, d0, d1 = _local(y, k, xk, yk, delta)
    disc = rq_discriminant(np.maximum(y - y0, 0), np.maximum(_take(yk, k + 1) - y, 0),
                           s, d0, d1)
    assert np.all(disc >= 0)
    t, _ = f.inverse(y, xi)
    assert np.all(np.isfinite(t))
    assert np.max(np.abs(f.forward(t, xi)[0] - y)) < 1e-13


def test_gradients_both_directions_against_finite_differences(rng):
    f = RationalQuadraticSpline(n_bins=4, bound=2.5)
    t = np.array([[-3.0, -1.7, 0.1], [0.3, 1.9, 2.7], [-0.9, 0.75, 2.2]])   # tails included
    xi = 0.7 * rng.standard_normal((3, 3, f.n_params))
    gy, gl = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    gt, gxi = f.forward_vjp(t, xi, gy, gl)

    def fwd(p):
        y, ld = f.forward(p["t"], p["xi"])
        return float(np.sum(gy * y) + np.sum(gl * ld))
    res = check_gradient(fwd, {"t": gt, "xi": gxi}, {"t": t, "xi": xi})
    assert res.passed, str(res)
    y, _ = f.forward(t, xi)
    gy2, gxi2 = f.inverse_vjp(y, xi, gy, gl)

    def inv(p):
        t_, ld = f.inverse(p["y"], p["xi"])
        return float(np.sum(gy * t_) + np.sum(gl * ld))
    res = check_gradient(inv, {"y": gy2, "xi": gxi2}, {"y": y, "xi": xi})
    assert res.passed, str(res)
    assert np.all(gxi[0, 0] == 0) and np.all(gxi2[0, 0] == 0)     # tail: no xi-gradient


def test_refuses_bad_arguments():
    for kwargs, word in (({"n_bins": 0}, "n_bins"), ({"bound": 0.0}, "bound"),
                         ({"n_bins": 4, "min_width": 0.3}, "min_width"),
                         ({"min_derivative": 0.0}, "min_derivative")):
        with pytest.raises(ValueError, match=word):
            RationalQuadraticSpline(**kwargs)
    with pytest.raises(ValueError, match="xi of shape"):
        RationalQuadraticSpline(3).forward(np.zeros((2, 2)), np.zeros((2, 2, 3)))
    f = RationalQuadraticSpline(3)
    xi = f.identity_xi((1, 2))
    for method in ("forward", "inverse"):
        with pytest.raises(ValueError, match="finite"):       # the tails passed NaN through
            getattr(f, method)(np.array([[np.nan, 0.0]]), xi)
        with pytest.raises(ValueError, match="finite xi"):
            getattr(f, method)(np.zeros((1, 2)), np.where(np.isfinite(xi), np.inf, 0.0))


# ---------------------------------------------------------------------- property tests
@st.composite
def spline_draws(draw):
    K = draw(st.integers(1, 8))
    B = draw(st.floats(0.25, 6.0))
    f = RationalQuadraticSpline(n_bins=K, bound=B)
    xi = draw(arrays(np.float64, (4, 1, f.n_params), elements=st.floats(-6, 6)))
    free = draw(arrays(np.float64, (4, 8), elements=st.floats(-3 * B, 3 * B)))
    return f, xi, free


@settings(max_examples=60, deadline=None)
@given(spline_draws())
def test_property_round_trip_monotone_finite(draw):
    f, xi, free = draw
    pts = np.concatenate([_special_points(f, xi), free], axis=1)      # (4, m)
    t, x = _flat(f, xi, pts)
    y, ld = f.forward(t, x)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ld))
    t2, ld2 = f.inverse(y, x)
    assert np.all(np.isfinite(t2)) and np.all(np.isfinite(ld2))
    # backward error of the inverse, and forward error scaled by the local slope
    # (a flat piece, slope 1e-8, turns one rounding of y into 1e-8 of t: conditioning)
    y2, _ = f.forward(t2, x)
    assert np.max(np.abs(y2 - y) / (1 + np.abs(y))) < 1e-13
    slope = np.minimum(np.exp(ld), 1.0)
    assert np.max(np.abs(t2 - t) * slope / (1 + np.abs(t))) < 1e-13
    # monotone: sort the inputs of each draw, the outputs do not decrease
    order = np.argsort(pts, axis=1)
    ys = np.take_along_axis(y.reshape(pts.shape), order, axis=1)
    assert np.all(np.diff(ys, axis=1) >= 0)
    assert np.all(np.exp(ld) > 0)


def test_one_pass_inverse_vjp_equals_the_generic_implicit_rule(rng):
    from nfref.gradcheck import relative_error
    from nfref.autoregressive.transformers.base import Transformer
    f = RationalQuadraticSpline(n_bins=8, bound=3.0)
    y = 2.0 * rng.standard_normal((500, 3))                     # tails included
    xi = rng.standard_normal((500, 3, f.n_params))
    gt, gl = rng.standard_normal((500, 3)), rng.standard_normal((500, 3))
    one = f.inverse_vjp(y, xi, gt, gl)
    generic = Transformer.inverse_vjp(f, y, xi, gt, gl)
    assert relative_error(one[0], generic[0], axis=0) < 1e-12
    assert relative_error(one[1], generic[1], axis=0) < 1e-12
