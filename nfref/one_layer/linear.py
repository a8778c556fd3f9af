r"""Linear flows (notes 000, section 2, "Linear flow" and "Forward trick: linear flow").

Three parameterizations of :math:`x = A u + b`:

* :class:`ElementwiseAffine` -- :math:`A = \operatorname{diag}(e^{s})`, the simplest flow;
* :class:`PLULinear` -- :math:`A = P L U` (Kingma and Dhariwal, 2018, "Glow", sec. 3.2),
  invertible by construction, with an O(d) log-determinant :math:`\sum_i s_i`;
* :class:`Linear` -- a general square :math:`A` through an LU factorization
  (``scipy.linalg.lu_factor`` for the determinant), refused when it is singular or
  ill-conditioned.

Solves go through ``numpy.linalg.solve`` (LAPACK's ``gesv``, itself an LU solve):
``scipy.linalg.solve_triangular`` and ``lu_solve`` took 8 to 16 ms a call with SciPy 1.17 on
this project's 2-core machines (depending on load, whatever the size), several hundred times
``numpy.linalg.solve`` on the same system.

For every linear flow :math:`J_\phi(u) = A` for all ``u``, so the forward trick, eq. (8),
reads :math:`\det J_{\phi^{-1}}(x) = \det(A)^{-1}`, and ``inverse_jacobian`` returns
:math:`A^{-1}` at every point.

Gradients. With :math:`x = A u + b` and upstream gradients :math:`g_x` (per row) and
:math:`g_\ell` (per row) of :math:`L = \sum_n g_{x,n}^\top x_n + g_{\ell,n}\log|\det A|`:

.. math::
    \nabla_u L = A^\top g_x, \qquad
    \nabla_A L = \sum_n g_{x,n} u_n^\top + \Big(\sum_n g_{\ell,n}\Big) A^{-\top}, \qquad
    \nabla_b L = \sum_n g_{x,n},

using :math:`\partial \log|\det A| / \partial A = A^{-\top}` (Jacobi's formula). In the
inverse direction :math:`u = A^{-1}(x - b)`, :math:`dA^{-1} = -A^{-1}\,dA\,A^{-1}` gives

.. math::
    \nabla_x L = A^{-\top} g_u, \qquad
    \nabla_A L = -\sum_n (A^{-\top} g_{u,n}) u_n^\top - \Big(\sum_n g_{\ell,n}\Big) A^{-\top}, \qquad
    \nabla_b L = -\sum_n A^{-\top} g_{u,n}.
"""

import numpy as np
from scipy.linalg import lu_factor

from nfref._validation import as_float, as_int, as_real, as_rng
from nfref.transform import Transform

__all__ = ["ElementwiseAffine", "PLULinear", "Linear"]

#: ``exp`` of a log-scale outside this range under- or overflows float64's normal numbers
LOG_SCALE_RANGE = (float(np.log(np.finfo(float).tiny)), float(np.log(np.finfo(float).max)))


def _check_log_scale(values, who, key):
    """Refuse log-scales whose ``exp`` is not a normal float64 (``ValueError``): a scale that
    underflows collapses points and makes the map singular; one that overflows is infinite."""
    lo, hi = LOG_SCALE_RANGE
    bad = np.flatnonzero(~((values >= lo) & (values <= hi)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{who}: parameter {key!r}[{i}] = {values[i]:.6g}: its exp is not "
                         f"representable in float64 (under- or overflows); expected {key} "
                         f"in [{lo:.1f}, {hi:.1f}]")


def _random_args(dim, scale):
    """``dim`` and ``scale`` of a random constructor, checked."""
    return as_int(dim, "dim", minimum=1), as_float(scale, "scale", low=0.0)


class ElementwiseAffine(Transform):
    r"""Elementwise affine flow :math:`x = e^{s} \odot u + t`.

    :math:`\log|\det J| = \sum_i s_i` for every point.

    Parameters
    ----------
    shift : array_like, shape (d,)
        The translation :math:`t`.
    log_scale : array_like, shape (d,)
        The log of the scale :math:`s` (unconstrained; the scale is :math:`e^{s} > 0`).

    Examples
    --------
    >>> import numpy as np
    >>> t = ElementwiseAffine([1.0, -1.0], [0.0, np.log(2.0)])
    >>> t.forward(np.array([[1.0, 1.0]]))[0]
    array([[2., 1.]])
    """

    def __init__(self, shift, log_scale):
        shift = np.atleast_1d(as_real(shift, "ElementwiseAffine: shift"))
        log_scale = np.atleast_1d(as_real(log_scale, "ElementwiseAffine: log_scale"))
        if shift.ndim != 1 or shift.shape != log_scale.shape:
            raise ValueError("ElementwiseAffine: expected shift and log_scale of the same shape "
                             f"(d,), got {shift.shape} and {log_scale.shape}")
        super().__init__(shift.size, {"shift": shift, "log_scale": log_scale})

    @classmethod
    def random(cls, dim, random_state=None, scale=0.5):
        """Random parameters: shift and log-scale from ``N(0, scale^2)``."""
        dim, scale = _random_args(dim, scale)
        rng = as_rng(random_state)
        return cls(rng.normal(0, scale, dim), rng.normal(0, scale, dim))

    def _validate_params(self):
        _check_log_scale(self.params["log_scale"], "ElementwiseAffine", "log_scale")

    def _forward_and_vjp(self, u):
        # dx_i/du_i = e^{s_i};  dx_i/ds_i = e^{s_i} u_i;  dx_i/dt_i = 1;  dlogdet/ds_i = 1.
        s, t = self.params["log_scale"], self.params["shift"]
        scale = np.exp(s)                                           # (d,)
        x = scale * u + t                                           # (n, d)

        def back(gx, gl):
            gu = gx * scale
            return gu, {"shift": gx.sum(0), "log_scale": (gu * u).sum(0) + gl.sum()}
        return x, np.full(u.shape[0], s.sum()), back

    def _inverse_and_vjp(self, x):
        # u = (x - t) e^{-s}:  du/dx = e^{-s};  du/dt = -e^{-s};  du/ds = -u;  dlogdet/ds = -1.
        s, t = self.params["log_scale"], self.params["shift"]
        inv_scale = np.exp(-s)
        u = (x - t) * inv_scale

        def back(gu, gl):
            gx = gu * inv_scale
            return gx, {"shift": -gx.sum(0), "log_scale": -(gu * u).sum(0) - gl.sum()}
        return u, np.full(x.shape[0], -s.sum()), back

    def _jacobian(self, u):
        return np.broadcast_to(np.diag(np.exp(self.params["log_scale"])),
                               (u.shape[0], self.dim, self.dim)).copy()

    def _inverse_jacobian(self, x):
        return np.broadcast_to(np.diag(np.exp(-self.params["log_scale"])),
                               (x.shape[0], self.dim, self.dim)).copy()


class PLULinear(Transform):
    r"""Linear flow :math:`x = P L U u + b` with an O(d) log-determinant.

    ``P`` is a fixed permutation (``(P v)_i = v_{perm[i]}``), ``L`` is unit lower
    triangular (its strictly lower part is ``tril(lower, -1)``) and
    ``U = triu(upper, 1) + diag(exp(log_diag))``. Hence
    :math:`\log|\det A| = \sum_i \texttt{log\_diag}_i` and ``A`` is invertible for any
    finite parameters. Entries of ``lower`` on or above the diagonal and of ``upper``
    on or below it are unused; their gradients are zero.

    Gradients through the factorization: with :math:`y = U u`, :math:`z = L y`,
    :math:`x = P z + b` and :math:`g_z = P^\top g_x`,
    :math:`\nabla_L = \operatorname{tril}(\sum_n g_{z,n} y_n^\top, -1)`,
    :math:`\nabla_U = \sum_n (L^\top g_{z,n}) u_n^\top` (its strict upper part for ``upper``,
    its diagonal times :math:`e^{\texttt{log\_diag}}` plus :math:`\sum_n g_{\ell,n}` for
    ``log_diag``). The inverse direction uses :math:`dU^{-1} = -U^{-1} dU\, U^{-1}` and
    the same for ``L``.

    Parameters
    ----------
    lower, upper : array_like, shape (d, d)
    log_diag, bias : array_like, shape (d,)
    perm : array_like of int, shape (d,), optional
        The permutation; identity if omitted. Not a learnable parameter.
    """

    def __init__(self, lower, upper, log_diag, bias, perm=None):
        log_diag = np.atleast_1d(as_real(log_diag, "PLULinear: log_diag"))
        if log_diag.ndim != 1:
            raise ValueError(f"PLULinear: log_diag: expected shape (d,), got {log_diag.shape}")
        d = log_diag.size
        perm = np.arange(d) if perm is None else np.asarray(perm)
        if (perm.dtype.kind not in "iu" and not (perm.dtype.kind == "f"
                                                 and np.all(perm == np.round(perm)))) \
                or perm.shape != (d,) or sorted(perm.astype(int).tolist()) != list(range(d)):
            raise ValueError(f"PLULinear: perm must be a permutation of 0..{d - 1}, got {perm}")
        lower, upper, bias = (as_real(a, f"PLULinear: {name}") for name, a in
                              (("lower", lower), ("upper", upper), ("bias", bias)))
        for name, a, shape in (("lower", lower, (d, d)), ("upper", upper, (d, d)),
                               ("bias", bias, (d,))):
            if np.shape(a) != shape:
                raise ValueError(f"PLULinear: expected {name} of shape {shape}, got {np.shape(a)}")
        self.perm = perm.astype(int)
        self.inv_perm = np.argsort(self.perm)
        super().__init__(d, {"lower": lower, "upper": upper, "log_diag": log_diag, "bias": bias})

    @classmethod
    def random(cls, dim, random_state=None, scale=0.5):
        """Random factors (entries ``N(0, scale^2)``) and a random permutation."""
        dim, scale = _random_args(dim, scale)
        rng = as_rng(random_state)
        return cls(rng.normal(0, scale, (dim, dim)), rng.normal(0, scale, (dim, dim)),
                   rng.normal(0, scale, dim), rng.normal(0, 1, dim), rng.permutation(dim))

    def _validate_params(self):
        """``exp(log_diag)`` must be a normal float64: below about -708 the diagonal of ``U``
        underflows (``A`` singular in float64: collapsed points, a failing solve), above 709.8
        it overflows."""
        _check_log_scale(self.params["log_diag"], "PLULinear", "log_diag")

    def factors(self):
        """The matrices ``(P, L, U)``; ``A = P @ L @ U``."""
        d = self.dim
        P = np.eye(d)[self.perm]
        L = np.tril(self.params["lower"], -1) + np.eye(d)
        U = np.triu(self.params["upper"], 1) + np.diag(np.exp(self.params["log_diag"]))
        return P, L, U

    @property
    def matrix(self):
        """The matrix ``A = P L U``."""
        P, L, U = self.factors()
        return P @ L @ U

    def _forward_and_vjp(self, u):
        _, L, U = self.factors()
        y = u @ U.T                                                 # (n, d): y = U u
        x = (y @ L.T)[:, self.perm] + self.params["bias"]           # P L y + b

        def back(gx, gl):
            gz = np.empty_like(gx)
            gz[:, self.perm] = gx                                   # g_z = P^T g_x
            gy = gz @ L                                             # (n, d): L^T g_z per row
            gu = gy @ U
            return gu, self._param_grads(gz.T @ y, gy.T @ u, gl.sum(), gx.sum(0))
        return x, np.full(u.shape[0], self.params["log_diag"].sum()), back

    def _inverse_and_vjp(self, x):
        _, L, U = self.factors()
        z = (x - self.params["bias"])[:, self.inv_perm]             # (n, d): z = P^T (x - b)
        y = np.linalg.solve(L, z.T)                                 # (d, n): L^{-1} z = U u
        u = np.linalg.solve(U, y).T                                 # (n, d)
        y = y.T

        def back(gu, gl):
            gy = np.linalg.solve(U.T, gu.T).T                       # U^{-T} g_u
            gz = np.linalg.solve(L.T, gy.T).T                       # L^{-T} g_y
            gx = gz[:, self.perm]                                   # P g_z
            return gx, self._param_grads(-gz.T @ y, -gy.T @ u, -gl.sum(), -gx.sum(0))
        return u, np.full(x.shape[0], -self.params["log_diag"].sum()), back

    def _jacobian(self, u):
        return np.broadcast_to(self.matrix, (u.shape[0], self.dim, self.dim)).copy()

    def _inverse_jacobian(self, x):
        return np.broadcast_to(np.linalg.inv(self.matrix),
                               (x.shape[0], self.dim, self.dim)).copy()

    def _param_grads(self, gL, gU, gl_sum, gb):
        return {"lower": np.tril(gL, -1), "upper": np.triu(gU, 1),
                "log_diag": np.diag(gU) * np.exp(self.params["log_diag"]) + gl_sum, "bias": gb}


class Linear(Transform):
    r"""General linear flow :math:`x = A u + b` (notes 000, section 2, example 1).

    The determinant comes from an LU factorization of ``A`` (``scipy.linalg.lu_factor``),
    :math:`\log|\det A| = \sum_i \log|U_{ii}|`; the solves of the inverse map and its VJP
    use ``numpy.linalg.solve``.

    Parameters
    ----------
    weight : array_like, shape (d, d)
        The matrix ``A``. Refused (``ValueError``) when its condition number exceeds
        ``max_condition``: the inverse and the log-determinant would be meaningless.
    bias : array_like, shape (d,)
    max_condition : float, default 1e12
    """

    def __init__(self, weight, bias, max_condition=1e12):
        bias = np.atleast_1d(as_real(bias, "Linear: bias"))
        if bias.ndim != 1:
            raise ValueError(f"Linear: bias: expected shape (d,), got {bias.shape}")
        weight = as_real(weight, "Linear: weight")
        d = bias.size
        if np.shape(weight) != (d, d):
            raise ValueError(f"Linear: expected weight of shape ({d}, {d}), got {np.shape(weight)}")
        self.max_condition = as_float(max_condition, "Linear: max_condition", low=1.0,
                                      low_open=True)
        super().__init__(d, {"weight": weight, "bias": bias})

    @classmethod
    def random(cls, dim, random_state=None, scale=0.5):
        """``A = I + scale * N(0, 1)``, redrawn until its condition number is below 100."""
        dim, scale = _random_args(dim, scale)
        rng = as_rng(random_state)
        while True:
            A = np.eye(dim) + rng.normal(0, scale, (dim, dim))
            if np.linalg.cond(A) < 100:
                return cls(A, rng.normal(0, 1, dim))

    def _validate_params(self):
        cond = np.linalg.cond(self.params["weight"])
        if not cond < self.max_condition:
            raise ValueError(f"Linear: the weight matrix is singular or ill-conditioned "
                             f"(condition number {cond:.3g}); expected an invertible matrix "
                             f"with condition number below {self.max_condition:.3g}")

    def _lu(self):
        return lu_factor(self.params["weight"])

    def _logdet(self, lu):
        return np.log(np.abs(np.diag(lu[0]))).sum()

    def _forward_and_vjp(self, u):
        A = self.params["weight"]
        x = u @ A.T + self.params["bias"]

        def back(gx, gl):
            A_inv_T = np.linalg.inv(A).T                            # A^{-T}
            return gx @ A, {"weight": gx.T @ u + gl.sum() * A_inv_T, "bias": gx.sum(0)}
        return x, np.full(u.shape[0], self._logdet(self._lu())), back

    def _inverse_and_vjp(self, x):
        A = self.params["weight"]
        u = np.linalg.solve(A, (x - self.params["bias"]).T).T

        def back(gu, gl):
            gx = np.linalg.solve(A.T, gu.T).T                       # A^{-T} g_u per row
            A_inv_T = np.linalg.inv(A).T
            return gx, {"weight": -gx.T @ u - gl.sum() * A_inv_T, "bias": -gx.sum(0)}
        return u, np.full(x.shape[0], -self._logdet(self._lu())), back

    def _jacobian(self, u):
        return np.broadcast_to(self.params["weight"], (u.shape[0], self.dim, self.dim)).copy()

    def _inverse_jacobian(self, x):
        return np.broadcast_to(np.linalg.inv(self.params["weight"]),
                               (x.shape[0], self.dim, self.dim)).copy()
