r"""Claims of notes 000, section 4.1: monotone transformers (integral-based and splines).

* the transformer flow's log-determinant is :math:`\sum_l \log g(u_l;\xi_l(u_{<l}))`; the
  notes' last formula prints :math:`\sum_l g(\cdot)` (no log): both against ``slogdet`` of a
  finite-difference Jacobian of an IAF with the UMNN-style transformer;
* :math:`\zeta` is strictly increasing and :math:`\partial_t\zeta = g` (UMNN-style, SOS) or
  the spline's derivative formula, against finite differences;
* the Clenshaw-Curtis rule (nodes and weights derived in :mod:`nfref.autoregressive.transformers.quadrature`) against
  ``scipy.integrate.quad``, and the UMNN value's quadrature error against the number of
  nodes, next to the log-derivative, which carries none;
* the SOS closed form against adaptive quadrature;
* the spline inverse is exact (tails and knots included) and its discriminant, in the
  sum-of-squares form, never goes negative, while the expanded :math:`b^2 - 4ac` does.

The figures ``s05_spline`` and ``s05_quadrature`` are here too (the speed of a spline MAF
is in :mod:`nfref.report.bench`).
"""

import numpy as np
from scipy import integrate

from nfref.gradcheck import check_gradient, numerical_jacobian
from nfref.autoregressive.transformers.quadrature import clenshaw_curtis
from nfref.report.claims import claim, figure
from nfref.autoregressive.transformers.integral import UMNN, umnn_log_integrand
from nfref.autoregressive.transformers.sos import SumOfSquares
from nfref.autoregressive.transformers.spline import (RationalQuadraticSpline, rq_bin,
                                                      rq_discriminant, spline_knots)

__all__ = ["umnn_reference", "quadrature_errors"]


def umnn_reference(f, t, xi):
    """UMNN value by ``scipy.integrate.quad`` entry by entry (a reference, not vectorized)."""
    out = np.empty_like(t)
    for i, j in np.ndindex(t.shape):
        row = xi[i:i + 1, j:j + 1]

        def g(s):
            return np.exp(umnn_log_integrand(np.array([[[s]]]), row, f.n_hidden)[0][0, 0, 0])
        out[i, j] = xi[i, j, 0] + _quad(g, 0.0, t[i, j])
    return out


def _quad(f, a, b):
    """``scipy.integrate.quad`` asked for 1e-14 (its round-off warning silenced: the
    claims measure the agreement)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-14, limit=200)[0]


def quadrature_errors(n_list=(2, 4, 8, 16, 24, 32, 40, 64), seed=0, n=8):
    """For UMNN(3) with conditioner-sized ``xi ~ N(0, 1)`` and ``|t| <= 6``: per node count,
    the value error against scipy and the gap between the exact log-derivative
    :math:`h(t)` and the log of the computed value's derivative (central difference).
    Returns ``(n_list, value_err, logderiv_gap)``."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-6, 6, (n, 2))
    xi = rng.standard_normal((n, 2, UMNN(3).n_params))
    exact = umnn_reference(UMNN(3), t, xi)
    val, gap = [], []
    for m in n_list:
        f = UMNN(3, n_intervals=m)
        y, ld = f.forward(t, xi)
        val.append(np.max(np.abs(y - exact)))
        num = np.diagonal(numerical_jacobian(lambda v: f.forward(v, xi)[0], t, h=1e-3),
                          axis1=1, axis2=2)
        gap.append(np.max(np.abs(np.log(np.abs(num)) - ld)))
    return np.array(n_list), np.array(val), np.array(gap)


# ---------------------------------------------------------------------- log-determinant
@claim("sec. 4.1: log|det J| = sum_l log g(u_l; xi_l) (UMNN IAF); as printed, sum g, is off",
       where="000 sec. 4.1 (last formula)", bound=2e-10,
       why="fourth-order differences at step 1e-4 of an IAF whose values carry the quadrature "
           "error: measured 5e-12",
       measures="|sum log g - FD slogdet| of the UMNN IAF (nats)")
def _():
    from nfref.autoregressive.maf import IAF
    t = IAF.random(4, 5, transformer=UMNN(3, 40), hidden_sizes=(8,))
    u = np.random.default_rng(5).standard_normal((30, 4))
    _, logdet = t.forward(u)                                    # sum of log g(u_l; xi_l)
    xi = t.conditioner(u)
    g = t.transformer.derivative(u, xi)                          # (n, d), g(u_l; xi_l)
    fd = np.linalg.slogdet(numerical_jacobian(lambda v: t.forward(v)[0], u))[1]
    right = max(np.max(np.abs(np.log(g).sum(1) - fd)), np.max(np.abs(logdet - fd)))
    printed = np.max(np.abs(g.sum(1) - fd))
    return right, f"sum log g vs slogdet(FD J): {right:.1e}; printed sum g: off by {printed:.2f}"


# ---------------------------------------------------------------------- derivative = g
@claim("zeta strictly increasing, dzeta/dt = g (UMNN, SOS), spline formula, vs FD",
       where="000 sec. 4.1; Durkan 2019 eq. (5)", bound=1e-8,
       why="fourth-order differences at step 1e-4: the spline is only C^1 at its knots, so a "
           "stencil across a knot loses digits (1e-9 measured, UMNN and SOS 4e-10)",
       measures=("largest relative error of dzeta/dt against finite differences (unitless); inf "
                 "if not increasing"))
def _():
    rng = np.random.default_rng(1)
    worst, details = 0.0, []
    for f in (UMNN(3, 40), SumOfSquares(2, 3), RationalQuadraticSpline(6, 3.0)):
        grid = np.linspace(-4.0, 4.0, 801)[:, None]             # a grid for monotonicity
        xi1 = np.broadcast_to(rng.standard_normal(f.n_params), grid.shape + (f.n_params,))
        y, _ = f.forward(grid, xi1)
        if not np.all(np.diff(y[:, 0]) > 0):
            return np.inf, f"{f!r} is not increasing on the grid"
        t = rng.uniform(-3.9, 3.9, (40, 3))
        xi = rng.standard_normal((40, 3, f.n_params))
        num = np.diagonal(numerical_jacobian(lambda v: f.forward(v, xi)[0], t, h=1e-4),
                          axis1=1, axis2=2)
        err = np.max(np.abs(num / f.derivative(t, xi) - 1))
        worst = max(worst, err)
        details.append(f"{type(f).__name__} {err:.0e}")
    return worst, "relative; " + ", ".join(details) + "; increasing on [-4, 4]"


@claim("transformer VJPs (value and log-derivative, t and xi, both ways) vs FD",
       where="000 sec. 4.1", bound=1e-6,
       why="finite differences through UMNN's quadrature and the numerical inverses of UMNN "
           "and SOS (solved to rounding, divided by h): measured 4e-8",
       measures=("largest relative error of the transformer VJPs against finite differences "
                 "(unitless)"))
def _():
    rng = np.random.default_rng(2)
    worst = 0.0
    for f in (UMNN(3, 40), SumOfSquares(2, 2), RationalQuadraticSpline(5, 2.5)):
        t = rng.uniform(-3, 3, (4, 2))
        xi = 0.8 * rng.standard_normal((4, 2, f.n_params))
        gy, gl = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
        y, _ = f.forward(t, xi)
        for apply, vjp, key, point in ((f.forward, f.forward_vjp, "t", t),
                                       (f.inverse, f.inverse_vjp, "y", y)):
            ga, gx = vjp(point, xi, gy, gl)

            def loss(p, apply=apply, key=key):
                a, b = apply(p[key], p["xi"])
                return float(np.sum(gy * a) + np.sum(gl * b))
            worst = max(worst, check_gradient(loss, {key: ga, "xi": gx},
                                              {key: point, "xi": xi}).error)
    return worst, "UMNN, SOS, spline; relative error"


# ---------------------------------------------------------------------- quadrature
@claim("Clenshaw-Curtis nodes and weights: exact to degree N, vs scipy quad on smooth f",
       where="Clenshaw-Curtis 1960", bound=2e-14,
       why="float64 floor of a 65-term weighted sum of values of size 1 (and scipy's own "
           "1e-14); measured 9e-16",
       measures=("largest |Clenshaw-Curtis sum - exact or scipy integral| (units of the "
                 "integrand)"))
def _():
    rng = np.random.default_rng(3)
    worst = 0.0
    for n in (4, 9, 16):
        x, w = clenshaw_curtis(n)
        coef = rng.standard_normal(n + 1)
        P = np.polynomial.Polynomial(coef).integ()
        worst = max(worst, abs(w @ np.polynomial.polynomial.polyval(x, coef) - (P(1) - P(-1))))
    x, w = clenshaw_curtis(64)
    for f in (np.exp, lambda s: 1 / (1 + 4 * s * s), lambda s: np.exp(np.tanh(3 * s - 1))):
        worst = max(worst, abs(w @ f(x) - _quad(f, -1, 1)))
    return worst, "polynomials of degree <= N (N = 4, 9, 16); three analytic f with N = 64"


@claim("UMNN value: quadrature error at N = 40 (conditioner-sized xi, |t| <= 6)",
       where="000 sec. 4.1; Wehenkel 2019", bound=1e-13,
       why="the quadrature error falls geometrically with N and reaches the float64 floor "
           "(a few 1e-15 against quad at 1e-14) well before N = 40; the row in the detail "
           "shows where",
       measures="|UMNN value - scipy quad| at N = 40 (units of the transformer's output)")
def _():
    ns, val, gap = quadrature_errors()
    i = list(ns).index(40)
    row = ", ".join(f"N={n}: {v:.0e}" for n, v in zip(ns, val))
    return val[i], f"value error {row}"


@claim("UMNN log-derivative: exact h(t); gap to log d(computed value)/dt shrinks with N",
       where="000 sec. 4.1; Wehenkel 2019", bound=1e-10,
       why="once the quadrature has converged, the gap is the error of the step-1e-3 "
           "difference itself (3e-12, the same at N = 40 and at N = 64)",
       measures="|h(t) - log d(value)/dt| at the largest N (log-derivative, unitless)")
def _():
    ns, val, gap = quadrature_errors()
    i = list(ns).index(40)
    row = ", ".join(f"N={n}: {v:.0e}" for n, v in zip(ns, gap))
    if not gap[0] > 1e3 * gap[i]:
        return np.inf, f"the gap does not shrink: {row}"
    return gap[i], f"gap {row}"


@claim("SOS: closed-form zeta equals the integral of eps + sum_k p_k^2 (scipy quad)",
       where="000 sec. 4.1; Jaini 2019", bound=2e-14,
       why="float64 floor against quad at 1e-14, relative: measured 5e-16",
       measures="largest |closed-form zeta - quad integral| / |zeta| (relative, unitless)")
def _():
    rng = np.random.default_rng(4)
    f = SumOfSquares(n_squares=3, degree=3, scale=2.0)
    t = rng.uniform(-5, 5, (6, 2))
    xi = rng.standard_normal((6, 2, f.n_params))
    a = xi[..., 1:].reshape(6, 2, 3, 4)
    y, _ = f.forward(t, xi)
    worst = 0.0
    for i, j in np.ndindex(t.shape):
        def g(s):
            return f.floor + sum(np.polyval(a[i, j, k, ::-1], s / f.scale) ** 2
                                 for k in range(3))
        ref = xi[i, j, 0] + _quad(g, 0, t[i, j])
        worst = max(worst, abs(y[i, j] - ref) / (1 + abs(ref)))
    return worst, "relative; K = 3 squares of cubics, |t| <= 5"


# ---------------------------------------------------------------------- spline inverse
def _spline_points(f, xi, rng):
    xk = f.knots(xi)[0][:, 0, :]                                 # (n, K+1)
    B = f.bound
    tails = np.broadcast_to([-1e3, -B - 1e-9, B + 1e-9, 1e3], (xi.shape[0], 4))
    pts = np.concatenate([xk, np.nextafter(xk, np.inf), np.nextafter(xk, -np.inf), tails,
                          rng.uniform(-1.2 * B, 1.2 * B, (xi.shape[0], 40))], axis=1)
    return pts.reshape(-1, 1), np.repeat(xi, pts.shape[1], axis=0)


@claim("spline inverse exact everywhere: knots, their neighbours, +-B, tails, interior",
       where="Durkan 2019 eqs. (6)-(8)", bound=5e-13,
       why="float64 floor: the root of a quadratic in a bin of width >= 1e-3, a few ulps "
           "divided by the slope; measured 1e-14",
       measures="largest |t - inv(fwd(t))|, also scaled near knots and tails (data units)")
def _():
    rng = np.random.default_rng(5)
    f = RationalQuadraticSpline(8, 3.0)
    t, xi = _spline_points(f, 0.5 * rng.standard_normal((400, 1, f.n_params)), rng)
    y, ld = f.forward(t, xi)
    t2, _ = f.inverse(y, xi)
    err = np.max(np.abs(t2 - t))
    # extreme parameters: flat pieces (slope down to 1e-8) make t ill-conditioned in y;
    # the error scaled by min(1, slope) stays at rounding level
    t3, xi3 = _spline_points(f, 6.0 * rng.standard_normal((400, 1, f.n_params)), rng)
    y3, ld3 = f.forward(t3, xi3)
    scaled = np.max(np.abs(f.inverse(y3, xi3)[0] - t3) * np.minimum(1, np.exp(ld3)))
    return max(err, scaled), (f"|t - inv(fwd(t))| = {err:.1e} (xi ~ N(0, 0.5^2)); "
                              f"times min(1, slope) with xi ~ N(0, 6^2): {scaled:.1e}")


@claim("spline discriminant never negative, one ulp below knots (expanded b^2-4ac is)",
       where="Durkan 2019 app. A eq. (8)", bound=0.0,
       why="exact: a count of negative values of a sum of non-negative terms",
       measures="number of negative discriminants (count; exactly 0 expected)")
def _():
    rng = np.random.default_rng(6)
    f = RationalQuadraticSpline(8, 3.0, min_derivative=1e-7)
    xi = 4.0 * rng.standard_normal((200_000, 1, f.n_params))
    knots, _ = spline_knots(xi, *f._args())                      # (n, 1, 4, K+1)
    y = np.nextafter(np.take_along_axis(knots[..., 1, :],
                                        rng.integers(1, 9, (xi.shape[0], 1, 1)), axis=-1)[..., 0],
                     -np.inf)
    k, ends = rq_bin(y, knots, 1)                                # bin of y, its two ends
    (x0, x1), (y0, y1), (d0, d1) = (np.moveaxis(ends[..., r, :], -1, 0) for r in range(3))
    h = y1 - y0
    s = h / (x1 - x0)
    e0, e1 = np.maximum(y - y0, 0), np.maximum(y1 - y, 0)
    ours = rq_discriminant(e0, e1, s, d0, d1)
    dd = d0 + d1 - 2 * s
    a, b, c = h * (s - d0) + e0 * dd, h * d0 - e0 * dd, -s * e0
    expanded = b * b - 4 * a * c
    t, _ = f.inverse(y, xi)
    if not np.all(np.isfinite(t)):
        return np.inf, "the inverse is not finite"
    return float(np.sum(ours < 0)), (f"negative: sum-of-squares form {np.sum(ours < 0)}, "
                                     f"expanded form {np.sum(expanded < 0)} of {y.size}")


# ---------------------------------------------------------------------- figures
@figure("s05_spline")
def spline_figure():
    """One rational-quadratic spline: the map with its knots, and its derivative."""
    import matplotlib.pyplot as plt
    f = RationalQuadraticSpline(6, 3.0)
    xi = np.random.default_rng(7).normal(0, 1.0, (1, 1, f.n_params))
    t = np.linspace(-4.5, 4.5, 1801)[:, None]
    xis = np.repeat(xi, t.shape[0], axis=0)
    y, ld = f.forward(t, xis)
    xk, yk, delta = (a[0, 0] for a in f.knots(xi))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(t, y, label=r"$\zeta(t)$")
    ax[0].plot(xk, yk, "o", color="C3", label="knots $(x_k, y_k)$")
    ax[0].plot(t, t, ":", color="gray", label="identity (tails)")
    ax[0].axvspan(-3, 3, color="C0", alpha=0.06)
    ax[0].set(xlabel="t", ylabel="y", title="rational-quadratic spline, K = 6, B = 3")
    ax[0].legend()
    ax[1].plot(t, np.exp(ld), label=r"$\partial_t\zeta$")
    ax[1].plot(xk, delta, "o", color="C3", label=r"knot derivatives $\delta_k$")
    ax[1].set(xlabel="t", ylabel="derivative", title="derivative (continuous, 1 at +-B)")
    ax[1].legend()
    fig.tight_layout()
    return fig


@figure("s05_quadrature")
def quadrature_figure():
    """UMNN value error and log-derivative gap against the number of Clenshaw-Curtis intervals."""
    import matplotlib.pyplot as plt
    ns, val, gap = quadrature_errors()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(ns, np.maximum(val, 1e-17), "o-", label="value: |computed - exact|")
    ax.semilogy(ns, np.maximum(gap, 1e-17), "s-",
                label=r"$|h(t) - \log \partial_t(\mathrm{computed})|$")
    ax.axhline(1e-10, color="gray", ls=":")
    ax.set(xlabel="Clenshaw-Curtis intervals N (N + 1 nodes)", ylabel="max error",
           title="UMNN-style transformer: quadrature error")
    ax.legend()
    fig.tight_layout()
    return fig

