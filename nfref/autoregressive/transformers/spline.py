r"""Monotone rational-quadratic spline transformer (notes 000, sec. 4.1; Durkan, Bekasov,
Murray and Papamakarios, 2019, "Neural Spline Flows", sec. 3.1, eqs. (4)-(8), appendix A).

On :math:`[-B, B]` the map is a monotone rational-quadratic spline with :math:`K` bins;
outside it is the identity (linear tails), and the boundary derivatives are 1, so the
map is :math:`C^1` on R.

Parameters per dimension, ``xi = (u^w_{1:K}, u^h_{1:K}, u^d_{1:K-1})`` (``k = 3K - 1``),
unconstrained:

.. math::
    w_j = 2B\big(m_w + (1 - K m_w)\operatorname{softmax}(u^w)_j\big),\quad
    h_j = 2B\big(m_h + (1 - K m_h)\operatorname{softmax}(u^h)_j\big),\quad
    \delta_j = m_\delta + \operatorname{softplus}(u^d_j),

knots :math:`x_k = -B + \sum_{j<k} w_j`, :math:`y_k = -B + \sum_{j<k} h_j`
(:math:`x_0 = y_0 = -B`, :math:`x_K = y_K = B` set exactly), :math:`\delta_0 = \delta_K = 1`.

Forward, in bin :math:`k` (Durkan et al., eqs. (4)-(5) and appendix A), with
:math:`s = h_k/w_k`, :math:`\xi = (x - x_k)/w_k \in [0, 1]`, :math:`q = \xi(1-\xi)`,
:math:`\Delta = \delta_k + \delta_{k+1} - 2s`:

.. math::
    y = y_k + h_k R, \quad R = \frac{s\xi^2 + \delta_k q}{D},\quad D = s + \Delta q,
    \qquad
    \frac{dy}{dx} = \frac{s^2 M}{D^2},\quad M = \delta_{k+1}\xi^2 + 2sq + \delta_k(1-\xi)^2.

Inverse (Durkan et al., eqs. (6)-(8)): :math:`\xi` solves
:math:`a\xi^2 + b\xi + c = 0` with :math:`e_0 = y - y_k`, :math:`e_1 = y_{k+1} - y`,

.. math::
    a = h_k(s - \delta_k) + e_0\Delta = h_k s - b,\quad b = h_k\delta_k - e_0\Delta,\quad
    c = -s e_0 .

Expanding :math:`b^2 - 4ac` (with :math:`h_k = e_0 + e_1`) gives a sum of non-negative
terms,

.. math:: b^2 - 4ac = (\delta_k e_1 - \delta_{k+1} e_0)^2 + 4 s^2 e_0 e_1 ,

which is how it is computed here, with :math:`e_0, e_1` clipped at 0: it cannot go
negative by rounding, on knots, at the boundary or anywhere (it is 0 only if
:math:`h_k = 0`). The root is taken without cancellation: for :math:`b \ge 0`,
:math:`\xi = 2 s e_0 / (b + \sqrt{b^2-4ac})` (Durkan et al.'s eq. (8)); for :math:`b < 0`,
:math:`a = h_k s - b > 0` and :math:`\xi = (-b + \sqrt{b^2-4ac}) / (2a)`.

Gradients (derived here). Partial derivatives of :math:`R(\xi, s, \delta_k,
\delta_{k+1})` and of :math:`\lambda = \log(dy/dx) = 2\log s + \log M - 2\log D`:

.. math::
    R_\xi = \frac{sM}{D^2},\quad R_s = \frac{\xi^2 D - P(1-2q)}{D^2},\quad
    R_{\delta_k} = \frac{q(D - P)}{D^2},\quad R_{\delta_{k+1}} = -\frac{qP}{D^2},
    \quad (P = s\xi^2 + \delta_k q),

.. math::
    \lambda_\xi = \frac{M_\xi}{M} - \frac{2\Delta(1-2\xi)}{D},\quad
    \lambda_s = \frac{2}{s} + \frac{2q}{M} - \frac{2(1-2q)}{D},\quad
    \lambda_{\delta_k} = \frac{(1-\xi)^2}{M} - \frac{2q}{D},\quad
    \lambda_{\delta_{k+1}} = \frac{\xi^2}{M} - \frac{2q}{D},

with :math:`M_\xi = 2\delta_{k+1}\xi + 2s(1-2\xi) - 2\delta_k(1-\xi)`. Through
:math:`\xi = (x-x_k)/w_k` and :math:`s = h_k/w_k`, for :math:`f \in \{y, \lambda\}`
(:math:`f = y` has the extra factor :math:`h_k` on :math:`R`):

.. math::
    \partial_x f = \frac{f_\xi}{w_k},\ \ \partial_{x_k} f = -\frac{f_\xi}{w_k},\ \
    \partial_{w_k} f = -\frac{\xi f_\xi + s f_s}{w_k},\ \
    \partial_{h_k} y = R + s R_s,\ \ \partial_{h_k}\lambda = \frac{\lambda_s}{w_k},\ \
    \partial_{y_k} y = 1 .

Then :math:`\partial/\partial w_j` collects :math:`\partial_{w_k}` (for :math:`j = k`)
and :math:`\partial_{x_k}` (for :math:`j < k`, since :math:`x_k` sums :math:`w_{j<k}`);
the same for heights. Through the softmax,
:math:`\partial w_j/\partial u^w_i = 2B(1-Km_w)\,p_j(\mathbb{1}_{ij} - p_i)`, so
:math:`g_{u^w_i} = 2B(1-Km_w)\,p_i(g_{w_i} - \sum_j p_j g_{w_j})`; through the softplus,
:math:`\partial\delta_j/\partial u^d_j = \operatorname{sigmoid}(u^d_j)`. Outside
:math:`[-B, B]`, :math:`y = x`, :math:`\lambda = 0`, and only :math:`\partial_x y = 1`.
The inverse's gradient is the implicit-function rule of :mod:`nfref.autoregressive.transformers.base`
(exact here, since the inverse is exact) in one pass: with upstream :math:`g_x, g_\lambda` at
:math:`x = \zeta^{-1}(y)`, :math:`\sigma = (g_x + g_\lambda\partial_x\lambda)/\zeta'(x)` is
:math:`\nabla_y`, and :math:`\nabla_\xi` is the forward rule above with upstream
:math:`(-\sigma, g_\lambda)`.

Floating point. The position in the bin :math:`\xi = (x - x_k)/w_k` and its complement
:math:`1 - \xi = (x_{k+1} - x)/w_k` are computed separately, each from its own knot, and
every formula uses the one it means (:math:`q = \xi(1-\xi)`, :math:`M`, the value from the
nearer knot); the inverse solves for both from :math:`e_0` and :math:`e_1` (the mirrored
quadratic). So a value cannot leave its bin, whatever the knot derivatives. A bin whose
knot derivative is so large that float64 cannot resolve it (the inverse's rounding error
:math:`\epsilon|y|\delta/s^2` above the bin's width; :func:`_check_representable`) is
refused with a ``ValueError``.

One pass per direction. :func:`spline_knots` computes the knots (softmax, cumulative sum,
softplus) once per pass, :func:`rq_bin` finds the bin and gathers its two ends of every knot
array in one indexing step, :func:`rq_forward` or :func:`rq_inverse` evaluates the map, and
:func:`rq_pullback` reuses all of it (knots, bin, bin coordinate, :math:`D`, :math:`M`) for
the gradient: nothing of the pass is computed again.
"""

from typing import NamedTuple

import numpy as np

from nfref._validation import as_float, as_int
from nfref.autoregressive.transformers.base import Transformer
from nfref.numerics import EPS, sigmoid, softmax, softplus

__all__ = ["RationalQuadraticSpline", "spline_knots", "rq_bin", "rq_forward", "rq_inverse",
           "rq_discriminant", "rq_pullback", "RQBins"]


def spline_knots(xi, n_bins, bound, min_width, min_height, min_derivative):
    r"""Knots of the spline from unconstrained ``xi (n, d, 3K-1)`` (module docstring).

    Returns
    -------
    knots : ndarray, shape (n, d, 4, K+1)
        Rows :math:`x_k`, :math:`y_k` (from :math:`-B` to :math:`B`, ends set exactly),
        :math:`\delta_k` (with :math:`\delta_0 = \delta_K = 1`) and the raw :math:`u^d_k`
        (0 at the two ends, which have none), so that one gather gives a bin all it needs.
    probs : ndarray, shape (n, d, 2, K)
        The softmax probabilities of the widths and of the heights (for the pullback).
    """
    K = n_bins
    lead = xi.shape[:-1]
    probs = softmax(xi[..., :2 * K].reshape(lead + (2, K)))               # (n, d, 2, K)
    minimum = np.array([[min_width], [min_height]])                       # (2, 1)
    sizes = probs * (2.0 * bound * (1.0 - K * minimum))                  # (n, d, 2, K)
    sizes += 2.0 * bound * minimum
    # knots = -B + the partial sums of the sizes, added in order along the row: the same
    # numbers whatever the batch (a matrix product with a triangle of ones lets BLAS pick
    # an order of summation that depends on the number of rows, which moves a knot by an
    # ulp and a tiny bin's h = y_{k+1} - y_k, a difference of nearly equal knots, by 500)
    knots = np.empty(lead + (4, K + 1))
    knots[..., :2, 0] = 0.0
    np.cumsum(sizes, axis=-1, out=knots[..., :2, 1:])
    knots[..., :2, :] -= bound
    knots[..., :2, 0], knots[..., :2, -1] = -bound, bound
    ud = xi[..., 2 * K:]                                                  # (n, d, K-1)
    knots[..., 2, 1:K] = softplus(ud)
    knots[..., 2, 1:K] += min_derivative
    knots[..., 2, 0] = knots[..., 2, -1] = 1.0
    knots[..., 3, 1:K] = ud
    knots[..., 3, 0] = knots[..., 3, -1] = 0.0
    _check_representable(knots, sizes)
    return knots, probs


def _check_representable(knots, sizes):
    r"""Refuse bins that float64 cannot resolve (``ValueError``).

    With :math:`\delta = \max(\delta_k, \delta_{k+1}) \gg s = h_k/w_k`, the bin's smallest
    slope is about :math:`s^2/\delta` (:math:`1/\rho` times :math:`s` for the ratio
    :math:`\rho = \delta/s`), so a value known to :math:`\epsilon\,m`,
    :math:`m = \max(|y_k|, |y_{k+1}|)`, pins the input down only to
    :math:`\epsilon m\delta/s^2`. Where that exceeds the bin's width,
    :math:`\epsilon m\delta w_k/h_k^2 > 1`, the bin's interior is flat to within rounding
    and no float64 inverse can recover its points: the spline is refused. (A knot derivative
    of 1e16 next to a bin of height and width 1.5 is refused; 1e14 passes, with a round trip
    good to about 2% of the bin, which the conditioning predicts.)
    """
    delta, y = knots[..., 2, :], knots[..., 1, :]
    w, h = sizes[..., 0, :], sizes[..., 1, :]                            # (n, d, K)
    m = np.maximum(np.abs(y[..., :-1]), np.abs(y[..., 1:]))
    with np.errstate(over="ignore", invalid="ignore"):
        blur = EPS * m * np.maximum(delta[..., :-1], delta[..., 1:]) * (w / (h * h))
    if not np.all(blur <= 1.0):
        worst = float(np.max(np.where(np.isnan(blur), np.inf, blur)))
        raise ValueError("RationalQuadraticSpline: xi gives a knot derivative so large that "
                         f"float64 cannot resolve its bin (the inverse's rounding error is "
                         f"{worst:.3g} times the bin's width; expected at most 1, i.e. knot "
                         "derivatives below h_k^2 / (eps |y| w_k))")


def _bin(v, edges):
    """Index ``k`` of the bin ``[edges_k, edges_{k+1}]`` holding ``v`` (0..K-1; 0 below,
    K-1 above)."""
    return np.count_nonzero(v[..., None] >= edges[..., 1:-1], axis=-1)


def rq_bin(v, knots, row):
    """Bin ``k (n, d)`` of ``v`` among ``knots[..., row, :]`` (0: by ``x``, 1: by ``y``) and
    the two ends of that bin in every row, in one gather: ``ends (n, d, 4, 2)``,
    ``ends[..., r, 0]`` the row-``r`` knot at ``k`` and ``ends[..., r, 1]`` the one at
    ``k + 1``."""
    k = _bin(v, knots[..., row, :])                                       # (n, d)
    return k, _gather(knots, k, 2)                                        # (n, d, 4, 2)


def _gather(a, k, width):
    """``a[..., r, k:k + width]`` for every row ``r`` of ``a (n, d, R, m)`` at the per-element
    index ``k (n, d)``, shape ``(n, d, R, width)``: plain integer indexing of the flattened
    rows (several times cheaper than ``take_along_axis`` here)."""
    R, m = a.shape[-2:]
    flat = a.reshape(-1, m)
    rows = np.arange(flat.shape[0])
    cols = np.repeat(k.ravel(), R)
    out = np.empty((flat.shape[0], width))
    for c in range(width):
        out[:, c] = flat[rows, cols + c]
    return out.reshape(k.shape + (R, width))


class RQBins(NamedTuple):
    """What a pass keeps for its pullback, each (n, d): ``inside`` :math:`[-B, B]`, bin
    ``k``, bin coordinate ``u`` (:math:`\\xi` of the module docstring) and its complement
    ``ur`` (:math:`1 - \\xi`, computed from the right end), ``w, h, s``, ``d0, d1``
    (:math:`\\delta_k, \\delta_{k+1}`), ``q = u ur``, ``D, M``, and ``logderiv``."""

    inside: np.ndarray
    k: np.ndarray
    u: np.ndarray
    ur: np.ndarray
    w: np.ndarray
    h: np.ndarray
    s: np.ndarray
    d0: np.ndarray
    d1: np.ndarray
    q: np.ndarray
    D: np.ndarray
    M: np.ndarray
    logderiv: np.ndarray


def _bins(inside, k, u, ur, ends):
    """:class:`RQBins` at bin coordinate ``u`` and its complement ``ur``: ``q, D, M`` and
    ``logderiv`` :math:`= 2\\log(s/D) + \\log M` inside, 0 on the tails.

    Every product that means :math:`1 - \\xi` uses ``ur``, never ``1 - u``: next to a knot
    whose derivative is large (``1e16``) ``1 - u`` rounds to 0 while ``ur`` does not, and a
    denominator :math:`D = s + \\Delta\\,\\xi(1-\\xi)` that saw the one with a numerator that
    saw the other threw the value out of its bin."""
    x0, y0, d0 = ends[..., 0, 0], ends[..., 1, 0], ends[..., 2, 0]
    w, h, d1 = ends[..., 0, 1] - x0, ends[..., 1, 1] - y0, ends[..., 2, 1]
    s = h / w
    q = u * ur
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        D = s + (d0 + d1 - 2.0 * s) * q                 # overflow: refused by the base
        M = d1 * u * u + 2.0 * s * q + d0 * ur * ur
        ld = np.where(inside, 2.0 * np.log(s / D) + np.log(M), 0.0)
    return RQBins(inside, k, u, ur, w, h, s, d0, d1, q, D, M, ld)


def rq_forward(x, knots):
    r"""``(y, logderiv, bins, ends)`` of the spline with identity tails at ``x (n, d)``;
    ``knots`` from :func:`spline_knots`, ``bins`` (:class:`RQBins`) and ``ends`` (from
    :func:`rq_bin`) for :func:`rq_pullback`.

    Near the right end of a bin the value is taken from the right knot,
    :math:`y = y_{k+1} - h_k(1-R)` with :math:`1 - R = (1-\xi)(s(1-\xi) + \delta_{k+1}\xi)/D`
    (the same rational function), so that rounding cannot lift it above :math:`y_{k+1}`
    and the map stays monotone across knots in floating point.
    """
    B = knots[..., 0, -1]
    inside = (x >= -B) & (x <= B)
    k, ends = rq_bin(x, knots, 0)
    x0, x1 = ends[..., 0, 0], ends[..., 0, 1]
    w = x1 - x0
    u = np.clip((x - x0) / w, 0.0, 1.0)                                   # (n, d)
    ur = np.clip((x1 - x) / w, 0.0, 1.0)                                  # 1 - u, directly
    bins = _bins(inside, k, u, ur, ends)
    h, s, D = bins.h, bins.s, bins.D
    y0, y1 = ends[..., 1, 0], ends[..., 1, 1]
    with np.errstate(over="ignore", invalid="ignore"):
        left = y0 + h * (u * (s * u + bins.d0 * ur) / D)
        right = y1 - h * (ur * (s * ur + bins.d1 * u) / D)
    # R and 1 - R lie in [0, 1] in exact arithmetic; the clip keeps rounding in the bin
    y = np.where(inside, np.clip(np.where(u <= 0.5, left, right), y0, y1), x)
    return y, bins.logderiv, bins, ends


def rq_discriminant(e0, e1, s, d0, d1):
    r""":math:`b^2 - 4ac = (\delta_k e_1 - \delta_{k+1} e_0)^2 + 4 s^2 e_0 e_1`, with
    :math:`e_0 = y - y_k \ge 0`, :math:`e_1 = y_{k+1} - y \ge 0`: non-negative in floating
    point too (a square plus a product of non-negative numbers)."""
    return (d0 * e1 - d1 * e0) ** 2 + 4.0 * s * s * e0 * e1


def rq_inverse(y, knots):
    """``(x, logderiv, bins, ends)``: the stable root of the module docstring at ``y (n, d)``,
    with ``logderiv = log dy/dx`` at ``x`` (the forward sign), and ``bins, ends`` for
    :func:`rq_pullback`."""
    B = knots[..., 1, -1]
    inside = (y >= -B) & (y <= B)
    k, ends = rq_bin(y, knots, 1)
    x0, w = ends[..., 0, 0], ends[..., 0, 1] - ends[..., 0, 0]
    y0, y1 = ends[..., 1, 0], ends[..., 1, 1]
    d0, d1 = ends[..., 2, 0], ends[..., 2, 1]
    h = y1 - y0
    s = h / w
    yc = np.clip(y, -B, B)                                                # tails: unused
    e0 = np.maximum(yc - y0, 0.0)                                         # (n, d)
    e1 = np.maximum(y1 - yc, 0.0)
    # sqrt(b^2 - 4ac) as a hypotenuse: no overflow for knot derivatives up to 1e308
    root = np.hypot(d0 * e1 - d1 * e0, 2.0 * s * np.sqrt(e0 * e1))
    # xi from the left end and 1 - xi from the right one (the same root of the mirrored bin:
    # e0 <-> e1, delta_k <-> delta_{k+1}), each without cancellation, so that both ends of a
    # bin keep their digits next to a steep knot
    u = _stable_root(e0, e1, s, d0, d1, root)
    ur = _stable_root(e1, e0, s, d1, d0, root)
    bins = _bins(inside, k, u, ur, ends)
    x = np.where(u <= 0.5, x0 + u * w, ends[..., 0, 1] - ur * w)
    return np.where(inside, x, y), bins.logderiv, bins, ends


def _stable_root(e0, e1, s, d0, d1, root):
    r"""The root :math:`\xi \in [0, 1]` of :math:`a\xi^2 + b\xi + c = 0` (module docstring)
    with ``root`` :math:`= \sqrt{b^2 - 4ac}`, and
    :math:`b = h_k\delta_k - e_0\Delta = \delta_k e_1 - \delta_{k+1}e_0 + 2se_0` written
    without the cancellation of :math:`h_k\delta_k` against :math:`e_0\delta_{k+1}` (large
    knot derivatives): :math:`2se_0/(b + \sqrt{\cdot})` for :math:`b \ge 0`,
    :math:`(\sqrt{\cdot} - b)/(2a)` with :math:`a = h_k s - b > 0` otherwise."""
    b = d0 * e1 - d1 * e0 + 2.0 * s * e0
    pos = b >= 0
    # each branch divides by a positive number on its own side; the other side is unused
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        u = np.where(pos, 2.0 * s * e0 / np.where(pos, b + root, 1.0),
                     (root - b) / np.where(pos, 1.0, 2.0 * (s * (e0 + e1) - b)))
    return np.clip(u, 0.0, 1.0)


def rq_pullback(bins, ends, probs, g_out, gld, n_bins, bound, min_width, min_height,
                min_derivative, inverse=False):
    r"""The gradient of a pass from what it kept (module docstring): ``(g_in (n, d),
    gxi (n, d, 3K-1))``.

    ``bins`` and ``ends`` are the pass's (:class:`RQBins`, and the bin's ends from
    :func:`rq_bin`), ``probs`` from :func:`spline_knots`. Forward (``inverse=False``):
    ``g_out`` is :math:`g_y`, the result the gradient of ``sum(gy*y) + sum(gld*logderiv)``
    w.r.t. ``x`` and ``xi``. Inverse: ``bins`` come from :func:`rq_inverse`, ``g_out`` is
    :math:`g_x` and the result the gradient of ``sum(gx*x) + sum(gld*logderiv)`` w.r.t.
    ``y`` and ``xi``: the implicit rule :math:`\sigma = (g_x + g_\lambda\partial_x\lambda)/y'`,
    :math:`\nabla_y = \sigma`, and the forward rule with upstream :math:`(-\sigma, g_\lambda)`
    for :math:`\nabla_\xi`.

    Through the softmax, with :math:`g_j = G_{x_k}` for :math:`j < k`, :math:`G_{w_k}` for
    :math:`j = k` and 0 above, :math:`S = \sum_j p_j g_j = G_{x_k} P_{<k} + G_{w_k} p_k`
    where :math:`P_{<k} = \sum_{j<k} p_j = (x_k + B - 2Bm_w k)/(2B(1 - Km_w))` is read off
    the knot; :math:`g_{u^w_j} = 2B(1-Km_w)\,p_j(g_j - S)` is then formed from the masks
    :math:`j < k` and :math:`j = k`.
    """
    K = n_bins
    inside, k, t, tr, w, h, s, d0, d1, q, D, M, _ = bins        # tr = 1 - t, from the right
    D2 = D * D
    P = s * t * t + d0 * q
    dd = d0 + d1 - 2.0 * s
    # partials of R and lambda in (xi, s, d0, d1)
    R_t, R_s = s * M / D2, (t * t * D - P * (1.0 - 2.0 * q)) / D2
    R_d0, R_d1 = q * (D - P) / D2, -q * P / D2
    M_t = 2.0 * d1 * t + 2.0 * s * (tr - t) - 2.0 * d0 * tr
    l_t = M_t / M - 2.0 * dd * (tr - t) / D
    l_s = 2.0 / s + 2.0 * q / M - 2.0 * (1.0 - 2.0 * q) / D
    l_d0, l_d1 = tr * tr / M - 2.0 * q / D, t * t / M - 2.0 * q / D
    if inverse:                                  # sigma = (g_x + g_l dlambda/dx) / (dy/dx)
        g_in = np.where(inside, (g_out + gld * l_t / w) / (s * R_t), g_out)
        gy = -g_in
    else:
        gy = g_out
    # combine the two upstream gradients: G_f = gy * dy/df + gld * dlambda/df
    G_t = gy * h * R_t + gld * l_t                                        # w.r.t. xi (bin coord)
    if not inverse:
        g_in = np.where(inside, G_t / w, gy)
    zero = inside.astype(float)                                           # no xi-gradient outside
    G_t, gy, gld = G_t * zero, gy * zero, gld * zero
    G_k = np.stack([-(t * G_t + s * (gy * h * R_s + gld * l_s)) / w,     # w_k, h_k: (n, d, 2)
                    gy * (P / D + s * R_s) + gld * l_s / w], axis=-1)
    G_below = np.stack([-G_t / w, gy], axis=-1)                           # x_k, y_k: (n, d, 2)
    # softmax: S = G_below P_{<k} + G_k p_k
    scale = 2.0 * bound * (1.0 - K * np.array([min_width, min_height]))  # (2,)
    p_below = (ends[..., :2, 0] + bound
               - 2.0 * bound * np.array([min_width, min_height]) * k[..., None]) / scale
    p_k = _gather(probs, k, 1)[..., 0]                                    # (n, d, 2)
    S = G_below * p_below + G_k * p_k
    gxi = np.empty(k.shape + (3 * K - 1,))
    j = np.arange(K)
    below, at = j < k[..., None], j == k[..., None]                       # (n, d, K) masks
    g_u = below[..., None, :] * G_below[..., None] + at[..., None, :] * G_k[..., None]
    g_u -= S[..., None]                                                   # (n, d, 2, K)
    g_u *= probs
    g_u *= scale[:, None]
    gxi[..., :2 * K] = g_u.reshape(k.shape + (2 * K,))
    # delta_j for j = 1..K-1 is delta_k (j = k) or delta_{k+1} (j = k + 1), and
    # d delta_j / d u^d_j = sigmoid(u^d_j)
    sig = sigmoid(ends[..., 3, :])                                        # (n, d, 2)
    g_ud = gxi[..., 2 * K:]                                               # (n, d, K-1) view
    g_ud[...] = 0.0
    np.copyto(g_ud, ((gy * h * R_d0 + gld * l_d0) * sig[..., 0])[..., None], where=at[..., 1:])
    np.copyto(g_ud, ((gy * h * R_d1 + gld * l_d1) * sig[..., 1])[..., None], where=at[..., :-1])
    return g_in, gxi


class RationalQuadraticSpline(Transformer):
    r"""Monotone rational-quadratic spline on :math:`[-B, B]`, identity outside.

    See the module docstring for the parameterization, the formulas and the gradients.
    :meth:`identity_xi` gives equal bins and unit knot derivatives, i.e. the identity.

    Parameters
    ----------
    n_bins : int
        ``K``; ``n_params = 3K - 1``.
    bound : float
        ``B > 0``.
    min_width, min_height, min_derivative : float
        Minimum bin width and height (as a fraction of :math:`2B`, ``K m < 1``) and knot
        derivative.

    Examples
    --------
    >>> import numpy as np
    >>> f = RationalQuadraticSpline(n_bins=4, bound=3.0)
    >>> t = np.array([[-5.0, -1.0, 2.9]])
    >>> y, ld = f.forward(t, f.identity_xi(t.shape))
    >>> np.allclose(y, t, atol=1e-14), np.allclose(ld, 0, atol=1e-14)
    (True, True)
    """

    def __init__(self, n_bins=8, bound=3.0, min_width=1e-3, min_height=1e-3,
                 min_derivative=1e-3):
        who = "RationalQuadraticSpline"
        n_bins = as_int(n_bins, f"{who}: n_bins", minimum=1)
        bound = as_float(bound, f"{who}: bound", low=0.0, low_open=True)
        min_width, min_height = (as_float(m, f"{who}: {name}", low=0.0, high=1.0 / n_bins,
                                          high_open=True)
                                 for name, m in (("min_width", min_width),
                                                 ("min_height", min_height)))
        for name, m in (("min_width", min_width), ("min_height", min_height)):
            if not n_bins * m < 1:                   # 1/n_bins itself rounded below n_bins m
                raise ValueError(f"{who}: {name}: expected 0 <= {name} < 1/n_bins "
                                 f"= {1 / n_bins:.3g}, got {m!r}")
        min_derivative = as_float(min_derivative, f"{who}: min_derivative", low=0.0, high=1.0,
                                  low_open=True, high_open=True)
        self.n_bins, self.bound = n_bins, bound
        self.min_width, self.min_height = min_width, min_height
        self.min_derivative = min_derivative
        self.n_params = 3 * self.n_bins - 1

    def _args(self):
        return self.n_bins, self.bound, self.min_width, self.min_height, self.min_derivative

    def knots(self, xi):
        """``(xk, yk, delta)``, each ``xi.shape[:-1] + (K + 1,)``: knots and knot derivatives."""
        xi = np.asarray(xi, dtype=np.float64)
        if xi.ndim < 1 or xi.shape[-1] != self.n_params:
            raise ValueError(f"RationalQuadraticSpline.knots: expected xi of shape "
                             f"(..., {self.n_params}), got {xi.shape}")
        knots, _ = spline_knots(xi, *self._args())
        return knots[..., 0, :], knots[..., 1, :], knots[..., 2, :]

    def _forward_and_vjp(self, t, xi):
        knots, probs = spline_knots(xi, *self._args())
        y, ld, bins, ends = rq_forward(t, knots)

        def back(gy, gld):
            return rq_pullback(bins, ends, probs, gy, gld, *self._args())
        return y, ld, back

    def _inverse_and_vjp(self, y, xi):
        """The exact inverse and, in one pass, the implicit rule of the base class."""
        knots, probs = spline_knots(xi, *self._args())
        t, ld, bins, ends = rq_inverse(y, knots)

        def back(gt, gld):
            return rq_pullback(bins, ends, probs, gt, gld, *self._args(), inverse=True)
        return t, ld, back

    def identity_xi(self, shape):
        xi = np.zeros(tuple(shape) + (self.n_params,))
        xi[..., 2 * self.n_bins:] = np.log(np.expm1(1.0 - self.min_derivative))
        return xi

    def __repr__(self):
        return f"RationalQuadraticSpline(n_bins={self.n_bins}, bound={self.bound})"
