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
(exact here, since the inverse is exact), evaluated in one pass by ``rq_vjp(..., inverse=True)``.
"""

import numpy as np

from nfref.autoregressive.transformers.base import Transformer

__all__ = ["RationalQuadraticSpline", "spline_knots", "rq_forward", "rq_inverse",
           "rq_discriminant", "rq_vjp"]


def _softmax(u):
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(u):
    return np.exp(-np.logaddexp(0.0, -u))


def _knots(p, bound, minimum):
    """Bin sizes ``2B(m + (1 - K m) p)`` and their knots from ``-B`` to ``B`` (exact ends)."""
    K = p.shape[-1]
    sizes = 2.0 * bound * (minimum + (1.0 - K * minimum) * p)          # (n, d, K)
    knots = np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(sizes, -1)], -1) - bound
    knots[..., 0], knots[..., -1] = -bound, bound
    return knots                                                        # (n, d, K+1)


def spline_knots(xi, n_bins, bound, min_width, min_height, min_derivative):
    """Knots ``xk, yk (n, d, K+1)``, knot derivatives ``delta (n, d, K+1)`` and the
    softmax probabilities ``pw, ph (n, d, K)`` from unconstrained ``xi (n, d, 3K-1)``."""
    K = n_bins
    pw, ph = _softmax(xi[..., :K]), _softmax(xi[..., K:2 * K])
    ud = xi[..., 2 * K:]
    ones = np.ones(xi.shape[:-1] + (1,))
    delta = np.concatenate([ones, min_derivative + np.logaddexp(0.0, ud), ones], -1)
    return (_knots(pw, bound, min_width), _knots(ph, bound, min_height), delta, pw, ph)


def _take(a, k):
    """``a[..., k]`` for a per-element bin index ``k (n, d)``."""
    return np.take_along_axis(a, k[..., None], axis=-1)[..., 0]


def _bin(v, knots):
    """Index ``k`` of the bin ``[knots_k, knots_{k+1}]`` holding ``v`` (0..K-1)."""
    return np.sum(v[..., None] >= knots[..., 1:-1], axis=-1)


def _local(v, k, xk, yk, delta):
    """Bin quantities for bin ``k``: ``x_k, w, y_k, h, s, d0, d1`` (each (n, d))."""
    x0, w = _take(xk, k), _take(xk, k + 1) - _take(xk, k)
    y0, h = _take(yk, k), _take(yk, k + 1) - _take(yk, k)
    return x0, w, y0, h, h / w, _take(delta, k), _take(delta, k + 1)


def _rq(xi_, s, d0, d1):
    """``R, M, D, P, q`` of the module docstring at ``xi_ in [0, 1]``."""
    q = xi_ * (1.0 - xi_)
    P = s * xi_ * xi_ + d0 * q
    D = s + (d0 + d1 - 2.0 * s) * q
    M = d1 * xi_ * xi_ + 2.0 * s * q + d0 * (1.0 - xi_) ** 2
    return P / D, M, D, P, q


def rq_forward(x, xk, yk, delta):
    r"""``(y, logderiv)`` of the spline with identity tails; knots from :func:`spline_knots`.

    Near the right end of a bin the value is taken from the right knot,
    :math:`y = y_{k+1} - h_k(1-R)` with :math:`1 - R = (1-\xi)(s(1-\xi) + \delta_{k+1}\xi)/D`
    (the same rational function), so that rounding cannot lift it above :math:`y_{k+1}`
    and the map stays monotone across knots in floating point.
    """
    B = xk[..., -1]
    inside = (x >= -B) & (x <= B)
    k = _bin(x, xk)
    x0, w, y0, h, s, d0, d1 = _local(x, k, xk, yk, delta)
    xi_ = np.clip((x - x0) / w, 0.0, 1.0)
    xr = np.clip((_take(xk, k + 1) - x) / w, 0.0, 1.0)                 # 1 - xi, directly
    _, M, D, _, _ = _rq(xi_, s, d0, d1)
    left = y0 + h * xi_ * (s * xi_ + d0 * xr) / D
    right = _take(yk, k + 1) - h * xr * (s * xr + d1 * xi_) / D
    y = np.where(inside, np.where(xi_ <= 0.5, left, right), x)
    ld = np.where(inside, 2.0 * np.log(s) + np.log(M) - 2.0 * np.log(D), 0.0)
    return y, ld


def rq_discriminant(e0, e1, s, d0, d1):
    r""":math:`b^2 - 4ac = (\delta_k e_1 - \delta_{k+1} e_0)^2 + 4 s^2 e_0 e_1`, with
    :math:`e_0 = y - y_k \ge 0`, :math:`e_1 = y_{k+1} - y \ge 0`: non-negative in floating
    point too (a square plus a product of non-negative numbers)."""
    return (d0 * e1 - d1 * e0) ** 2 + 4.0 * s * s * e0 * e1


def rq_inverse(y, xk, yk, delta):
    """``(x, logderiv)`` with ``logderiv = log dy/dx`` at ``x``: the stable root (docstring)."""
    B = yk[..., -1]
    inside = (y >= -B) & (y <= B)
    k = _bin(y, yk)
    x0, w, y0, h, s, d0, d1 = _local(y, k, xk, yk, delta)
    e0 = np.maximum(y - y0, 0.0)                                        # (n, d)
    e1 = np.maximum(_take(yk, k + 1) - y, 0.0)
    b = h * d0 - e0 * (d0 + d1 - 2.0 * s)
    root = np.sqrt(rq_discriminant(e0, e1, s, d0, d1))
    pos = b >= 0
    # each branch divides by a positive number on its own side; the other side is unused
    xi_ = np.where(pos, 2.0 * s * e0 / np.where(pos, b + root, 1.0),
                   (root - b) / np.where(pos, 1.0, 2.0 * (h * s - b)))
    xi_ = np.clip(xi_, 0.0, 1.0)
    _, M, D, _, _ = _rq(xi_, s, d0, d1)
    x = np.where(inside, x0 + xi_ * w, y)
    ld = np.where(inside, 2.0 * np.log(s) + np.log(M) - 2.0 * np.log(D), 0.0)
    return x, ld


def _softmax_vjp(g, p, bound, minimum):
    K = p.shape[-1]
    return 2.0 * bound * (1.0 - K * minimum) * p * (g - np.sum(p * g, -1, keepdims=True))


def rq_vjp(x, xi, gy, gld, n_bins, bound, min_width, min_height, min_derivative,
           inverse=False):
    r"""Gradient of ``sum(gy*y) + sum(gld*logderiv)``: ``gx (n, d)``, ``gxi (n, d, 3K-1)``.

    With ``inverse=True``, ``x`` is the inverse's output at some ``y``, ``gy`` is the upstream
    gradient of ``x`` and the result is the inverse direction's ``(gy, gxi)``: the implicit
    rule of :mod:`nfref.autoregressive.transformers.base`, :math:`s = (g_x + g_\lambda\partial_x\lambda)/y'`,
    :math:`\nabla_y = s`, :math:`\nabla_\xi = g_\lambda\partial_\xi\lambda - s\,\partial_\xi y`,
    in one pass (the forward rule below with upstream :math:`(-s, g_\lambda)`).
    """
    K = n_bins
    xk, yk, delta, pw, ph = spline_knots(xi, K, bound, min_width, min_height, min_derivative)
    inside = (x >= -bound) & (x <= bound)
    k = _bin(x, xk)
    x0, w, y0, h, s, d0, d1 = _local(x, k, xk, yk, delta)
    t = np.clip((x - x0) / w, 0.0, 1.0)                                 # xi in the docstring
    R, M, D, P, q = _rq(t, s, d0, d1)
    D2 = D * D
    # partials of R and lambda in (xi, s, d0, d1)
    R_t, R_s = s * M / D2, (t * t * D - P * (1.0 - 2.0 * q)) / D2
    R_d0, R_d1 = q * (D - P) / D2, -q * P / D2
    M_t = 2.0 * d1 * t + 2.0 * s * (1.0 - 2.0 * t) - 2.0 * d0 * (1.0 - t)
    l_t = M_t / M - 2.0 * (d0 + d1 - 2.0 * s) * (1.0 - 2.0 * t) / D
    l_s = 2.0 / s + 2.0 * q / M - 2.0 * (1.0 - 2.0 * q) / D
    l_d0, l_d1 = (1.0 - t) ** 2 / M - 2.0 * q / D, t * t / M - 2.0 * q / D
    if inverse:                                  # s = (g_x + g_l dlambda/dx) / (dy/dx)
        s_in = np.where(inside, (gy + gld * l_t / w) / (s * R_t), gy)
        gy = -s_in
    # combine the two upstream gradients: G_f = gy * dy/df + gld * dlambda/df
    G_t = gy * h * R_t + gld * l_t                                      # w.r.t. xi (bin coord)
    G_x = np.where(inside, G_t / w, gy)
    G_w = -(t * G_t + s * (gy * h * R_s + gld * l_s)) / w
    G_x0 = -G_t / w
    G_h = gy * (R + s * R_s) + gld * l_s / w
    G_y0 = gy
    G_d0, G_d1 = gy * h * R_d0 + gld * l_d0, gy * h * R_d1 + gld * l_d1
    zero = np.where(inside, 1.0, 0.0)                                   # no xi-gradient outside
    j = np.arange(K)
    onehot, below = (j == k[..., None]) * zero[..., None], (j < k[..., None]) * zero[..., None]
    g_w = onehot * G_w[..., None] + below * G_x0[..., None]             # (n, d, K)
    g_h = onehot * G_h[..., None] + below * G_y0[..., None]
    jd = np.arange(K + 1)
    g_delta = ((jd == k[..., None]) * G_d0[..., None]
               + (jd == k[..., None] + 1) * G_d1[..., None]) * zero[..., None]
    g_ud = g_delta[..., 1:K] * _sigmoid(xi[..., 2 * K:])
    gxi = np.concatenate([_softmax_vjp(g_w, pw, bound, min_width),
                          _softmax_vjp(g_h, ph, bound, min_height), g_ud], axis=-1)
    return (s_in if inverse else G_x), gxi


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
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"RationalQuadraticSpline: expected an integer n_bins >= 1, "
                             f"got {n_bins!r}")
        if not (np.isfinite(bound) and bound > 0):
            raise ValueError(f"RationalQuadraticSpline: expected a finite bound > 0, "
                             f"got {bound!r}")
        for name, m in (("min_width", min_width), ("min_height", min_height)):
            if not (0 <= m and n_bins * m < 1):
                raise ValueError(f"RationalQuadraticSpline: expected 0 <= {name} < 1/n_bins "
                                 f"= {1 / n_bins:.3g}, got {m!r}")
        if not (0 < min_derivative < 1):
            raise ValueError(f"RationalQuadraticSpline: expected 0 < min_derivative < 1, "
                             f"got {min_derivative!r}")
        self.n_bins, self.bound = int(n_bins), float(bound)
        self.min_width, self.min_height = float(min_width), float(min_height)
        self.min_derivative = float(min_derivative)
        self.n_params = 3 * self.n_bins - 1

    def _args(self):
        return self.n_bins, self.bound, self.min_width, self.min_height, self.min_derivative

    def knots(self, xi):
        """``(xk, yk, delta)``, each ``xi.shape[:-1] + (K + 1,)``: knots and knot derivatives."""
        xi = np.asarray(xi, dtype=np.float64)
        flat = xi.reshape((-1, 1, self.n_params))
        out = spline_knots(flat, *self._args())[:3]
        return tuple(a.reshape(xi.shape[:-1] + (self.n_bins + 1,)) for a in out)

    def forward(self, t, xi):
        self.check_xi(t, xi)
        return rq_forward(t, *spline_knots(xi, *self._args())[:3])

    def derivative(self, t, xi):
        """``d zeta / dt`` at ``t``, shape (n, d)."""
        return np.exp(self.forward(t, xi)[1])

    def inverse(self, y, xi):
        self.check_xi(y, xi, "y")
        return rq_inverse(y, *spline_knots(xi, *self._args())[:3])

    def forward_vjp(self, t, xi, gy, gld):
        self.check_xi(t, xi)
        return rq_vjp(t, xi, gy, gld, *self._args())

    def inverse_vjp(self, y, xi, gt, gld):
        """The implicit rule of the base class in one pass at the exact inverse."""
        self.check_xi(y, xi, "y")
        t, _ = self.inverse(y, xi)
        return rq_vjp(t, xi, gt, gld, *self._args(), inverse=True)

    def identity_xi(self, shape):
        xi = np.zeros(tuple(shape) + (self.n_params,))
        xi[..., 2 * self.n_bins:] = np.log(np.expm1(1.0 - self.min_derivative))
        return xi

    def __repr__(self):
        return f"RationalQuadraticSpline(n_bins={self.n_bins}, bound={self.bound})"
