r"""Quadrature for the report's normalization and KL claims (no claims here).

Composite Gauss-Legendre rules on intervals whose ends are the points where an integrand is
not smooth (a spline's knots, a radial flow's centre), so that each piece is integrated to
rounding: an ``m``-node rule is exact for polynomials of degree ``2m - 1`` and converges
geometrically on analytic pieces (Trefethen, *Approximation Theory and Approximation
Practice*, 2013, ch. 19). These integrate densities in the data space, independently of the
flows' own code: only ``logpdf`` is called.
"""

import numpy as np

__all__ = ["gl_nodes", "integrate_1d", "integrate_2d_tensor", "integrate_2d_nested",
           "integrate_2d_polar"]


def gl_nodes(breaks, m=16, pieces=1):
    """Nodes and weights of the ``m``-point Gauss-Legendre rule on every interval between
    consecutive sorted ``breaks`` (along the last axis; leading axes are batches), each
    interval split into ``pieces`` equal parts. Zero-length intervals get zero weight.

    Returns ``(x, w)`` of shape ``breaks.shape[:-1] + (n_intervals * pieces * m,)``.
    """
    b = np.sort(np.asarray(breaks, dtype=float), axis=-1)
    if pieces > 1:
        s = np.linspace(0.0, 1.0, pieces + 1)[:-1]
        lo, hi = b[..., :-1, None], b[..., 1:, None]
        left = lo + (hi - lo) * s
        b = np.concatenate([left.reshape(b.shape[:-1] + (-1,)), b[..., -1:]], axis=-1)
    t, wt = np.polynomial.legendre.leggauss(m)
    lo, hi = b[..., :-1, None], b[..., 1:, None]                   # (..., k, 1)
    x = 0.5 * (lo + hi) + 0.5 * (hi - lo) * t                      # (..., k, m)
    w = 0.5 * (hi - lo) * wt
    return x.reshape(b.shape[:-1] + (-1,)), w.reshape(b.shape[:-1] + (-1,))


def integrate_1d(logpdf, breaks, m=16, pieces=1):
    """``int exp(logpdf(x)) dx`` over ``[min(breaks), max(breaks)]``, ``x`` of shape (n, 1)."""
    x, w = gl_nodes(breaks, m, pieces)
    return float(w @ np.exp(logpdf(x[:, None])))


def integrate_2d_tensor(logpdf, breaks1, breaks2, m=12, pieces=1):
    """Tensor-product Gauss-Legendre over a box (a smooth density)."""
    x1, w1 = gl_nodes(breaks1, m, pieces)
    x2, w2 = gl_nodes(breaks2, m, pieces)
    X1, X2 = np.meshgrid(x1, x2, indexing="ij")
    dens = np.exp(logpdf(np.stack([X1.ravel(), X2.ravel()], 1))).reshape(X1.shape)
    return float(w1 @ dens @ w2)


def integrate_2d_nested(logpdf, breaks1, inner_breaks, m=12, pieces=1):
    """``int int p(x1, x2) dx2 dx1`` with the breaks of ``x2`` depending on ``x1``:
    ``inner_breaks(x1) -> (n1, k)`` (an autoregressive flow's knots given ``x_1``)."""
    x1, w1 = gl_nodes(breaks1, m, pieces)                           # (n1,)
    x2, w2 = gl_nodes(inner_breaks(x1), m, pieces)                  # (n1, n2)
    pts = np.stack([np.broadcast_to(x1[:, None], x2.shape).ravel(), x2.ravel()], 1)
    dens = np.exp(logpdf(pts)).reshape(x2.shape)
    return float(w1 @ np.sum(dens * w2, axis=1))


def integrate_2d_polar(logpdf, centre, radius, m=12, pieces=24, n_angles=96):
    """``int p(x) dx`` over the disc of ``radius`` about ``centre`` in polar coordinates:
    Gauss-Legendre in ``r`` (the integrand ``p r`` is smooth in ``r`` for a radial flow, whose
    density has a cusp at its centre in Cartesian coordinates), the trapezoidal rule in the
    angle (periodic: geometric convergence)."""
    r, wr = gl_nodes([0.0, radius], m, pieces)
    th = 2 * np.pi * np.arange(n_angles) / n_angles
    R, T = np.meshgrid(r, th, indexing="ij")
    pts = np.asarray(centre)[None, :] + np.stack([(R * np.cos(T)).ravel(),
                                                  (R * np.sin(T)).ravel()], 1)
    dens = np.exp(logpdf(pts)).reshape(R.shape)
    return float((wr * r) @ dens.sum(1) * (2 * np.pi / n_angles))
