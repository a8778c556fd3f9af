r"""Planar flow :math:`x = u + \hat\rho\, h(w^\top u + b)`, :math:`h = \tanh` (notes 000, sec. 2).

Rezende and Mohamed (2015), "Variational inference with normalizing flows", eq. (10) and
Appendix A.1. Notes 000 call the parameters :math:`(\rho, \omega, b)` (and :math:`\eta` in
the list of examples); here ``rho``, ``w``, ``b``.

Jacobian and determinant
------------------------
With :math:`a = w^\top u` and :math:`h' = 1 - \tanh^2`,

.. math::  [J_\phi(u)]_{ij} = \partial x_i/\partial u_j = \delta_{ij} + \hat\rho_i\, h'(a + b)\, w_j,
           \qquad J_\phi(u) = I_d + h'(a+b)\,\hat\rho w^\top .

Notes 000 write the entries as :math:`1 + \rho_i h' w_j`; the matrix form beside it,
:math:`I_d + h'\rho\omega^\top`, is the right one (the diagonal carries the 1, not every
entry). The matrix determinant lemma :math:`\det(I + v w^\top) = 1 + w^\top v` gives

.. math::  \log|\det J_\phi(u)| = \log|1 + h'(a + b)\, c|, \qquad c = w^\top\hat\rho .

Invertibility
-------------
Projecting on ``w``: :math:`w^\top x = a + c\, h(a + b)`, whose derivative in ``a`` is
:math:`1 + c\,h'(a+b)`; since :math:`0 < h' \le 1` it is positive for every ``a`` iff
:math:`c > -1`. At :math:`c = -1` it is :math:`1 - h'(a+b) = \tanh^2(a+b)`, non-negative and
zero only at the single point :math:`a = -b`: the map :math:`a \mapsto a + c\,h(a+b)` is
still strictly increasing, hence invertible, but its Jacobian is singular on the hyperplane
:math:`w^\top u + b = 0` (the inverse is not differentiable there); for :math:`c < -1` it
folds. Rezende and Mohamed (2015, A.1) enforce :math:`c > -1` with

.. math::  \hat\rho = \rho + \big(m(w^\top\rho) - w^\top\rho\big)\frac{w}{\|w\|^2},
           \qquad m(s) = -1 + \operatorname{softplus}(s),

so that :math:`c = w^\top\hat\rho = m(w^\top\rho) > -1` for every parameter value (in
float64, as long as :math:`\operatorname{softplus}(w^\top\rho)` does not underflow to 0,
i.e. :math:`w^\top\rho > -745`; below that the parameters are refused). We keep
:math:`1 + c = \operatorname{softplus}(s)` exactly, and
:math:`1 + h' c = \tanh^2(a+b) + h'(a+b)(1 + c)` is a sum of non-negative terms (no
cancellation when ``c`` is near ``-1``).

Inverse (no closed form; it exists)
-----------------------------------
Let :math:`\tau = h(a + b)`. Then :math:`u = x - \hat\rho\tau` and :math:`a = w^\top x - c\tau`,
so :math:`\tau` solves the scalar equation

.. math::  g(\tau) = \tau - \tanh(z - c\tau) = 0, \qquad z = w^\top x + b,

with :math:`g(-1) \le 0 \le g(1)` and :math:`g'(\tau) = 1 + c\,h'(z - c\tau) > 0`: one root in
:math:`[-1, 1]`, found by Newton's method safeguarded by bisection
(:func:`solve_tanh_equation`, a call of :func:`nfref.numerics.solve_monotone`, vectorized
over points). Posing the equation in
:math:`\tau` rather than in :math:`a` keeps the bracket fixed and bounded whatever ``w``.
The solve uses :math:`c` = ``w @ rho_hat`` of the float64 vectors the forward map uses,
summed in long double: for large :math:`|\rho|` it differs from :math:`m(w^\top\rho)` by
about :math:`\epsilon|w||\rho|`, which matters where :math:`c` is near :math:`-1`.
Accuracy: over :math:`10^4` random draws the round trip stays within twice the float64
floor set by the conditioning of the inverse (``python -m nfref bench -k s02``).

Gradients (forward VJP)
-----------------------
For :math:`L = \sum_n g_{x,n}^\top x_n + g_{\ell,n}\ell_n` with :math:`\ell = \log D`,
:math:`D = 1 + h' c`, :math:`h'' = -2\tau h'`:

.. math::
    \alpha_n = (g_{x,n}^\top\hat\rho)\,h'_n + g_{\ell,n}\,\frac{h''_n c}{D_n},\qquad
    \nabla_u L = g_x + \alpha w,\qquad \nabla_b L = \textstyle\sum_n \alpha_n,

.. math::
    \nabla_w L\big|_{\hat\rho} = \textstyle\sum_n \alpha_n u_n,\qquad
    \nabla_{\hat\rho} L = \textstyle\sum_n g_{x,n}\tau_n,\qquad
    \partial_c L = \textstyle\sum_n g_{\ell,n} h'_n / D_n .

Through the reparameterization, with :math:`s = w^\top\rho`, :math:`N = \|w\|^2`,
:math:`k(s) = m(s) - s`, :math:`k'(s) = -\sigma(-s)`, :math:`m'(s) = \sigma(s)`,
:math:`G = \nabla_{\hat\rho} L` and :math:`c = m(s)`:

.. math::
    \gamma = \partial_c L\, m'(s) + \frac{G^\top w}{N} k'(s), \qquad
    \nabla_\rho L = G + \gamma w, \qquad
    \nabla_w L = \nabla_w L\big|_{\hat\rho} + \gamma\rho
               + k(s)\Big(\frac{G}{N} - \frac{2(G^\top w)\,w}{N^2}\Big).

With the raw parameters (``reparameterize=False``), :math:`\hat\rho = \rho`, :math:`c = s`,
so :math:`\nabla_\rho L = G + \partial_c L\, w` and :math:`\nabla_w L` gains
:math:`\partial_c L\,\rho`.

Inverse pass and its gradient
-----------------------------
The inverse pass solves for :math:`\tau` (``_solve_inverse``, once), then runs the forward
pass at :math:`u` once: its :math:`\tanh`, :math:`h'` and :math:`D` give the log-determinant
:math:`-\log D`, the forward pullback and the solve :math:`J^\top s = v` by Sherman and
Morrison, :math:`s = v - h' w\,(\hat\rho^\top v)/D`; the inverse pullback is the
implicit-function rule :func:`nfref.numerics.implicit_inverse_pullback` built from these two.
"""

import numpy as np

from nfref._validation import as_float, as_int, as_real, as_rng, check_finite
from nfref.numerics import EPS, implicit_inverse_pullback, sech2, sigmoid, softplus, solve_monotone
from nfref.transform import Transform

__all__ = ["Planar", "solve_tanh_equation"]


def solve_tanh_equation(z, c, maxiter=100):
    r"""Solve :math:`\tau = \tanh(z - c\tau)` for :math:`\tau \in [-1, 1]`, elementwise.

    The root of the increasing :math:`g(\tau) = \tau - \tanh(z - c\tau)`,
    :math:`g'(\tau) = 1 + c\,h'(z - c\tau)`, by :func:`nfref.numerics.solve_monotone`: Newton's
    method in the bracket :math:`[-1, 1]` (where :math:`g(-1) \le 0 \le g(1)`), bisection
    where a Newton step leaves it or does not halve the step before last. Unique root when
    :math:`c \ge -1`. Starts at :math:`\tanh(z)/(1 + \max(c, 0))` and stops when the step
    (or the bracket) is below :math:`4\epsilon(1 + |\tau|)`, or :math:`g(\tau) = 0`.

    Parameters
    ----------
    z, c : array_like
        Broadcastable arrays (``c >= -1``).
    maxiter : int
        Steps after which an entry still moving raises ``ValueError``.

    Returns
    -------
    tau : ndarray
        The root, shape of the broadcast.
    iterations : int
        Steps taken by the slowest entry.

    Raises
    ------
    ValueError
        If ``z`` or ``c`` holds a NaN or an infinity (there is no root to find), or the
        solve has not converged after ``maxiter`` steps.
    """
    z, c = (np.array(a, dtype=float) for a in np.broadcast_arrays(z, c))
    check_finite(z, "solve_tanh_equation: z")
    check_finite(c, "solve_tanh_equation: c")
    zf, cf = z.ravel(), c.ravel()

    def g(tau, idx):
        arg = zf[idx] - cf[idx] * tau
        return tau - np.tanh(arg), 1.0 + cf[idx] * sech2(arg)

    root = solve_monotone(g, np.zeros(z.shape), lo=-1.0, hi=1.0,
                          guess=np.tanh(z) / (1.0 + np.maximum(c, 0.0)), tol=4 * EPS,
                          max_iter=maxiter, name="solve_tanh_equation")
    return root.x, root.iterations


class Planar(Transform):
    r"""Planar flow :math:`x = u + \hat\rho \tanh(w^\top u + b)` (Rezende and Mohamed, 2015).

    :math:`\log|\det J| = \log(1 + h'(w^\top u + b)\, w^\top\hat\rho)` by the matrix
    determinant lemma; the inverse solves a scalar equation (module docstring).

    Parameters
    ----------
    w : array_like, shape (d,)
        Must not be zero when ``reparameterize`` is True (the map divides by ``||w||^2``).
    rho : array_like, shape (d,)
        Unconstrained; :math:`\hat\rho` is derived from it at every call.
    b : array_like, shape (1,)
    reparameterize : bool, default True
        If False, :math:`\hat\rho = \rho` and ``w^T rho < -1`` is refused with a
        ``ValueError`` (the map would not be invertible).

    Examples
    --------
    >>> import numpy as np
    >>> t = Planar([1.0, 0.0], [2.0, 1.0], [0.0])
    >>> x, logdet = t.forward(np.array([[0.0, 0.0], [1.0, -1.0]]))
    >>> u, _ = t.inverse(x)
    >>> bool(np.allclose(u, [[0.0, 0.0], [1.0, -1.0]], atol=1e-12))
    True
    """

    def __init__(self, w, rho, b, reparameterize=True):
        w = np.atleast_1d(as_real(w, "Planar: w"))
        rho = np.atleast_1d(as_real(rho, "Planar: rho"))
        b = np.atleast_1d(as_real(b, "Planar: b"))
        if w.ndim != 1 or rho.shape != w.shape or b.shape != (1,):
            raise ValueError("Planar: expected w and rho of shape (d,) and b of shape (1,), got "
                             f"{w.shape}, {rho.shape} and {b.shape}")
        if not isinstance(reparameterize, (bool, np.bool_)):
            raise ValueError(f"Planar: reparameterize: expected True or False, got "
                             f"{reparameterize!r}")
        self.reparameterize = bool(reparameterize)
        super().__init__(w.size, {"w": w, "rho": rho, "b": b})

    @classmethod
    def random(cls, dim, random_state=None, scale=1.0, reparameterize=True):
        """Random parameters: ``w``, ``rho``, ``b`` from ``N(0, scale^2)``.

        With ``reparameterize=False`` the draw of ``rho`` is shifted along ``w`` so that
        ``w^T rho >= -0.5`` (a valid raw planar flow).
        """
        dim = as_int(dim, "dim", minimum=1)
        scale = as_float(scale, "scale", low=0.0, low_open=True)
        rng = as_rng(random_state)
        w, rho, b = rng.normal(0, scale, dim), rng.normal(0, scale, dim), rng.normal(0, scale, 1)
        if not reparameterize and w @ rho < -0.5:
            rho = rho + (-0.5 - w @ rho) * w / (w @ w)
        return cls(w, rho, b, reparameterize=reparameterize)

    # ------------------------------------------------------------------ constrained values
    def _validate_params(self):
        w, rho = self.params["w"], self.params["rho"]
        if self.reparameterize:
            if not w @ w > 0:
                raise ValueError("Planar: expected a nonzero w (the reparameterization divides "
                                 f"by ||w||^2), got ||w||^2 = {w @ w:.3g}")
            if not softplus(w @ rho) > 0:
                raise ValueError("Planar: 1 + w^T rho_hat = softplus(w^T rho) underflows to 0 in "
                                 f"float64 for w^T rho = {w @ rho:.6g} (the map would be singular "
                                 "on the hyperplane w^T u + b = 0); expected w^T rho > -745")
        elif w @ rho < -1:
            raise ValueError("Planar: without the reparameterization the flow is invertible only "
                             f"if w^T rho >= -1; got w^T rho = {w @ rho:.6g}")

    def constrained(self):
        r"""``(rho_hat, c, one_plus_c)`` with :math:`c = w^\top\hat\rho` and ``1 + c`` exact."""
        w, rho = self.params["w"], self.params["rho"]
        s = w @ rho
        if not self.reparameterize:
            return rho, s, 1.0 + s
        sp = softplus(s)
        rho_hat = rho + ((sp - 1.0) - s) * w / (w @ w)
        return rho_hat, sp - 1.0, sp

    @property
    def rho_hat(self):
        r"""The vector :math:`\hat\rho` actually used by the map, shape (d,)."""
        return self.constrained()[0]

    def _parts(self, u):
        rho_hat, c, one_plus_c = self.constrained()
        arg = u @ self.params["w"] + self.params["b"][0]            # (n,)
        tau, hp = np.tanh(arg), sech2(arg)                          # (n,), (n,)
        D = tau * tau + hp * one_plus_c                             # (n,) = 1 + h' c
        return rho_hat, c, tau, hp, D

    # ------------------------------------------------------------------ maths
    def _pass(self, u):
        r"""The forward pass at ``u``: ``(x, logdet, back, solve_transpose)``.

        ``back(gx, gl) -> (gu, gparams)`` is the forward pullback (module docstring) and
        ``solve_transpose(v)`` solves :math:`J_\phi(u)^\top s = v` by Sherman and Morrison;
        both keep the pass's :math:`\tanh`, :math:`h'` and :math:`D`.
        """
        w, rho = self.params["w"], self.params["rho"]
        rho_hat, c, tau, hp, D = self._parts(u)
        x = u + tau[:, None] * rho_hat
        with np.errstate(divide="ignore"):              # D = 0 only at c = -1 (raw): refused
            logdet = np.log(D)

        def back(gx, gl):
            hpp = -2.0 * tau * hp                                   # h''
            alpha = (gx @ rho_hat) * hp + gl * hpp * c / D          # (n,)
            gu = gx + alpha[:, None] * w
            g_w = alpha @ u                                         # at fixed rho_hat
            G = tau @ gx                                            # d L / d rho_hat, (d,)
            g_c = np.sum(gl * hp / D)
            s = w @ rho
            if self.reparameterize:
                N = w @ w
                k, dk, dm = softplus(s) - 1.0 - s, -sigmoid(-s), sigmoid(s)
                gam = g_c * dm + (G @ w) / N * dk
                g_rho = G + gam * w
                g_w = g_w + gam * rho + k * (G / N - 2.0 * (G @ w) * w / N ** 2)
            else:
                g_rho = G + g_c * w
                g_w = g_w + g_c * rho
            return gu, {"w": g_w, "rho": g_rho, "b": np.array([alpha.sum()])}

        def solve_transpose(v):
            return v - ((hp / D) * (v @ rho_hat))[:, None] * w
        return x, logdet, back, solve_transpose

    def _forward_and_vjp(self, u):
        return self._pass(u)[:3]

    def _realized_c(self, rho_hat):
        """``w^T rho_hat`` of the float64 vectors the forward map uses, summed in long double.

        For large ``|rho|`` the rounding of ``rho_hat`` moves ``w^T rho_hat`` away from
        ``m(w^T rho)`` by about ``eps |w| |rho|``; the inverse solves for the map that
        ``forward`` actually computes, which matters where ``c`` is near ``-1``.
        """
        ld = np.longdouble
        return float(self.params["w"].astype(ld) @ rho_hat.astype(ld))

    def _solve_tau(self, x):
        """``(tau, z, c, rho_hat, one_plus_c)``: the root of the scalar equation at ``x``."""
        rho_hat, _, one_plus_c = self.constrained()
        c = self._realized_c(rho_hat)
        z = x @ self.params["w"] + self.params["b"][0]              # (n,)
        tau, _ = solve_tanh_equation(z, c)
        return tau, z, c, rho_hat, one_plus_c

    def _solve_inverse(self, x):
        tau, _, _, rho_hat, _ = self._solve_tau(x)
        return x - tau[:, None] * rho_hat                           # (n, d)

    def _inverse_and_vjp(self, x):
        u = self._solve_inverse(x)
        _, logdet, back, solve_transpose = self._pass(u)            # the forward pass at u, once
        return u, -logdet, implicit_inverse_pullback(back, solve_transpose)

    def _jacobian(self, u):
        rho_hat, _, _, hp, _ = self._parts(u)
        w = self.params["w"]
        return np.eye(self.dim) + hp[:, None, None] * np.outer(rho_hat, w)

    def _inverse_jacobian(self, x):
        r"""Explicit Jacobian of the inverse map, :math:`\partial u_i/\partial x_j`, shape (n, d, d).

        Differentiating :math:`u = x - \hat\rho\tau(x)` with
        :math:`\tau = \tanh(w^\top x + b - c\tau)`:
        :math:`d\tau = h'\,(w^\top dx - c\,d\tau)`, so
        :math:`J_{\phi^{-1}}(x) = I - \frac{h'}{1 + c h'}\hat\rho w^\top`.
        Derived from the inverse map itself, not from :math:`J_\phi^{-1}`, so that eq. (7)
        can be checked against eq. (8).
        """
        tau, z, c, rho_hat, one_plus_c = self._solve_tau(x)
        hp = sech2(z - c * tau)
        coef = hp / (tau * tau + hp * one_plus_c)                   # (n,)
        return np.eye(self.dim) - coef[:, None, None] * np.outer(rho_hat, self.params["w"])
