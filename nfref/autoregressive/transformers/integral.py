r"""Integral-based monotone transformer, UMNN-style (notes 000, sec. 4.1; Wehenkel and
Louppe, 2019, "Unconstrained Monotonic Neural Networks", NeurIPS).

The notes build a transformer as :math:`\zeta(t;\xi) = \int_{-\infty}^{t} g(s;\xi)\,ds`
with :math:`g \ge 0`. For a :math:`g` bounded below by a positive constant that integral
diverges, so, as Wehenkel and Louppe do, the lower limit is 0 and an offset is added:

.. math:: \zeta(t;\xi) = \beta + \int_0^t g(s;\xi)\,ds, \qquad
          g(s;\xi) = \exp h(s;\xi), \qquad
          h(s;\xi) = c_0 + \sum_{j=1}^{H} c_j \tanh(a_j s + b_j),

a one-hidden-layer network per dimension whose weights
:math:`\xi = (\beta, c_0, a_{1:H}, b_{1:H}, c_{1:H})` (``k = 2 + 3H``) come from the
conditioner. Since :math:`|h - c_0| \le \sum_j |c_j|`, :math:`g` lies in
:math:`[e^{c_0 - \sum|c_j|}, e^{c_0 + \sum|c_j|}]`: :math:`g > 0` strictly (the notes'
"non-negative" would allow flat pieces, which are not invertible), and :math:`\zeta` is a
bijection of R.

Value, derivative, log-derivative. The integral is computed by Clenshaw-Curtis
quadrature (:mod:`nfref.autoregressive.transformers.quadrature`), :math:`\int_0^t g \approx t\sum_i\omega_i g(t\tau_i)`,
so **the value carries the quadrature error**. The derivative is :math:`g(t)` exactly
(Leibniz rule), so **the log-derivative** :math:`\lambda = \log\zeta'(t) = h(t)` **carries
none**: it is the exact log-derivative of the exact integral, and differs from the
derivative of the computed value by the derivative of the quadrature error (measured in
:mod:`nfref.report.derivations.s05_transformers` against the number of nodes).

Gradients (with :math:`z_j(s) = a_j s + b_j`, :math:`\operatorname{sech}^2 = 1 - \tanh^2`):

.. math::
    \frac{\partial\zeta}{\partial t} = g(t),\qquad
    \frac{\partial\lambda}{\partial t} = h'(t) = \sum_j c_j a_j\operatorname{sech}^2 z_j(t),

.. math::
    \frac{\partial\zeta}{\partial\beta} = 1,\qquad
    \frac{\partial\zeta}{\partial\theta} = \int_0^t g(s)\,\frac{\partial h(s)}{\partial\theta}\,ds
    \approx t\sum_i\omega_i\, g(s_i)\,\frac{\partial h}{\partial\theta}(s_i),\quad s_i = t\tau_i,

(differentiation under the integral sign; the same quadrature, so this is the exact
gradient of the computed value), with

.. math::
    \frac{\partial h}{\partial c_0} = 1,\quad
    \frac{\partial h}{\partial c_j} = \tanh z_j,\quad
    \frac{\partial h}{\partial a_j} = c_j\operatorname{sech}^2 z_j\; s,\quad
    \frac{\partial h}{\partial b_j} = c_j\operatorname{sech}^2 z_j,

and :math:`\partial\lambda/\partial\theta = \partial h(t)/\partial\theta`,
:math:`\partial\lambda/\partial\beta = 0`.

Inverse: :func:`nfref.numerics.solve_monotone` (safeguarded Newton) on the computed
value, bracketed by :math:`(y-\beta)/g_{\max}` and :math:`(y-\beta)/g_{\min}` (the computed
integral lies between :math:`g_{\min}t` and :math:`g_{\max}t` since the weights are positive
and sum to 1), so a round trip is exact to the solver's tolerance; its
gradient is the implicit-function rule of :mod:`nfref.autoregressive.transformers.base`.

One pass. The first Clenshaw-Curtis node is :math:`\tau_0 = 1`, so the node
:math:`s_0 = t` gives :math:`\lambda = h(t)` and its :math:`\tanh z_j(t)` with the quadrature,
in the same evaluation of the network; the pullback reuses :math:`h` and :math:`\tanh` at
every node.
"""

import numpy as np

from nfref.autoregressive.transformers.base import Transformer
from nfref.autoregressive.transformers.quadrature import clenshaw_curtis_unit
from nfref.numerics import solve_monotone

__all__ = ["UMNN", "umnn_log_integrand", "umnn_forward", "umnn_pullback"]


def _split(xi, n_hidden):
    """``beta, c0, a, b, c`` from ``xi (..., 2 + 3H)``; the last three are ``(..., H)``."""
    H = n_hidden
    return (xi[..., 0], xi[..., 1], xi[..., 2:2 + H], xi[..., 2 + H:2 + 2 * H],
            xi[..., 2 + 2 * H:2 + 3 * H])


def umnn_log_integrand(s, xi, n_hidden):
    r""":math:`h(s;\xi) = c_0 + \sum_j c_j\tanh(a_j s + b_j)` and its pieces.

    ``s`` has shape ``(n, d, m)`` (``m`` points per dimension) and ``xi`` ``(n, d, k)``.
    Returns ``h (n, d, m)`` and ``tanh(z) (n, d, m, H)``.
    """
    _, c0, a, b, c = _split(xi, n_hidden)
    th = np.tanh(a[:, :, None, :] * s[..., None] + b[:, :, None, :])   # (n, d, m, H)
    return c0[..., None] + np.einsum("ndmh,ndh->ndm", th, c), th


def umnn_forward(t, xi, n_hidden, n_intervals):
    r"""``(y, logderiv, nodes)``: :math:`y = \beta + t\sum_i\omega_i e^{h(t\tau_i)}`,
    :math:`\lambda = h(t)` (the node :math:`\tau_0 = 1`). Shapes ``t (n, d)``,
    ``xi (n, d, 2 + 3H)``; ``nodes = (s, g, th)``: the points :math:`s_i = t\tau_i`
    ``(n, d, m)``, :math:`g(s_i)` ``(n, d, m)`` and :math:`\tanh z_j(s_i)` ``(n, d, m, H)``,
    which :func:`umnn_pullback` reuses."""
    tau, omega = clenshaw_curtis_unit(n_intervals)
    s = t[..., None] * tau                                           # (n, d, m)
    h, th = umnn_log_integrand(s, xi, n_hidden)                      # (n,d,m), (n,d,m,H)
    with np.errstate(over="ignore"):                                 # overflow: refused by the base
        g = np.exp(h)
    y = xi[..., 0] + t * (g @ omega)
    return y, h[..., 0], (s, g, th)


def umnn_pullback(t, xi, nodes, gy, gld, n_hidden, n_intervals):
    r"""Gradient of :math:`\sum g_y\zeta + \sum g_\lambda\lambda` (module docstring) from the
    pass's ``nodes``: ``gt (n, d)`` and ``gxi (n, d, 2 + 3H)``."""
    _, _, a, _, c = _split(xi, n_hidden)
    _, omega = clenshaw_curtis_unit(n_intervals)
    s, g, th = nodes
    # Quadrature part: d zeta / d theta = t sum_i omega_i g(s_i) dh/dtheta(s_i).
    wg = (t * gy)[..., None] * omega * g                             # (n, d, m) weights
    sech2 = 1.0 - th * th                                            # (n, d, m, H)
    gc0 = wg.sum(-1)
    gc = np.einsum("ndm,ndmh->ndh", wg, th)
    gb_q = np.einsum("ndm,ndmh->ndh", wg, sech2) * c                 # (n, d, H)
    ga_q = np.einsum("ndm,ndmh->ndh", wg * s, sech2) * c
    # Log-derivative part: lambda = h(t), node 0.
    th_t = th[:, :, 0, :]                                            # (n, d, H)
    csech = c * sech2[:, :, 0, :]                                    # (n, d, H)
    gld_h = gld[..., None]
    gxi = np.concatenate([gy[..., None], (gc0 + gld)[..., None],
                          ga_q + gld_h * csech * t[..., None],
                          gb_q + gld_h * csech,
                          gc + gld_h * th_t], axis=-1)
    gt = gy * g[..., 0] + gld * np.sum(csech * a, axis=-1)
    return gt, gxi


class UMNN(Transformer):
    r"""UMNN-style transformer :math:`\zeta(t) = \beta + \int_0^t \exp h(s;\xi)\,ds`.

    See the module docstring for :math:`h`, the layout of ``xi`` and the gradients.
    ``xi = 0`` is the identity (:math:`h \equiv 0`, :math:`g \equiv 1`).

    Parameters
    ----------
    n_hidden : int
        Hidden units ``H`` of the integrand network; ``n_params = 2 + 3H``.
    n_intervals : int
        Clenshaw-Curtis intervals ``N`` (``N + 1`` nodes). With the default 40 the value
        error is below 1e-12 for ``xi ~ N(0, 1)``, ``H = 3`` and ``|t| <= 6`` (the claim
        "UMNN value" of :mod:`nfref.report.derivations.s05_transformers` measures it); it grows
        with ``|t|`` and with the steepness ``|a_j|`` of the integrand.

    Examples
    --------
    >>> import numpy as np
    >>> f = UMNN(n_hidden=2)
    >>> y, ld = f.forward(np.array([[0.5]]), np.zeros((1, 1, f.n_params)))
    >>> round(float(y[0, 0]), 12), float(ld[0, 0])     # weights sum to 1 up to rounding
    (0.5, 0.0)
    """

    def __init__(self, n_hidden=4, n_intervals=40):
        if int(n_hidden) != n_hidden or n_hidden < 1:
            raise ValueError(f"UMNN: expected an integer n_hidden >= 1, got {n_hidden!r}")
        if int(n_intervals) != n_intervals or n_intervals < 2:
            raise ValueError(f"UMNN: expected an integer n_intervals >= 2, got {n_intervals!r}")
        self.n_hidden, self.n_intervals = int(n_hidden), int(n_intervals)
        self.n_params = 2 + 3 * self.n_hidden

    def _forward_and_vjp(self, t, xi):
        y, ld, nodes = umnn_forward(t, xi, self.n_hidden, self.n_intervals)

        def back(gy, gld):
            return umnn_pullback(t, xi, nodes, gy, gld, self.n_hidden, self.n_intervals)
        return y, ld, back

    def _solve(self, y, xi):
        flat = xi.reshape(-1, 1, self.n_params)                      # one row per entry

        def func(t, idx):
            v, ld, _ = umnn_forward(t[:, None], flat[idx], self.n_hidden, self.n_intervals)
            return v[:, 0], np.exp(ld[:, 0])
        # g lies in [g_min, g_max] and the weights are positive and sum to 1, so the
        # computed integral lies between g_min t and g_max t: a bracket for the root.
        _, c0, _, _, c = _split(xi, self.n_hidden)
        spread = np.sum(np.abs(c), axis=-1)                          # (n, d)
        r = y - xi[..., 0]
        with np.errstate(over="ignore", invalid="ignore"):
            a, b, guess = r * np.exp(-(c0 + spread)), r * np.exp(-(c0 - spread)), r * np.exp(-c0)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        # where g_min or g_max under- or overflows, [-1, 1], which the solver widens
        bad = ~(np.isfinite(lo) & np.isfinite(hi) & np.isfinite(guess))
        lo, hi, guess = np.where(bad, -1.0, lo), np.where(bad, 1.0, hi), np.where(bad, 0.0, guess)
        return solve_monotone(func, y, lo, hi, guess, name="UMNN.inverse").x

    def __repr__(self):
        return f"UMNN(n_hidden={self.n_hidden}, n_intervals={self.n_intervals})"
