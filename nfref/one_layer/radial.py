r"""Radial flow :math:`x = u + \beta\,\frac{u - z_0}{\alpha + r}`, :math:`r = \|u - z_0\|`.

Rezende and Mohamed (2015), "Variational inference with normalizing flows", eq. (14) and
Appendix A.2, with :math:`h(\alpha, r) = 1/(\alpha + r)`. Parameters are unconstrained:
:math:`\alpha = \operatorname{softplus}(\alpha_{raw}) > 0` and
:math:`\beta = -\alpha + \operatorname{softplus}(\beta_{raw}) > -\alpha`, the condition of
A.2 for invertibility. We write :math:`\gamma = \alpha + \beta = \operatorname{softplus}(\beta_{raw}) > 0`
and :math:`q = \alpha + r`.

Forward map and determinant
---------------------------
:math:`x - z_0 = (u - z_0)\,f`, :math:`f = 1 + \beta/q = (\gamma + r)/q > 0`, so the map keeps
directions from :math:`z_0` and scales radii: :math:`R = \|x - z_0\| = r(\gamma + r)/q`. With
:math:`e = (u - z_0)/r`,

.. math::  J_\phi(u) = f\,I_d + \beta h'(r)\, r\, e e^\top, \qquad h'(r) = -1/q^2,

.. math::  \log|\det J_\phi(u)| = (d - 1)\log(1 + \beta h) + \log(1 + \beta h + \beta h' r)
           = (d-1)\log\frac{\gamma + r}{q} + \log\frac{P}{q^2},

with :math:`P = q^2 + \alpha\beta = r^2 + 2\alpha r + \alpha\gamma > 0` (a sum of positive terms).

Closed-form inverse
-------------------
Given ``x``, :math:`R = \|x - z_0\|` and ``r`` solves :math:`r(\gamma + r) = R(\alpha + r)`, i.e.
:math:`r^2 + (\gamma - R)\,r - \alpha R = 0`. The product of the roots is
:math:`-\alpha R \le 0`, so exactly one root is non-negative:

.. math::  r = \tfrac12\Big(R - \gamma + \sqrt{(R - \gamma)^2 + 4\alpha R}\Big)
             = \frac{2\alpha R}{\gamma - R + \sqrt{(R-\gamma)^2 + 4\alpha R}},

the first form used when :math:`R \ge \gamma`, the second otherwise (no cancellation).
Then :math:`u = z_0 + (x - z_0)\,q/(\gamma + r)`.

Gradients (forward VJP)
-----------------------
With :math:`v = u - z_0`, :math:`\sigma_n = g_{x,n}^\top v_n`, :math:`x = u + (\gamma - \alpha) v/q`:

.. math::
    \frac{\partial\ell}{\partial r} = \frac{d-1}{\gamma + r} - \frac{d+1}{q} + \frac{2q}{P},\quad
    \frac{\partial\ell}{\partial\alpha} = -\frac{d+1}{q} + \frac{2r + \gamma}{P},\quad
    \frac{\partial\ell}{\partial\gamma} = \frac{d-1}{\gamma + r} + \frac{\alpha}{P},

.. math::
    \nabla_u L = f g_x + \Big(-\frac{\beta\sigma}{q^2} + g_\ell\frac{\partial\ell}{\partial r}\Big) e,
    \qquad \nabla_{z_0} L = -\textstyle\sum_n(\nabla_{u_n} L - g_{x,n}),

.. math::
    \partial_\alpha L = \textstyle\sum_n -\sigma_n\frac{\gamma + r_n}{q_n^2}
        + g_{\ell,n}\frac{\partial\ell_n}{\partial\alpha}, \qquad
    \partial_\gamma L = \textstyle\sum_n \frac{\sigma_n}{q_n} + g_{\ell,n}\frac{\partial\ell_n}{\partial\gamma},

and :math:`\partial_{\alpha_{raw}} = \sigma(\alpha_{raw})\,\partial_\alpha`,
:math:`\partial_{\beta_{raw}} = \sigma(\beta_{raw})\,\partial_\gamma` (logistic sigmoid).
Inverse pass and its gradient
-----------------------------
The inverse pass computes :math:`r`, :math:`q`, :math:`P` in closed form and from them the
forward quantities at :math:`u` (:math:`v = u - z_0 = y\,q/(\gamma + r)`,
:math:`e = y/R`), without a second pass. Its pullback is the implicit-function rule
:func:`nfref.numerics.implicit_inverse_pullback`, exact for an explicit inverse as for a
numerical one, with the forward pullback built from those quantities and :math:`J`
symmetric, :math:`J^{-1} = f^{-1}\big(I - \frac{k}{f + k} e e^\top\big)`,
:math:`k = -\beta r/q^2`, :math:`f + k = P/q^2` (Sherman and Morrison).
"""

import numpy as np

from nfref._validation import as_float, as_int, as_real, as_rng
from nfref.numerics import implicit_inverse_pullback, sigmoid, softplus
from nfref.transform import Transform

__all__ = ["Radial"]

_TINY = np.finfo(float).tiny
_RAW_MIN = float(np.log(np.expm1(_TINY)) if np.expm1(_TINY) > 0 else np.log(_TINY))


class Radial(Transform):
    r"""Radial flow :math:`x = u + \beta (u - z_0)/(\alpha + \|u - z_0\|)` with a closed-form inverse.

    Parameters
    ----------
    z0 : array_like, shape (d,)
        The centre.
    alpha_raw : array_like, shape (1,)
        :math:`\alpha = \operatorname{softplus}(\alpha_{raw})`.
    beta_raw : array_like, shape (1,)
        :math:`\beta = -\alpha + \operatorname{softplus}(\beta_{raw})`.

    Examples
    --------
    >>> import numpy as np
    >>> t = Radial([0.0, 0.0], [0.0], [2.0])
    >>> x, _ = t.forward(np.array([[1.0, 2.0]]))
    >>> bool(np.allclose(t.inverse(x)[0], [[1.0, 2.0]], atol=1e-14))
    True
    """

    def __init__(self, z0, alpha_raw, beta_raw):
        z0 = np.atleast_1d(as_real(z0, "Radial: z0"))
        alpha_raw = np.atleast_1d(as_real(alpha_raw, "Radial: alpha_raw"))
        beta_raw = np.atleast_1d(as_real(beta_raw, "Radial: beta_raw"))
        if z0.ndim != 1 or alpha_raw.shape != (1,) or beta_raw.shape != (1,):
            raise ValueError("Radial: expected z0 of shape (d,), alpha_raw and beta_raw of shape "
                             f"(1,), got {z0.shape}, {alpha_raw.shape} and {beta_raw.shape}")
        super().__init__(z0.size, {"z0": z0, "alpha_raw": alpha_raw, "beta_raw": beta_raw})

    @classmethod
    def random(cls, dim, random_state=None, scale=1.0):
        """Random parameters: ``z0 ~ N(0, scale^2)``, ``alpha_raw, beta_raw ~ N(0, scale^2)``."""
        dim = as_int(dim, "dim", minimum=1)
        scale = as_float(scale, "scale", low=0.0, low_open=True)
        rng = as_rng(random_state)
        return cls(rng.normal(0, scale, dim), rng.normal(0, scale, 1), rng.normal(0, scale, 1))

    def _validate_params(self):
        r""":math:`\alpha = \operatorname{softplus}(\alpha_{raw})` and
        :math:`\gamma = \operatorname{softplus}(\beta_{raw})` must be normal positive floats:
        below about -708 the raw values underflow them, and the map (which divides by
        :math:`\alpha + r` and has :math:`\det J = \gamma/\alpha` at the centre) is not
        representable in float64."""
        for key, label in (("alpha_raw", "alpha"), ("beta_raw", "alpha + beta")):
            raw = float(self.params[key][0])
            if not softplus(raw) >= _TINY:
                raise ValueError(f"Radial: parameter {key!r} = {raw:.6g} makes {label} = "
                                 f"softplus({key}) underflow in float64 (float64 cannot "
                                 f"represent it); expected {key} >= {_RAW_MIN:.1f}")

    @property
    def alpha(self):
        r""":math:`\alpha > 0`."""
        return float(softplus(self.params["alpha_raw"][0]))

    @property
    def beta(self):
        r""":math:`\beta > -\alpha`."""
        return float(softplus(self.params["beta_raw"][0]) - self.alpha)

    def _parts(self, u):
        alpha = softplus(self.params["alpha_raw"][0])
        gamma = softplus(self.params["beta_raw"][0])
        v = u - self.params["z0"]                                   # (n, d)
        r = np.linalg.norm(v, axis=1)                               # (n,)
        q = alpha + r
        e = v / np.where(r > 0, r, 1.0)[:, None]                    # (n, d), 0 at the centre
        P = r * r + 2.0 * alpha * r + alpha * gamma                 # (n,) = q^2 + alpha beta
        return alpha, gamma, v, r, q, e, P

    def _logdet(self, alpha, gamma, r, q, P):
        return ((self.dim - 1) * (np.log(gamma + r) - np.log(q))
                + np.log(P) - 2.0 * np.log(q))

    def _backs(self, alpha, gamma, v, r, q, e, P):
        r"""The forward pullback at ``u`` and the solve of :math:`J_\phi(u)^\top s = v`, from
        the quantities of the pass (module docstring)."""
        d, beta = self.dim, gamma - alpha
        f = (gamma + r) / q                                         # (n,)
        ratio = -beta * r / P                                       # k / (f + k)
        a_raw, b_raw = self.params["alpha_raw"][0], self.params["beta_raw"][0]

        def back(gx, gl):
            sig = np.sum(gx * v, axis=1)                            # (n,)
            dl_dr = (d - 1) / (gamma + r) - (d + 1) / q + 2.0 * q / P
            dl_da = -(d + 1) / q + (2.0 * r + gamma) / P
            dl_dg = (d - 1) / (gamma + r) + alpha / P
            gu = f[:, None] * gx + (-beta * sig / q ** 2 + gl * dl_dr)[:, None] * e
            g_alpha = np.sum(-sig * (gamma + r) / q ** 2 + gl * dl_da)
            g_gamma = np.sum(sig / q + gl * dl_dg)
            return gu, {"z0": -(gu - gx).sum(0),
                        "alpha_raw": np.array([g_alpha * sigmoid(a_raw)]),
                        "beta_raw": np.array([g_gamma * sigmoid(b_raw)])}

        def solve_transpose(w):                                     # J is symmetric
            ew = np.sum(e * w, axis=1)
            return (w - (ratio * ew)[:, None] * e) / f[:, None]
        return back, solve_transpose

    def _forward_and_vjp(self, u):
        alpha, gamma, v, r, q, e, P = parts = self._parts(u)
        x = u + ((gamma - alpha) / q)[:, None] * v
        return x, self._logdet(alpha, gamma, r, q, P), self._backs(*parts)[0]

    def _radius_inverse(self, R, alpha, gamma):
        """The non-negative root of ``r^2 + (gamma - R) r - alpha R = 0``."""
        m = R - gamma
        root = np.sqrt(m * m + 4.0 * alpha * R)
        with np.errstate(divide="ignore", invalid="ignore"):
            small = 2.0 * alpha * R / (root - m)                    # for R < gamma
        return np.where(m >= 0, 0.5 * (m + root), small)

    def _inverse_parts(self, x):
        """``(alpha, gamma, y, R, r, q)`` of the closed-form inverse at ``x``."""
        alpha = softplus(self.params["alpha_raw"][0])
        gamma = softplus(self.params["beta_raw"][0])
        y = x - self.params["z0"]                                   # (n, d)
        R = np.linalg.norm(y, axis=1)
        r = self._radius_inverse(R, alpha, gamma)                   # (n,)
        return alpha, gamma, y, R, r, alpha + r

    def _inverse_and_vjp(self, x):
        alpha, gamma, y, R, r, q = self._inverse_parts(x)
        v = (q / (gamma + r))[:, None] * y                          # u - z0
        # u = x - beta (u - z0)/q = x - beta y/(gamma + r): no cancellation of z0 against
        # u - z0 when the centre is far from the points (z0 + v loses |z0| eps)
        u = x - ((gamma - alpha) / (gamma + r))[:, None] * y
        e = y / np.where(R > 0, R, 1.0)[:, None]                    # = v / r, 0 at the centre
        P = r * r + 2.0 * alpha * r + alpha * gamma
        back, solve_transpose = self._backs(alpha, gamma, v, r, q, e, P)
        return (u, -self._logdet(alpha, gamma, r, q, P),
                implicit_inverse_pullback(back, solve_transpose))

    def _jacobian(self, u):
        alpha, gamma, _, r, q, e, _ = self._parts(u)
        f = (gamma + r) / q
        k = -(gamma - alpha) * r / q ** 2
        return (f[:, None, None] * np.eye(self.dim)
                + k[:, None, None] * e[:, :, None] * e[:, None, :])

    def _inverse_jacobian(self, x):
        r"""Explicit Jacobian of the closed-form inverse, :math:`\partial u_i/\partial x_j`, (n, d, d).

        :math:`u - z_0 = y\,s(R)` with :math:`y = x - z_0`, :math:`s = q/(\gamma + r)`, so
        :math:`J_{\phi^{-1}} = s I + s'(R)\, R\, \hat y\hat y^\top`; from the quadratic,
        :math:`dr/dR = q/(2r + \gamma - R)` and :math:`ds/dr = (\gamma - \alpha)/(\gamma + r)^2`.
        Derived from the inverse map itself, so eq. (7) can be checked against eq. (8).
        """
        alpha, gamma, y, R, r, q = self._inverse_parts(x)
        s = q / (gamma + r)
        ds = (gamma - alpha) / (gamma + r) ** 2 * q / (2.0 * r + gamma - R)
        yh = y / np.where(R > 0, R, 1.0)[:, None]
        return (s[:, None, None] * np.eye(self.dim)
                + (ds * R)[:, None, None] * yh[:, :, None] * yh[:, None, :])
