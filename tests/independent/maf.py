r"""The masked autoregressive flow, written from ``docs/vectors.md`` sec. 2.3 alone.

Papamakarios, Pavlakou and Murray (2017), eqs. (2)-(3). With :math:`\xi = \mathrm{MADE}(x)`
(:mod:`.made`) and a transformer :math:`\zeta` (increasing in :math:`t`), the inverse is
one pass, :math:`u_l = \zeta^{-1}(x_l; \xi_l(x))`, with
:math:`\log|\det J_{\phi^{-1}}| = -\sum_l \log\zeta'(u_l; \xi_l)`; the forward solves for
:math:`x` one dimension at a time in increasing degree (:math:`x_l` of degree :math:`p`
needs :math:`\xi_l`, which reads only the :math:`x` of degree :math:`< p`), and
:math:`\log|\det J| = \sum_l \log\zeta'(u_l; \xi_l(x))`.

A transformer here is an object with ``value(t, xi) -> (y, ld)`` (the value and
:math:`\log\zeta'`), ``partials(t, xi) -> (y, ld, y_t, y_xi, ld_t, ld_xi)`` (the same and
their partial derivatives with respect to :math:`t` and to each of the :math:`k` entries
of :math:`\xi`) and ``solve(y, xi) -> t``.

Inverse pass (:math:`x \to u`) and its VJP. With :math:`t = \zeta^{-1}(y;\xi)`,
:math:`\partial t/\partial y = 1/\zeta'` and :math:`\partial t/\partial \xi =
-\zeta_\xi/\zeta'`. For cotangents :math:`(g_u, g_l)`, the per-entry cotangent of
:math:`t` is :math:`c = g_u - g_l \, \partial_t \log\zeta'`, so

.. math::

    g_y = c / \zeta', \qquad g_\xi = -g_y \zeta_\xi - g_l \, \partial_\xi \log\zeta', \qquad
    g_x = g_y + \mathrm{MADE}^T(g_\xi),

and the parameter gradient is MADE's backward of :math:`g_\xi`. The inverse Jacobian is
:math:`J_G[l, j] = \delta_{lj}/\zeta'_l - \sum_c (\zeta_{\xi, lc}/\zeta'_l)\,
\partial\xi_{lc}/\partial x_j`; the forward one is :math:`J = J_G^{-1}` at
:math:`x = \phi(u)`, and the forward VJP is the implicit pullback of
:func:`_common.pullback_through_solve` with the inverse pass as the explicit map.
"""

import numpy as np

from ._common import pullback_through_solve
from .made import MADE


class MAF:
    """MAF callables for :func:`nfref.conformance.check`; ``transformers`` maps a
    ``config.transformer.class`` name to a function ``config -> transformer``."""

    transformers = {}

    def __init__(self):
        self.made = self.transformer = None

    def configure(self, info):
        cfg = info["config"]
        tcfg = cfg["transformer"]
        if tcfg["class"] not in self.transformers:
            raise ValueError(f"{type(self).__name__}: transformer {tcfg['class']!r} not "
                             f"implemented; expected one of {sorted(self.transformers)}")
        self.transformer = self.transformers[tcfg["class"]](tcfg)
        m0 = cfg["degrees"][0]
        m0 = m0["data"] if isinstance(m0, dict) else m0
        self.made = MADE(m0, list(cfg["hidden_sizes"]), int(tcfg["n_params"]),
                         cfg["activation"])

    # ------------------------------------------------------------------ the inverse (one pass)
    def _inverse_pass(self, params, x, t=None):
        """``(u, ld_inv, back, J_G)`` at ``x``; ``t`` if the answer is known (the forward)."""
        x = np.asarray(x, float)
        xi, made_back, made_jac = self.made.pass_(params, x)
        tr = self.transformer
        if t is None:
            t = tr.solve(x, xi)
        _, ld, y_t, y_xi, ld_t, ld_xi = tr.partials(t, xi)

        def back(gu, gl):
            gl = np.asarray(gl, float)[:, None]
            c = np.asarray(gu, float) - gl * ld_t
            gy = c / y_t
            g_xi = -gy[..., None] * y_xi - gl[..., None] * ld_xi
            g_in, gparams = made_back(g_xi)
            return gy + g_in, gparams

        dt_dxi = -y_xi / y_t[..., None]                                  # (n, d, k)
        J_G = np.einsum("nlc,nlcj->nlj", dt_dxi, made_jac())
        J_G = J_G + np.einsum("nl,lj->nlj", 1.0 / y_t, np.eye(x.shape[1]))
        return t, -np.sum(ld, axis=1), back, J_G

    def inverse(self, params, x):
        xi, _, _ = self.made.pass_(params, x)
        u = self.transformer.solve(np.asarray(x, float), xi)
        return u, -np.sum(self.transformer.value(u, xi)[1], axis=1)

    def inverse_vjp(self, params, x, gu, gl):
        return self._inverse_pass(params, x)[2](gu, gl)

    # ------------------------------------------------------------------ the forward (sequential)
    def _solve_forward(self, params, u):
        u = np.asarray(u, float)
        x = np.zeros_like(u)
        for l in np.argsort(self.made.m0):              # increasing degree
            xi, _, _ = self.made.pass_(params, x)
            x[:, l] = self.transformer.value(u[:, l:l + 1], xi[:, l:l + 1])[0][:, 0]
        return x

    def forward(self, params, u):
        x = self._solve_forward(params, u)
        xi, _, _ = self.made.pass_(params, x)
        return x, np.sum(self.transformer.value(np.asarray(u, float), xi)[1], axis=1)

    def jacobian(self, params, u):
        x = self._solve_forward(params, u)
        J_G = self._inverse_pass(params, x, t=np.asarray(u, float))[3]
        return np.linalg.inv(J_G)

    def forward_vjp(self, params, u, gx, gl):
        u = np.asarray(u, float)
        x = self._solve_forward(params, u)
        _, _, back, J_G = self._inverse_pass(params, x, t=u)
        return pullback_through_solve(back, J_G, np.asarray(gx, float), np.asarray(gl, float))


class IAF(MAF):
    r"""The inverse autoregressive flow (Kingma et al., 2016, eq. (10); ``docs/vectors.md``
    sec. 2.3): :math:`\xi = \mathrm{MADE}(u)`, :math:`x_l = \zeta(u_l; \xi_l(u))`, one pass
    forward, :math:`\log|\det J| = \sum_l \log\zeta'(u_l; \xi_l)`; the inverse solves for
    :math:`u` one dimension at a time in increasing degree.

    Forward VJP of :math:`(g_x, g_l)`: :math:`g_t = g_x \zeta' + g_l \partial_t\log\zeta'`
    (explicit), :math:`g_\xi = g_x \zeta_\xi + g_l \partial_\xi\log\zeta'`, and
    :math:`g_u = g_t + \mathrm{MADE}^T(g_\xi)`; the Jacobian is :math:`J[l, j] =
    \delta_{lj}\zeta'_l + \sum_c \zeta_{\xi, lc}\, \partial\xi_{lc}/\partial u_j`. The inverse
    VJP is the implicit pullback of :func:`_common.pullback_through_solve`.
    """

    def _forward_pass(self, params, u):
        u = np.asarray(u, float)
        xi, made_back, made_jac = self.made.pass_(params, u)
        x, ld, y_t, y_xi, ld_t, ld_xi = self.transformer.partials(u, xi)

        def back(gx, gl):
            gx = np.asarray(gx, float)
            gl = np.asarray(gl, float)[:, None]
            g_xi = gx[..., None] * y_xi + gl[..., None] * ld_xi
            g_in, gparams = made_back(g_xi)
            return gx * y_t + gl * ld_t + g_in, gparams

        J = np.einsum("nlc,nlcj->nlj", y_xi, made_jac())
        J = J + np.einsum("nl,lj->nlj", y_t, np.eye(u.shape[1]))
        return x, np.sum(ld, axis=1), back, J

    def forward(self, params, u):
        xi, _, _ = self.made.pass_(params, u)
        x, ld = self.transformer.value(np.asarray(u, float), xi)
        return x, np.sum(ld, axis=1)

    def forward_vjp(self, params, u, gx, gl):
        return self._forward_pass(params, u)[2](gx, gl)

    def jacobian(self, params, u):
        return self._forward_pass(params, u)[3]

    def _solve_inverse(self, params, x):
        x = np.asarray(x, float)
        u = np.zeros_like(x)
        for l in np.argsort(self.made.m0):              # increasing degree
            xi, _, _ = self.made.pass_(params, u)
            u[:, l] = self.transformer.solve(x[:, l:l + 1], xi[:, l:l + 1])[:, 0]
        return u

    def inverse(self, params, x):
        u = self._solve_inverse(params, x)
        xi, _, _ = self.made.pass_(params, u)
        return u, -np.sum(self.transformer.value(u, xi)[1], axis=1)

    def inverse_vjp(self, params, x, gu, gl):
        u = self._solve_inverse(params, x)
        _, _, back, J = self._forward_pass(params, u)
        return pullback_through_solve(back, J, np.asarray(gu, float), np.asarray(gl, float))
