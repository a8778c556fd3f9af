"""The rational-quadratic spline transformer, standalone: values at knots, exact inverse
(knots, boundary, tails), a discriminant that never goes negative, the one-pass helpers, and
property tests (hypothesis). The contract (gradients, identity, tails, validation) is in
``tests/test_transformers.py``."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from nfref.autoregressive.transformers.spline import (RationalQuadraticSpline, rq_bin,
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
    knots, _ = spline_knots(xi, *f._args())                     # (n, 1, 4, K+1)
    y = np.nextafter(np.take_along_axis(knots[..., 1, :], rng.integers(1, 9, (20000, 1, 1)),
                                        axis=-1)[..., 0], -np.inf)
    k, ends = rq_bin(y, knots, 1)
    (x0, x1), (y0, y1), (d0, d1) = (np.moveaxis(ends[..., r, :], -1, 0) for r in range(3))
    s = (y1 - y0) / (x1 - x0)
    disc = rq_discriminant(np.maximum(y - y0, 0), np.maximum(y1 - y, 0), s, d0, d1)
    assert np.all(disc >= 0)
    t, _ = f.inverse(y, xi)
    assert np.all(np.isfinite(t))
    assert np.max(np.abs(f.forward(t, xi)[0] - y)) < 1e-13


def test_refuses_bad_arguments():
    for kwargs, word in (({"n_bins": 0}, "n_bins"), ({"bound": 0.0}, "bound"),
                         ({"n_bins": 4, "min_width": 0.3}, "min_width"),
                         ({"min_derivative": 0.0}, "min_derivative")):
        with pytest.raises(ValueError, match=word):
            RationalQuadraticSpline(**kwargs)
    with pytest.raises(ValueError, match=r"xi of shape \(\.\.\., 8\)"):
        RationalQuadraticSpline(3).knots(np.zeros((2, 2, 3)))


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


def test_knots_row_layout_and_the_bin_gather(rng):
    # rows x_k, y_k, delta_k, raw u^d_k of spline_knots, and rq_bin's ends at k and k + 1
    f = RationalQuadraticSpline(n_bins=5, bound=2.0)
    xi = rng.standard_normal((30, 2, f.n_params))
    knots, probs = spline_knots(xi, *f._args())
    assert knots.shape == (30, 2, 4, 6) and probs.shape == (30, 2, 2, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-15)
    widths = np.diff(knots[..., 0, :], axis=-1)
    np.testing.assert_allclose(widths, 4.0 * (1e-3 + (1 - 5e-3) * probs[..., 0, :]),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(knots[..., 3, 1:5], xi[..., 10:])
    assert np.all(knots[..., 3, [0, 5]] == 0) and np.all(knots[..., 2, [0, 5]] == 1)
    t = rng.uniform(-2.5, 2.5, (30, 2))
    k, ends = rq_bin(t, knots, 0)
    inside = np.abs(t) <= 2.0
    lo, hi = ends[..., 0, 0], ends[..., 0, 1]
    assert np.all((lo[inside] <= t[inside]) & (t[inside] <= hi[inside]))
    for r in range(4):
        np.testing.assert_array_equal(
            ends[..., r, 1], np.take_along_axis(knots[..., r, :], k[..., None] + 1, -1)[..., 0])


# ---------------------------------------------------------------------- steep knots
def test_spline_stays_in_its_bin_next_to_a_steep_knot():
    # knot 2 (at 0) with derivative 1e14: the value at x = -1e-16 must lie in the bin's
    # range [-1.5, 0] (it was -100 with derivative 1e18, when 1 - xi and xi disagreed)
    f = RationalQuadraticSpline(4, 3.0)
    xi = np.zeros((1, 1, 11))
    xi[0, 0, 9] = 1e14
    xk, yk, dk = (np.asarray(v)[0, 0] for v in f.knots(xi))
    for x in (-1e-16, -1e-15, -3e-17, 1e-16):
        y, ld = f.forward(np.array([[x]]), xi)
        lo, hi = (-1.5, 0.0) if x < 0 else (0.0, 1.5)
        assert lo <= y[0, 0] <= hi and np.isfinite(ld).all(), (x, y)
        # against the same rational function in exact rational arithmetic
        k = 1 if x < 0 else 2
        x0, w = Fraction(xk[k]), Fraction(xk[k + 1]) - Fraction(xk[k])
        y0, h = Fraction(yk[k]), Fraction(yk[k + 1]) - Fraction(yk[k])
        d0, d1, s = Fraction(dk[k]), Fraction(dk[k + 1]), h / w
        u = (Fraction(x) - x0) / w
        exact = y0 + h * (s * u * u + d0 * u * (1 - u)) / (s + (d0 + d1 - 2 * s) * u * (1 - u))
        assert abs(y[0, 0] - float(exact)) <= 4 * np.finfo(float).eps * 1.5, (x, y, exact)


def test_spline_monotone_and_round_trips_within_its_conditioning_next_to_steep_knots():
    f = RationalQuadraticSpline(4, 3.0)
    eps = np.finfo(float).eps
    t = np.concatenate([-np.logspace(-30, 0.1, 1500)[::-1], [0.0],
                        np.logspace(-30, 0.1, 1500)])[:, None]
    for p in (4, 8, 12, 14):
        xi = np.zeros((t.shape[0], 1, 11))
        xi[:, 0, 9] = 10.0 ** p
        y, ld = f.forward(t, xi)
        # increasing up to the rounding of the value (a few ulps of |y| <= 1.5)
        assert np.min(np.diff(y[:, 0])) >= -4 * eps * 1.5, p
        back = f.inverse(y, xi)[0]
        # the inverse pins t down to the rounding of y over the slope: eps (B + |y|) / zeta'
        bound = 8 * eps * (3.0 + np.abs(y)) / np.exp(ld)
        assert np.all(np.abs(back - t) <= bound), p


def test_spline_refuses_a_knot_derivative_float64_cannot_resolve():
    f = RationalQuadraticSpline(4, 3.0)
    xi = np.zeros((1, 1, 11))
    xi[0, 0, 9] = 1e18
    for call in (lambda: f.forward(np.array([[-1e-16]]), xi),
                 lambda: f.inverse(np.array([[-1.0]]), xi), lambda: f.knots(xi)):
        with pytest.raises(ValueError, match="xi gives a knot derivative.*cannot resolve"):
            call()


def test_maf_with_large_weights_round_trips_within_its_conditioning_or_refuses():
    # a spline MAF whose conditioner outputs reach 1e9: knot derivatives about 1e9; the
    # round trip was off by 4.3 (and the log-determinant by 120) when values left their bins
    from nfref.autoregressive import MAF
    eps = np.finfo(float).eps
    refused = 0
    for seed, scale in ((0, 1e3), (1, 1e6), (2, 1e9), (3, 1e9), (0, 1e12)):
        rng = np.random.default_rng(seed)
        f = MAF.random(2, rng, transformer=RationalQuadraticSpline(4, 3.0),
                       output_scale=scale)
        u = rng.standard_normal((100, 2))
        try:
            x, ld = f.forward(u)
        except ValueError as exc:
            assert "cannot resolve its bin" in str(exc)
            refused += 1
            continue
        u2, ld2 = f.inverse(x)
        # each coordinate is one spline inverse of a known x: error eps (B + |x|) / zeta'(u)
        slope = np.exp(f.transformer.forward(u, f.conditioner(x))[1])
        assert np.all(np.abs(u2 - u) <= 16 * eps * (3.0 + np.abs(x)) / slope), (seed, scale)
        assert np.all(np.isfinite(ld2))
    assert refused == 1
