r"""The rational-quadratic spline, written from ``docs/vectors.md`` sec. 2.5 alone.

Durkan, Bekasov, Murray and Papamakarios (2019), sec. 3.1, eqs. (4)-(8) and appendix A.
``K`` bins on ``[-B, B]``, ``k = 3K - 1`` raw parameters per entry,
:math:`\xi = (u^w_{1..K}, u^h_{1..K}, u^d_{1..K-1})`:

.. math::

    w_j = 2B(m_w + (1 - K m_w)\,\mathrm{softmax}(u^w)_j), \quad
    h_j = 2B(m_h + (1 - K m_h)\,\mathrm{softmax}(u^h)_j),

    x_0 = -B,\ x_j = -B + \textstyle\sum_{i \le j} w_i,\ x_K = B \quad (\text{same for } y),
    \qquad \delta_0 = \delta_K = 1,\ \delta_j = m_d + \mathrm{softplus}(u^d_j).

In bin :math:`k` (:math:`x_k \le t < x_{k+1}`; :math:`t = B` in the last), with
:math:`w = x_{k+1} - x_k`, :math:`h = y_{k+1} - y_k`, :math:`s = h/w`,
:math:`z = (t - x_k)/w`, :math:`q = z(1 - z)`, :math:`\Delta = \delta_k + \delta_{k+1} - 2s`:

.. math::

    D = s + \Delta q, \quad N = s z^2 + \delta_k q, \quad y = y_k + h N/D, \quad
    E = \delta_{k+1} z^2 + 2 s q + \delta_k (1 - z)^2,

    \zeta' = s^2 E / D^2, \qquad \log\zeta' = 2\log s - 2\log D + \log E;

outside :math:`[-B, B]`, :math:`y = t` and :math:`\log\zeta' = 0`.

Partial derivatives (every one by hand; :math:`R = N/D`, :math:`R_v = (N_v - R D_v)/D`):
:math:`N_z = 2sz + \delta_k(1 - 2z)`, :math:`N_s = z^2`, :math:`N_{\delta_k} = q`;
:math:`D_z = \Delta(1 - 2z)`, :math:`D_s = 1 - 2q`, :math:`D_{\delta_k} = D_{\delta_{k+1}} = q`;
:math:`E_z = 2\delta_{k+1} z + 2s(1 - 2z) - 2\delta_k(1 - z)`, :math:`E_s = 2q`,
:math:`E_{\delta_k} = (1 - z)^2`, :math:`E_{\delta_{k+1}} = z^2`. So :math:`y_z = hR_z`,
:math:`y_s = hR_s`, :math:`y_h = R`, :math:`y_{\delta} = hR_\delta`, and
:math:`\ell_z = -2D_z/D + E_z/E`, :math:`\ell_s = 2/s - 2D_s/D + E_s/E`,
:math:`\ell_\delta = -2D_\delta/D + E_\delta/E` for :math:`\ell = \log\zeta'`. Through
:math:`z_t = 1/w`, :math:`z_{x_k} = (z - 1)/w`, :math:`z_{x_{k+1}} = -z/w`,
:math:`s_{x_k} = s/w = -s_{x_{k+1}}`, :math:`s_{y_{k+1}} = 1/w = -s_{y_k}`,
:math:`h_{y_{k+1}} = 1 = -h_{y_k}`, each :math:`F \in \{y, \ell\}` gets its partials in
the knots; then the knots in the raw parameters: with :math:`p = \mathrm{softmax}(u^w)`,
:math:`\partial x_j/\partial u^w_m = 2B(1 - K m_w)\, p_m([m < j] - \sum_{i<j} p_i)`
(0-based :math:`m`; zero for :math:`j = 0, K`), the same for :math:`y`, and
:math:`\partial\delta_j/\partial u^d_j = \sigma(u^d_j)`.

Inverse (closed form): the bin among the :math:`y_k`; :math:`e_0 = y - y_k`,
:math:`e_1 = y_{k+1} - y`, :math:`b = h\delta_k - e_0\Delta`, :math:`a = hs - b`,
:math:`\mathrm{disc} = (\delta_k e_1 - \delta_{k+1} e_0)^2 + 4 s^2 e_0 e_1`;
:math:`z = 2 s e_0/(b + \sqrt{\mathrm{disc}})` for :math:`b \ge 0`, else
:math:`(\sqrt{\mathrm{disc}} - b)/(2a)`; :math:`t = x_k + z w`.

Transformer VJPs: forward, :math:`g_t = g_y\zeta' + g_\ell \ell_t`,
:math:`g_\xi = g_y y_\xi + g_\ell \ell_\xi`; inverse (:math:`\partial t/\partial y =
1/\zeta'`, :math:`\partial t/\partial\xi = -y_\xi/\zeta'`, and :math:`\ell` evaluated at
the output :math:`t`), :math:`g_y = (g_t + g_\ell\ell_t)/\zeta'`,
:math:`g_\xi = -g_y y_\xi + g_\ell \ell_\xi`.
"""

import numpy as np

from ._common import sigmoid, softplus
from .maf import IAF, MAF


def _softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gather(a, i):
    """``a[..., i]`` entry by entry: ``a (..., m)``, integer ``i (...)``."""
    m = a.shape[-1]
    return a.reshape(-1)[i.ravel() + m * np.arange(i.size)].reshape(i.shape)


class RQSpline:
    """The transformer: ``value``, ``partials`` and ``solve`` for :mod:`.maf`, plus ``knots``."""

    def __init__(self, n_bins=4, bound=3.0, min_width=1e-3, min_height=1e-3,
                 min_derivative=1e-3):
        self.K, self.B = int(n_bins), float(bound)
        self.mw, self.mh, self.md = float(min_width), float(min_height), float(min_derivative)
        self.k = 3 * self.K - 1

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg["n_bins"], cfg["bound"], cfg["min_width"], cfg["min_height"],
                   cfg["min_derivative"])

    def _cum(self, u, m_min, jac=True):
        """Knots ``(..., K+1)`` from unnormalized sizes and their Jacobian ``(..., K+1, K)``
        (``None`` unless ``jac``)."""
        K, B = self.K, self.B
        p = _softmax(u)
        c = 2 * B * (1 - K * m_min)
        sizes = 2 * B * m_min + c * p
        knots = np.concatenate([np.full(u.shape[:-1] + (1,), -B),
                                -B + np.cumsum(sizes, axis=-1)[..., :K - 1],
                                np.full(u.shape[:-1] + (1,), B)], axis=-1)
        if not jac:
            return knots, None
        j = np.arange(K + 1)[:, None]
        m = np.arange(K)[None, :]
        P = np.concatenate([np.zeros(u.shape[:-1] + (1,)), np.cumsum(p, axis=-1)], axis=-1)
        jac = c * p[..., None, :] * ((m < j).astype(float) - P[..., :, None])
        jac[..., 0, :] = 0.0
        jac[..., K, :] = 0.0
        return knots, jac

    def knots(self, xi, jac=True):
        """``(knots_x, knots_y, derivatives)`` each ``(..., K+1)``, and their Jacobians in
        the raw parameters (``None`` for the first two unless ``jac``)."""
        K = self.K
        X, dX = self._cum(xi[..., :K], self.mw, jac)
        Y, dY = self._cum(xi[..., K:2 * K], self.mh, jac)
        ud = xi[..., 2 * K:]
        one = np.ones(xi.shape[:-1] + (1,))
        delta = np.concatenate([one, self.md + softplus(ud), one], axis=-1)
        return X, Y, delta, dX, dY, sigmoid(ud)

    @staticmethod
    def _bin(knots, v):
        """0-based bin of ``v`` among ``knots (..., K+1)``: ``knots[k] <= v < knots[k+1]``."""
        return np.sum(v[..., None] >= knots[..., 1:-1], axis=-1)

    def partials(self, t, xi, k=None, grad=True):
        r"""``(y, ld, y_t, y_xi, ld_t, ld_xi)`` at ``t (n, d)``, ``xi (n, d, 3K-1)``; only
        ``(y, ld)`` unless ``grad``. ``k``: the bin, if known (the inverse passes its own)."""
        t = np.asarray(t, float)
        xi = np.asarray(xi, float)
        K, B = self.K, self.B
        X, Y, delta, dX, dY, sig = self.knots(xi, jac=grad)
        inside = (t >= -B) & (t <= B)
        if k is None:
            k = self._bin(X, t)
        k = np.clip(k, 0, K - 1)
        at = _gather
        xk, xk1, yk, yk1 = at(X, k), at(X, k + 1), at(Y, k), at(Y, k + 1)
        d0, d1 = at(delta, k), at(delta, k + 1)
        w, h = xk1 - xk, yk1 - yk
        s = h / w
        z = np.where(inside, (t - xk) / w, 0.5)
        q = z * (1 - z)
        Dl = d0 + d1 - 2 * s
        D = s + Dl * q
        N = s * z * z + d0 * q
        R = N / D
        E = d1 * z * z + 2 * s * q + d0 * (1 - z) ** 2
        y_left = yk + h * R
        y_right = yk1 - h * (1 - z) * (s * (1 - z) + d1 * z) / D
        y_in = np.where(z > 0.5, y_right, y_left)
        dydt = s * s * E / D ** 2
        ld_in = 2 * np.log(s) - 2 * np.log(D) + np.log(E)
        y = np.where(inside, y_in, t)
        ld = np.where(inside, ld_in, 0.0)
        if not grad:
            return y, ld

        # partials in (z, s, h, d0, d1)
        Nz, Ns, Nd0 = 2 * s * z + d0 * (1 - 2 * z), z * z, q
        Dz, Ds, Dd = Dl * (1 - 2 * z), 1 - 2 * q, q
        Rz, Rs = (Nz - R * Dz) / D, (Ns - R * Ds) / D
        Rd0, Rd1 = (Nd0 - R * Dd) / D, -R * Dd / D
        Ez = 2 * d1 * z + 2 * s * (1 - 2 * z) - 2 * d0 * (1 - z)
        Es, Ed0, Ed1 = 2 * q, (1 - z) ** 2, z * z
        y_p = dict(z=h * Rz, s=h * Rs, h=R, d0=h * Rd0, d1=h * Rd1, yk=1.0)
        l_p = dict(z=-2 * Dz / D + Ez / E, s=2 / s - 2 * Ds / D + Es / E, h=0.0,
                   d0=-2 * Dd / D + Ed0 / E, d1=-2 * Dd / D + Ed1 / E, yk=0.0)

        def to_raw(F):
            F_t = F["z"] / w
            F_xk = F["z"] * (z - 1) / w + F["s"] * s / w
            F_xk1 = -F["z"] * z / w - F["s"] * s / w
            F_yk = -F["s"] / w - F["h"] + F["yk"]
            F_yk1 = F["s"] / w + F["h"]
            g_uw = F_xk[..., None] * at2(dX, k) + F_xk1[..., None] * at2(dX, k + 1)
            g_uh = F_yk[..., None] * at2(dY, k) + F_yk1[..., None] * at2(dY, k + 1)
            j = np.arange(K - 1)
            g_ud = sig * (F["d0"][..., None] * (j == (k - 1)[..., None])
                          + F["d1"][..., None] * (j == k[..., None]))
            g = np.concatenate([g_uw, g_uh, g_ud], axis=-1)
            return np.where(inside, F_t, 0.0), np.where(inside[..., None], g, 0.0)

        def at2(a, i):                                   # row i of (..., K+1, K)
            flat = a.reshape(-1, K)
            return flat[i.ravel() + (K + 1) * np.arange(i.size)].reshape(i.shape + (K,))

        _, y_xi = to_raw(y_p)
        ld_t, ld_xi = to_raw(l_p)
        return y, ld, np.where(inside, dydt, 1.0), y_xi, ld_t, ld_xi

    def value(self, t, xi):
        """``(y, log dzeta/dt)`` only."""
        return self.partials(t, xi, grad=False)

    def solve_with_bin(self, y, xi):
        """``(t, k)``: the closed-form inverse and the bin it lies in."""
        y = np.asarray(y, float)
        K, B = self.K, self.B
        X, Y, delta, _, _, _ = self.knots(np.asarray(xi, float), jac=False)
        inside = (y >= -B) & (y <= B)
        k = self._bin(Y, y)
        at = _gather
        xk, xk1, yk, yk1 = at(X, k), at(X, k + 1), at(Y, k), at(Y, k + 1)
        d0, d1 = at(delta, k), at(delta, k + 1)
        w, h = xk1 - xk, yk1 - yk
        s = h / w
        e0, e1 = y - yk, yk1 - y
        Dl = d0 + d1 - 2 * s
        b = h * d0 - e0 * Dl
        a = h * s - b
        disc = np.maximum((d0 * e1 - d1 * e0) ** 2 + 4 * s * s * e0 * e1, 0.0)
        sq = np.sqrt(disc)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(b >= 0, 2 * s * e0 / (b + sq), (sq - b) / (2 * a))
        t = np.where(inside, xk + z * w, y)
        return t, k

    def solve(self, y, xi):
        return self.solve_with_bin(y, xi)[0]


class Spline:
    """Transformer callables of the cases ``spline`` and ``spline_wide`` (``params = {"xi":
    xi (n, d, 3K-1)}``, ``u = t``, ``x = y``, ``logdet = log dzeta/dt (n, d)``)."""

    def __init__(self):
        self.tr = RQSpline()

    def configure(self, info):
        self.tr = RQSpline.from_config(info["config"]["transformer"])

    def forward(self, params, t):
        return self.tr.partials(t, params["xi"], grad=False)

    def jacobian(self, params, t):
        return self.tr.partials(t, params["xi"])[2]

    def forward_vjp(self, params, t, gy, gld):
        _, _, y_t, y_xi, ld_t, ld_xi = self.tr.partials(t, params["xi"])
        gy, gld = np.asarray(gy, float), np.asarray(gld, float)
        return gy * y_t + gld * ld_t, {"xi": gy[..., None] * y_xi + gld[..., None] * ld_xi}

    def _inverse_partials(self, params, y, grad=True):
        t, k = self.tr.solve_with_bin(y, params["xi"])
        return t, self.tr.partials(t, params["xi"], k=k, grad=grad)

    def inverse(self, params, y):
        t, (_, ld) = self._inverse_partials(params, y, grad=False)
        return t, ld

    def inverse_vjp(self, params, y, gt, gld):
        _, (_, _, y_t, y_xi, ld_t, ld_xi) = self._inverse_partials(params, y)
        gt, gld = np.asarray(gt, float), np.asarray(gld, float)
        gy = (gt + gld * ld_t) / y_t
        return gy, {"xi": -gy[..., None] * y_xi + gld[..., None] * ld_xi}


class MAFSpline(MAF):
    """Callables of the cases ``maf_spline`` and ``maf_spline_wide`` (:mod:`.maf` with
    this transformer)."""

    transformers = {"RationalQuadraticSpline": RQSpline.from_config}


class IAFSpline(IAF):
    """Callables of the cases ``iaf_spline`` and ``iaf_spline_wide``."""

    transformers = {"RationalQuadraticSpline": RQSpline.from_config}
