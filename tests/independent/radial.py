r"""The radial flow, written from ``docs/vectors.md`` sec. 2.2 alone (not from nfref's code).

Rezende and Mohamed (2015), eq. (14) and appendix A.2. Raw parameters ``z0 (d,)``,
``alpha_raw (1,)``, ``beta_raw (1,)``; :math:`\alpha = \mathrm{softplus}(\alpha_{raw})`,
:math:`\gamma = \mathrm{softplus}(\beta_{raw})`, :math:`\beta = \gamma - \alpha`. With
:math:`v = u - z_0`, :math:`r = |v|`, :math:`q = \alpha + r`, :math:`e = v / r`:

.. math::

    x = u + \beta v / q, \qquad J = f I + k e e^T, \quad f = \frac{\gamma + r}{q},
    \quad k = -\frac{\beta r}{q^2},

    \log|\det J| = (d - 1)\log f + \log\frac{P}{q^2}, \quad
    P = r^2 + 2\alpha r + \alpha\gamma = q^2 (f + k)

(the eigenvalues are :math:`f`, :math:`d - 1` times, and :math:`f + k` along :math:`e`).

Gradients (forward VJP of :math:`(g_x, g_l)`), with :math:`A = g_x \cdot v` per point and
:math:`\partial r / \partial u = e`:

.. math::

    \ell_r = \frac{\partial \log|\det J|}{\partial r}
           = (d-1)\Big(\frac{1}{\gamma + r} - \frac{1}{q}\Big) + \frac{2(r + \alpha)}{P}
             - \frac{2}{q},

    g_u = f g_x + \Big(g_l \ell_r - \frac{\beta A}{q^2}\Big) e, \qquad
    g_{z_0} = -\textstyle\sum_n (g_u - g_x),

    g_\alpha = \textstyle\sum_n \Big[-\frac{A}{q} - \frac{\beta A}{q^2}
               + g_l\Big(-\frac{d - 1}{q} + \frac{2r + \gamma}{P} - \frac{2}{q}\Big)\Big],
    \qquad
    g_\gamma = \textstyle\sum_n \Big[\frac{A}{q} + g_l\Big(\frac{d-1}{\gamma + r}
               + \frac{\alpha}{P}\Big)\Big],

and :math:`g_{\alpha_{raw}} = \sigma(\alpha_{raw}) g_\alpha`,
:math:`g_{\beta_{raw}} = \sigma(\beta_{raw}) g_\gamma`.

Inverse (closed form): :math:`y = x - z_0`, :math:`R = |y|`; :math:`r` is the non-negative
root of :math:`r^2 + (\gamma - R) r - \alpha R = 0`, evaluated as
:math:`(R - \gamma + \sqrt{D})/2` for :math:`R \ge \gamma` and :math:`2\alpha R /
(\gamma - R + \sqrt{D})` otherwise, :math:`D = (R - \gamma)^2 + 4\alpha R` (no
cancellation either way); :math:`u = z_0 + y (\alpha + r)/(\gamma + r)`. Its VJP is the
implicit pullback of :func:`_common.pullback_through_solve` with the forward map as the
explicit one.
"""

import numpy as np

from ._common import pullback_through_solve, sigmoid, softplus


def _scalar(a):
    return float(np.asarray(a, float).reshape(-1)[0])


class Radial:
    """Radial flow callables for :func:`nfref.conformance.check` (case ``radial``)."""

    def _constrained(self, params):
        z0 = np.asarray(params["z0"], float)
        a_raw, b_raw = _scalar(params["alpha_raw"]), _scalar(params["beta_raw"])
        alpha, gamma = float(softplus(a_raw)), float(softplus(b_raw))
        return z0, a_raw, b_raw, alpha, gamma

    def _forward_pass(self, params, u):
        z0, a_raw, b_raw, alpha, gamma = self._constrained(params)
        beta = gamma - alpha
        u = np.asarray(u, float)
        d = u.shape[1]
        v = u - z0
        r = np.sqrt(np.sum(v * v, axis=1))
        q = alpha + r
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.where(r[:, None] > 0, v / r[:, None], 0.0)
        f = (gamma + r) / q
        k = -beta * r / q ** 2
        P = r * r + 2 * alpha * r + alpha * gamma
        x = u + beta * v / q[:, None]
        ld = (d - 1) * np.log(f) + np.log(P / q ** 2)

        def back(gx, gl):
            gx, gl = np.asarray(gx, float), np.asarray(gl, float)
            A = np.sum(gx * v, axis=1)
            l_r = (d - 1) * (1 / (gamma + r) - 1 / q) + 2 * (r + alpha) / P - 2 / q
            gu = f[:, None] * gx + (gl * l_r - beta * A / q ** 2)[:, None] * e
            g_z0 = -np.sum(gu - gx, axis=0)
            g_alpha = np.sum(-A / q - beta * A / q ** 2
                             + gl * (-(d - 1) / q + (2 * r + gamma) / P - 2 / q))
            g_gamma = np.sum(A / q + gl * ((d - 1) / (gamma + r) + alpha / P))
            return gu, {"z0": g_z0,
                        "alpha_raw": np.array([g_alpha * float(sigmoid(a_raw))]),
                        "beta_raw": np.array([g_gamma * float(sigmoid(b_raw))])}

        J = f[:, None, None] * np.eye(d)[None] + k[:, None, None] * e[:, :, None] * e[:, None, :]
        return x, ld, back, J

    def forward(self, params, u):
        x, ld, _, _ = self._forward_pass(params, u)
        return x, ld

    def forward_vjp(self, params, u, gx, gl):
        return self._forward_pass(params, u)[2](gx, gl)

    def jacobian(self, params, u):
        return self._forward_pass(params, u)[3]

    def inverse(self, params, x):
        z0, _, _, alpha, gamma = self._constrained(params)
        y = np.asarray(x, float) - z0
        R = np.sqrt(np.sum(y * y, axis=1))
        D = np.sqrt((R - gamma) ** 2 + 4 * alpha * R)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(R >= gamma, 0.5 * (R - gamma + D), 2 * alpha * R / (gamma - R + D))
        u = z0 + y * ((alpha + r) / (gamma + r))[:, None]
        d = y.shape[1]
        q = alpha + r
        P = r * r + 2 * alpha * r + alpha * gamma
        ld = (d - 1) * np.log((gamma + r) / q) + np.log(P / q ** 2)
        return u, -ld

    def inverse_vjp(self, params, x, gu, gl):
        u, _ = self.inverse(params, x)
        _, _, back, J = self._forward_pass(params, u)
        return pullback_through_solve(back, J, np.asarray(gu, float), np.asarray(gl, float))
