"""Clenshaw-Curtis quadrature, the bracketed Newton solver the integral-based transformers
invert with, and the integral-based transformers (UMNN-style and sum-of-squares) against
adaptive quadrature. The contract (gradients, round trips, identity, validation) is in
``tests/test_transformers.py``."""

import numpy as np
import pytest
from numpy.polynomial import chebyshev as C
from scipy import integrate

from nfref.autoregressive.transformers.integral import UMNN, umnn_log_integrand
from nfref.autoregressive.transformers.quadrature import clenshaw_curtis, clenshaw_curtis_unit
from nfref.autoregressive.transformers.sos import SumOfSquares
from nfref.numerics import solve_monotone

# scipy's adaptive reference integrals warn when asked for 1e-14; their error is checked
pytestmark = pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")


# ---------------------------------------------------------------------- quadrature
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 16, 33])
def test_clenshaw_curtis_exact_for_polynomials_up_to_degree_n(n, rng):
    x, w = clenshaw_curtis(n)
    assert x.shape == w.shape == (n + 1,)
    assert np.all(w > 0) and abs(w.sum() - 2.0) < 1e-14
    for degree in range(n + 1):
        coef = rng.standard_normal(degree + 1)
        exact = np.polynomial.polynomial.polyval(1.0, np.polynomial.polynomial.polyint(coef)) \
            - np.polynomial.polynomial.polyval(-1.0, np.polynomial.polynomial.polyint(coef))
        approx = w @ np.polynomial.polynomial.polyval(x, coef)
        assert abs(approx - exact) <= 1e-13 * (1 + np.abs(coef).sum())


@pytest.mark.parametrize("n", [2, 5, 8, 12])
def test_clenshaw_curtis_weights_solve_the_chebyshev_moment_system(n):
    # independent construction: sum_j w_j T_k(x_j) = int_{-1}^{1} T_k for k = 0..n
    x, w = clenshaw_curtis(n)
    V = C.chebvander(x, n).T                                      # (n+1, n+1)
    moments = np.array([C.chebval(1, C.chebint(np.eye(n + 1)[k]))
                        - C.chebval(-1, C.chebint(np.eye(n + 1)[k])) for k in range(n + 1)])
    np.testing.assert_allclose(w, np.linalg.solve(V, moments), rtol=0, atol=1e-13)


@pytest.mark.parametrize("f", [np.exp, lambda s: 1.0 / (1.0 + 4 * s * s), np.cos,
                               lambda s: np.exp(np.tanh(3 * s - 1))])
def test_clenshaw_curtis_against_scipy_quad_on_smooth_functions(f):
    exact = integrate.quad(f, -1, 1, epsabs=1e-15, epsrel=1e-15)[0]
    errs = []
    for n in (4, 8, 16, 32, 64):
        x, w = clenshaw_curtis(n)
        errs.append(abs(w @ f(x) - exact))
    assert errs[-1] < 1e-13
    assert errs[2] < errs[0]                                     # converging


def test_clenshaw_curtis_unit_interval_and_bad_input():
    tau, om = clenshaw_curtis_unit(10)
    assert tau.min() == 0.0 and tau.max() == 1.0 and abs(om.sum() - 1) < 1e-15
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="integer number of intervals"):
            clenshaw_curtis(bad)


def test_solver_brackets_far_roots_without_clamping():
    y = np.array([-1e6, -3.0, 0.0, 0.5, 7.0, 1e8])

    def func(t, idx):
        return t + np.tanh(t), 2.0 - np.tanh(t) ** 2
    t = solve_monotone(func, y).x
    assert np.max(np.abs(t + np.tanh(t) - y) / (1 + np.abs(y))) < 1e-15


def test_solver_refuses_non_finite_targets():
    # a NaN target used to come back as the midpoint of the first bracket, 0
    def func(t, idx):
        return t, np.ones_like(t)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="finite targets"):
            solve_monotone(func, np.array([1.0, bad]))


# ---------------------------------------------------------------------- UMNN
def _umnn_exact(f, t, xi):
    """The integral by scipy's adaptive quadrature, one entry at a time (test only)."""
    out = np.empty_like(t)
    for i, j in np.ndindex(t.shape):
        g = lambda s: np.exp(umnn_log_integrand(np.array([[[s]]]), xi[i:i + 1, j:j + 1],
                                                f.n_hidden)[0][0, 0, 0])
        out[i, j] = xi[i, j, 0] + integrate.quad(g, 0, t[i, j], epsabs=1e-14, epsrel=1e-14,
                                                 limit=200)[0]
    return out


def test_umnn_value_against_scipy_quad(rng):
    f = UMNN(n_hidden=3, n_intervals=40)
    t = 2.5 * rng.standard_normal((5, 3))
    xi = rng.standard_normal((5, 3, f.n_params))
    exact = _umnn_exact(f, t, xi)
    assert np.max(np.abs(f.forward(t, xi)[0] - exact)) < 1e-10


def test_umnn_logderiv_is_exact_while_the_value_carries_quadrature_error(rng):
    t = np.array([[3.0, -4.0]])
    xi = rng.standard_normal((1, 2, UMNN(3).n_params))
    exact = _umnn_exact(UMNN(3), t, xi)
    # two intervals per cell: the value's quadrature error is visible (about 1e-7 here);
    # forty: at rounding. (With the grid of cells the coarse rule is far more accurate than
    # the old single rule on [0, t], whose 4 intervals were off by 1e-4.)
    coarse, fine = UMNN(3, n_intervals=2), UMNN(3, n_intervals=40)
    assert np.max(np.abs(coarse.forward(t, xi)[0] - exact)) > 1e-8
    assert np.max(np.abs(fine.forward(t, xi)[0] - exact)) < 1e-13
    np.testing.assert_array_equal(coarse.forward(t, xi)[1], fine.forward(t, xi)[1])
    np.testing.assert_allclose(coarse.derivative(t, xi), np.exp(fine.forward(t, xi)[1]),
                               rtol=1e-15)


def test_umnn_identity_and_monotone_far_out_and_far_inverse(rng):
    f = UMNN(2)
    t = np.linspace(-30, 30, 601)[:, None]
    y, ld = f.forward(t, f.identity_xi(t.shape))
    assert np.max(np.abs(y - t)) < 1e-13 and np.max(np.abs(ld)) == 0
    xi = np.broadcast_to(rng.standard_normal(f.n_params), t.shape + (f.n_params,)).copy()
    y, _ = f.forward(t, xi)
    assert np.all(np.diff(y[:, 0]) > 0)
    far = np.array([[-1e4], [1e4]])
    xi2 = xi[:2]
    t_far, _ = f.inverse(far, xi2)
    assert np.max(np.abs(f.forward(t_far, xi2)[0] - far) / 1e4) < 1e-13


def test_umnn_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_hidden"):
        UMNN(0)
    with pytest.raises(ValueError, match="n_intervals"):
        UMNN(2, 1)
    for bad in (None, 2.5, np.nan, np.inf, "3", [2], True):
        with pytest.raises(ValueError, match="n_hidden: expected an integer"):
            UMNN(bad)
        with pytest.raises(ValueError, match="n_intervals: expected an integer"):
            UMNN(2, bad)
    assert UMNN(3.0, np.int64(6)).n_params == 11


def test_umnn_reported_spurious_roots_now_round_trip():
    # a steep decrease of the integrand around s = 1: the single rule on [0, t] made the
    # computed map non-monotone far out, and the solver converged on a root near 1196
    f = UMNN()
    xi = np.zeros((1, 1, 14))
    xi[0, 0, [2, 6, 10]] = [2, -2, -6]
    y = f.forward(np.array([[1.0]]), xi)[0]
    np.testing.assert_allclose(y, _umnn_exact(f, np.array([[1.0]]), xi), rtol=1e-13)
    assert abs(f.inverse(y, xi)[0][0, 0] - 1.0) < 1e-12
    from nfref.autoregressive import Coupling
    c = Coupling(1, UMNN(2, 24))
    c.params["b0"][:] = [0, 0, -1, 0, -2, 0, -5, 0]
    assert abs(c.inverse(c.forward([[-2.0]])[0])[0][0, 0] + 2.0) < 1e-12


def test_umnn_round_trips_with_wide_conditioner_outputs(rng):
    # conditioner outputs from N(0, 2^2): 1.35% of the round trips were off by more than 1
    f = UMNN()
    t = 3.0 * rng.standard_normal((400, 5))
    xi = 2.0 * rng.standard_normal((400, 5, f.n_params))
    y = f.forward(t, xi)[0]
    back = f.inverse(y, xi)[0]
    # the solver's tolerance is 1e-12 relative to 1 + |t|
    assert np.max(np.abs(back - t) / (1.0 + np.abs(t))) < 1e-10


def test_umnn_computed_map_is_monotone_far_out_with_steep_integrands(rng):
    f = UMNN(3)
    # dense near 0, where the steep units live, and out to |t| = 200
    t = np.concatenate([np.linspace(-4.0, 4.0, 1601), np.linspace(4.01, 200.0, 400)])
    t = np.sort(np.concatenate([-t[t > 4.0], t]))[:, None]
    for scale in (1.0, 3.0, 8.0):
        xi = np.broadcast_to(scale * rng.standard_normal(f.n_params),
                             t.shape + (f.n_params,)).copy()
        y = f.forward(t, xi)[0][:, 0]
        assert np.all(np.diff(y) > 0), scale


def test_umnn_value_accuracy_does_not_decay_with_t(rng):
    f = UMNN(3)
    t = np.array([[0.5, -3.0, 12.0, -40.0, 150.0]])
    xi = rng.standard_normal((1, 5, f.n_params))
    exact = _umnn_exact(f, t, xi)
    assert np.max(np.abs(f.forward(t, xi)[0] - exact) / np.abs(exact - xi[..., 0])) < 1e-12


def test_umnn_refuses_what_its_grid_or_float64_cannot_hold():
    f = UMNN(2)
    xi = np.zeros((1, 1, f.n_params))
    xi[0, 0, [2, 3, 4, 5]] = [1.0, 1.0, 0.0, 2.0]  # a, b
    xi[0, 0, [6, 7]] = [5e3, -5e3]                 # c: about 1.5e5 cells out to t = 15
    with pytest.raises(ValueError, match="quadrature cells"):
        f.forward(np.array([[15.0]]), xi)
    xi = np.zeros((1, 1, f.n_params))
    xi[0, 0, 1] = -700.0                           # g = exp(-700): the root is near 1e308 * 1e300
    with pytest.raises(ValueError, match="beyond float64 reach"):
        f.inverse(np.array([[1e300]]), xi)


def test_umnn_logderiv_is_h_at_t(rng):
    f = UMNN(3, 24)
    t = 2.0 * rng.standard_normal((6, 2))
    xi = rng.standard_normal((6, 2, f.n_params))
    h_t = umnn_log_integrand(t[..., None], xi, 3)[0][..., 0]
    np.testing.assert_allclose(f.forward(t, xi)[1], h_t, rtol=1e-15, atol=1e-15)


# ---------------------------------------------------------------------- sum of squares
def test_sos_value_against_scipy_quad(rng):
    f = SumOfSquares(n_squares=2, degree=3, scale=2.0, floor=1e-3)
    t = 2.0 * rng.standard_normal((4, 3))
    xi = rng.standard_normal((4, 3, f.n_params))
    a = xi[..., 1:].reshape(4, 3, 2, 4)
    exact = np.empty_like(t)
    for i, j in np.ndindex(t.shape):
        g = lambda s: f.floor + sum(np.polyval(a[i, j, k, ::-1], s / f.scale) ** 2
                                    for k in range(2))
        exact[i, j] = xi[i, j, 0] + integrate.quad(g, 0, t[i, j], epsabs=1e-14,
                                                   epsrel=1e-14)[0]
    y, ld = f.forward(t, xi)
    assert np.max(np.abs(y - exact) / (1 + np.abs(exact))) < 1e-13


def test_sos_identity_monotone_and_refusals(rng):
    f = SumOfSquares()
    t = np.linspace(-50, 50, 1001)[:, None]
    y, ld = f.forward(t, f.identity_xi(t.shape))
    assert np.max(np.abs(y - t)) < 1e-12 and np.max(np.abs(ld)) < 1e-15
    xi = np.broadcast_to(rng.standard_normal(f.n_params), t.shape + (f.n_params,)).copy()
    y, ld = f.forward(t, xi)
    assert np.all(np.diff(y[:, 0]) > 0) and np.all(ld >= np.log(f.floor) - 1e-15)
    for kwargs, word in (({"n_squares": 0}, "n_squares"), ({"degree": -1}, "degree"),
                         ({"floor": 0.0}, "floor"), ({"scale": -1.0}, "scale")):
        with pytest.raises(ValueError, match=word):
            SumOfSquares(**kwargs)


# ---------------------------------------------------------------------- inverted
def test_inverted_transformer_swaps_directions_and_gradients(rng):
    from nfref.gradcheck import check_gradient
    from nfref.autoregressive.transformers.inverted import Inverted
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    for inner in (UMNN(2, 24), SumOfSquares(2, 2), RationalQuadraticSpline(4, 2.0)):
        f = Inverted(inner)
        t = rng.uniform(-2.5, 2.5, (4, 2))
        xi = 0.7 * rng.standard_normal((4, 2, f.n_params))
        s, ld = f.forward(t, xi)
        y_in, lam = inner.forward(s, xi)
        assert np.max(np.abs(y_in - t)) < 1e-10 and np.max(np.abs(ld + lam)) < 1e-10
        assert f.numerical_inverse == inner.numerical_inverse
        # the pullbacks are the inner ones with the log-derivative's cotangent negated
        gy, gld = rng.standard_normal((2, 4, 2))
        mine = f.forward_vjp(t, xi, gy, gld)
        theirs = inner.inverse_vjp(t, xi, gy, -gld)
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
        res = check_gradient(lambda p: float(np.sum(gy * f.forward(p["t"], p["xi"])[0])
                                             + np.sum(gld * f.forward(p["t"], p["xi"])[1])),
                             {"t": mine[0], "xi": mine[1]}, {"t": t, "xi": xi})
        assert res.passed, str(res)
    with pytest.raises(ValueError, match="expected a Transformer"):
        Inverted(3)


def test_umnn_tiny_t_with_a_nearly_flat_unit_gets_its_cell():
    # |t| B underflowed to 0 cells (the value was beta instead of beta + t)
    f = UMNN(2, 8)
    xi = np.zeros((1, 1, f.n_params))
    xi[0, 0, 2], xi[0, 0, 6] = 3.6e-202, 1.0                  # a_1, c_1
    t = np.array([[1.37e-218]])
    y = f.forward(t, xi)[0]
    # g = 1 to rounding there; the weights sum to 1 within an ulp or two
    np.testing.assert_allclose(y, t, rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_allclose(f.inverse(y, xi)[0], t, rtol=4 * np.finfo(float).eps, atol=0)


def test_umnn_subnormal_slope_makes_one_wide_cell_not_nan():
    # a = 2.2e-313: 1/B overflowed to inf and the cell's left end was 0 * inf = nan
    f = UMNN(2, 8)
    xi = np.zeros((1, 1, f.n_params))
    xi[0, 0, 3], xi[0, 0, 7] = 2.2250738585e-313, 1.0           # a_2, c_2
    y = f.forward(np.array([[1.0], [-3.0]]), np.repeat(xi, 2, axis=0))[0]
    np.testing.assert_allclose(y[:, 0], [1.0, -3.0], rtol=1e-15)  # h = tanh(~0) = 0
