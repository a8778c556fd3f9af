r"""The planar flow, written from ``docs/vectors.md`` sec. 2.1 alone (not from nfref's code).

Rezende and Mohamed (2015), eq. (10) and appendix A.1. Raw parameters ``w (d,)``,
``rho (d,)``, ``b (1,)``; with :math:`s = w \cdot \rho` and
:math:`m(s) = -1 + \mathrm{softplus}(s)`,

.. math::

    \hat\rho = \rho + \frac{m(s) - s}{w \cdot w} w \ (\text{planar}), \qquad
    \hat\rho = \rho \ (\text{planar\_raw}), \qquad c = w \cdot \hat\rho,

    x = u + \hat\rho \tanh(a), \quad a = w \cdot u + b, \qquad
    J = I + h'(a) \hat\rho w^T, \qquad \log|\det J| = \log(1 + h'(a) c),

:math:`h'(a) = 1 - \tanh^2 a` (the matrix determinant lemma gives the determinant). For
``planar``, :math:`c = m(s)` and :math:`1 + h' c = \tanh^2 a + h' \,\mathrm{softplus}(s)`,
which has no cancellation near :math:`c = -1`.

Gradients (forward VJP of :math:`(g_x, g_l)`), with :math:`T = \tanh a`, :math:`H = h'(a)`,
:math:`dH/da = -2 T H`:

.. math::

    g_a = H\, (g_x \cdot \hat\rho) - g_l \frac{2 T H c}{1 + H c}, \qquad
    g_u = g_x + g_a w, \qquad g_b = \textstyle\sum_n g_a,

    g_{\hat\rho} = \textstyle\sum_n T g_x, \qquad
    g_c = \textstyle\sum_n g_l \frac{H}{1 + H c}, \qquad
    g_w \mathrel{+}= \textstyle\sum_n g_a u.

Through the reparameterization (:math:`\hat\rho = \rho + \beta w`,
:math:`\beta = (m(s) - s)/|w|^2`, :math:`\partial\beta/\partial s = (\sigma(s) - 1)/|w|^2`,
:math:`\partial\beta/\partial w|_s = -2\beta w/|w|^2`, :math:`dc/ds = \sigma(s)`):

.. math::

    g_\rho = g_{\hat\rho} + (g_{\hat\rho}\cdot w) \frac{\sigma(s) - 1}{|w|^2} w
             + g_c \sigma(s) w, \qquad
    g_w \mathrel{+}= \beta g_{\hat\rho} + (g_{\hat\rho}\cdot w)\Big(\frac{\sigma(s) - 1}{|w|^2}
             \rho - \frac{2\beta}{|w|^2} w\Big) + g_c \sigma(s) \rho;

for ``planar_raw`` (:math:`\hat\rho = \rho`, :math:`c = s`): :math:`g_\rho = g_{\hat\rho}
+ g_c w`, :math:`g_w \mathrel{+}= g_c \rho`.

Inverse: :math:`\tau = \tanh(w\cdot u + b)` is the root in :math:`[-1, 1]` of
:math:`\tau - \tanh(z - c\tau)`, :math:`z = w \cdot x + b` (increasing in :math:`\tau`
since :math:`c > -1`), found by Newton's method kept inside a bisection bracket; then
:math:`u = x - \hat\rho\tau`. Its VJP is the implicit pullback of
:func:`_common.pullback_through_solve` with the forward map as the explicit one.
"""

import numpy as np

from ._common import pullback_through_solve, sigmoid, softplus


def _hprime(a):
    r""":math:`1 - \tanh^2 a = 4 e^{-2|a|} / (1 + e^{-2|a|})^2` (no cancellation for large |a|)."""
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


class Planar:
    """Planar flow callables for :func:`nfref.conformance.check` (cases ``planar`` and
    ``planar_raw``; ``configure`` reads ``config.reparameterize``)."""

    def __init__(self, reparameterize=True):
        self.reparameterize = bool(reparameterize)

    def configure(self, info):
        self.reparameterize = bool(info["config"].get("reparameterize", True))

    # ------------------------------------------------------------------ constrained values
    def _constrained(self, params):
        w = np.asarray(params["w"], float)
        rho = np.asarray(params["rho"], float)
        b = float(np.asarray(params["b"], float).reshape(-1)[0])
        s = float(w @ rho)
        if self.reparameterize:
            ww = float(w @ w)
            if ww == 0.0:
                raise ValueError("planar: w must be non-zero for the reparameterization, got 0")
            beta = (-1.0 + float(softplus(s)) - s) / ww
            rho_hat = rho + beta * w
            c = -1.0 + float(softplus(s))
        else:
            if s < -1.0:
                raise ValueError(f"planar_raw: w . rho must be >= -1, got {s!r}")
            beta, ww, rho_hat, c = 0.0, float(w @ w), rho, s
        return w, rho, b, s, ww, beta, rho_hat, c

    def _one_plus_hc(self, T, H, s, c):
        if self.reparameterize:
            return T * T + H * float(softplus(s))
        return 1.0 + H * c

    # ------------------------------------------------------------------ forward
    def _forward_pass(self, params, u):
        w, rho, b, s, ww, beta, rho_hat, c = self._constrained(params)
        u = np.asarray(u, float)
        a = u @ w + b
        T, H = np.tanh(a), _hprime(a)
        opc = self._one_plus_hc(T, H, s, c)
        x = u + T[:, None] * rho_hat[None, :]
        ld = np.log(opc)

        def back(gx, gl):
            gx, gl = np.asarray(gx, float), np.asarray(gl, float)
            ga = H * (gx @ rho_hat) - gl * 2.0 * T * H * c / opc
            gu = gx + ga[:, None] * w[None, :]
            g_rh = T @ gx
            g_c = float(np.sum(gl * H / opc))
            g_w = ga @ u
            gb = np.array([np.sum(ga)])
            if self.reparameterize:
                sig = float(sigmoid(s))
                dbeta_ds = (sig - 1.0) / ww
                grw = float(g_rh @ w)
                g_rho = g_rh + grw * dbeta_ds * w + g_c * sig * w
                g_w = g_w + beta * g_rh + grw * (dbeta_ds * rho - 2.0 * beta * w / ww) \
                    + g_c * sig * rho
            else:
                g_rho = g_rh + g_c * w
                g_w = g_w + g_c * rho
            return gu, {"w": g_w, "rho": g_rho, "b": gb}

        J = np.eye(len(w))[None] + H[:, None, None] * np.outer(rho_hat, w)[None]
        return x, ld, back, J

    def forward(self, params, u):
        x, ld, _, _ = self._forward_pass(params, u)
        return x, ld

    def forward_vjp(self, params, u, gx, gl):
        _, _, back, _ = self._forward_pass(params, u)
        return back(gx, gl)

    def jacobian(self, params, u):
        return self._forward_pass(params, u)[3]

    # ------------------------------------------------------------------ inverse
    def _solve_tau(self, z, c, tol=4e-16, max_iter=200):
        """The root of ``tau - tanh(z - c tau)`` in [-1, 1], to a relative step ``tol``."""
        lo, hi = -np.ones_like(z), np.ones_like(z)
        tau = np.tanh(z)
        for _ in range(max_iter):
            f = tau - np.tanh(z - c * tau)
            lo = np.where(f < 0, tau, lo)
            hi = np.where(f > 0, tau, hi)
            new = tau - f / (1.0 + c * _hprime(z - c * tau))
            outside = ~((new > lo) & (new < hi))
            new = np.where(outside & (f != 0), 0.5 * (lo + hi), new)
            new = np.where(f == 0, tau, new)
            step = np.abs(new - tau)
            tau = new
            if np.all(step <= tol * np.maximum(np.abs(tau), 1e-300)):
                return tau
        raise ValueError("planar inverse: the root of tau - tanh(z - c tau) did not converge "
                         f"in {max_iter} iterations")

    def inverse(self, params, x):
        w, rho, b, s, ww, beta, rho_hat, c = self._constrained(params)
        x = np.asarray(x, float)
        z = x @ w + b
        tau = self._solve_tau(z, c)
        u = x - tau[:, None] * rho_hat[None, :]
        a = z - c * tau
        T, H = np.tanh(a), _hprime(a)
        return u, -np.log(self._one_plus_hc(T, H, s, c))

    def inverse_vjp(self, params, x, gu, gl):
        u, _ = self.inverse(params, x)
        _, _, back, J = self._forward_pass(params, u)
        return pullback_through_solve(back, J, np.asarray(gu, float), np.asarray(gl, float))
