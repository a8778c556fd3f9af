r"""The Transform contract that every flow in nfref follows.

A transform is a bijection :math:`x = \phi(u; \theta)` of :math:`\mathbb{R}^d` (or of a
subset of it). "Forward" goes from the base variable ``u`` to the data ``x``, as in
"forward modeling" of notes 000, section 2.1; "inverse" goes from ``x`` back to ``u``.

Every transform offers

=========================  ==============================================================
``forward(u)``             ``(x, logdet)`` with ``logdet = log|det J_phi(u)|``, shape ``(n,)``
``inverse(x)``             ``(u, logdet)`` with ``logdet = log|det J_phi^{-1}(x)|``
``jacobian(u)``            ``J[n, i, j] = d x_i / d u_j`` (rows are outputs), shape ``(n, d, d)``
``forward_vjp(u, gx, gl)`` gradient of ``sum(gx * x) + sum(gl * logdet)`` w.r.t. ``u`` and params
``inverse_vjp(x, gu, gl)`` gradient of ``sum(gu * u) + sum(gl * logdet)`` w.r.t. ``x`` and params
``params``                 dict of unconstrained float64 arrays; gradients use the same keys
=========================  ==============================================================

Notes 000 writes the Jacobian transposed, :math:`[J]_{ij} = \partial\phi_j/\partial u_i`
(eq. (7) and section 4). Determinants agree; triangular shapes swap (the notes' "upper
triangular" autoregressive Jacobian is lower triangular here).

The public methods validate their input (shape, dimension, finiteness, domain) and
then call private methods ``_forward``, ``_inverse``, ``_jacobian``, ``_forward_vjp``,
``_inverse_vjp`` that hold the maths, so a new transform writes only the maths.

Implicit-function gradient of an inverse
----------------------------------------
Where an inverse is only numerical (planar, radial, integral-based transformers), its
gradient follows from the implicit function theorem. With :math:`x = \phi(u;\theta)`,

.. math::  du = J^{-1}\,(dx - \partial_\theta\phi\, d\theta).

The inverse direction's scalar is :math:`L = g_u^\top u + g_\ell\,\ell^{-1}(x)` with
:math:`\ell^{-1}(x) = -\ell(u)` and :math:`\ell(u) = \log|\det J_\phi(u)|`. Holding
:math:`\theta` fixed, :math:`\partial L/\partial u = v = g_u - g_\ell \nabla_u \ell`. Then
:math:`dL = v^\top J^{-1}(dx - \partial_\theta\phi\,d\theta) - g_\ell\,\partial_\theta\ell\,d\theta`,
so with :math:`s = J^{-\top} v`

.. math::  \nabla_x L = s, \qquad
           \nabla_\theta L = -(\partial_\theta\phi)^\top s - g_\ell\,\partial_\theta \ell,

which is one solve with :math:`J^\top` and two forward VJPs at ``u``:
``forward_vjp(u, 0, -gl)`` gives :math:`-g_\ell\nabla_u\ell` and :math:`-g_\ell\partial_\theta\ell`,
``forward_vjp(u, s, 0)`` gives :math:`(\partial_\theta\phi)^\top s`. This is
:meth:`Transform._implicit_inverse_vjp`; a transform may override the solve
(:meth:`Transform._solve_jacobian_transpose`) when its Jacobian has structure.
"""

import numpy as np

from nfref._validation import as_batch, as_vector, check_dim, check_finite, as_rng

__all__ = ["Transform", "flatten_params", "unflatten_params", "zeros_like_params",
           "prefix_params"]


class Transform:
    """Base class of every transform: validation, dispatch and shared helpers.

    Subclasses set ``self.dim`` and ``self.params`` (through ``super().__init__``)
    and implement ``_forward``, ``_inverse``, ``_jacobian`` and ``_forward_vjp``;
    ``_inverse_vjp`` defaults to the implicit-function-theorem rule above.

    Parameters
    ----------
    dim : int
        Dimension ``d`` of ``u`` and ``x``.
    params : dict of array_like
        Unconstrained parameters; copied to float64 arrays owned by the transform.
        Optimizers update these arrays in place.
    """

    #: True when ``inverse`` is found by a numerical solver (round trips are then
    #: exact to the solver's tolerance, not to machine precision).
    numerical_inverse = False

    def __init__(self, dim, params=None):
        self.dim = check_dim(dim)
        self.params = {k: np.array(v, dtype=np.float64) for k, v in (params or {}).items()}
        self._check_params()

    # ------------------------------------------------------------------ public API
    def forward(self, u):
        """Map base points to data points.

        Parameters
        ----------
        u : array_like, shape (n, d)

        Returns
        -------
        x : ndarray, shape (n, d)
        logdet : ndarray, shape (n,)
            ``log|det J_phi(u)|``.
        """
        u = self._prepare(u, "u")
        self._check_forward_domain(u)
        x, logdet = self._forward(u)
        return self._finite_out("forward", x, logdet)

    def inverse(self, x):
        """Map data points back to base points.

        Parameters
        ----------
        x : array_like, shape (n, d)

        Returns
        -------
        u : ndarray, shape (n, d)
        logdet : ndarray, shape (n,)
            ``log|det J_{phi^{-1}}(x)| = -log|det J_phi(u)|``.
        """
        x = self._prepare(x, "x")
        self._check_inverse_domain(x)
        u, logdet = self._inverse(x)
        return self._finite_out("inverse", u, logdet)

    def jacobian(self, u):
        """Explicit Jacobian ``J[n, i, j] = d x_i / d u_j`` of the forward map, shape (n, d, d)."""
        u = self._prepare(u, "u")
        self._check_forward_domain(u)
        return self._finite_out("jacobian", self._jacobian(u))[0]

    def forward_vjp(self, u, gx=None, gl=None):
        """Vector-Jacobian product of the forward map.

        Returns the gradient of ``sum(gx * x) + sum(gl * logdet)``, where
        ``x, logdet = forward(u)``, with respect to ``u`` and to every parameter.

        Parameters
        ----------
        u : array_like, shape (n, d)
        gx : array_like, shape (n, d), optional
            Upstream gradient with respect to ``x`` (zeros if omitted).
        gl : array_like, shape (n,), optional
            Upstream gradient with respect to ``logdet`` (zeros if omitted).

        Returns
        -------
        gu : ndarray, shape (n, d)
        gparams : dict
            Same keys and shapes as ``params``.
        """
        u = self._prepare(u, "u")
        self._check_forward_domain(u)
        gx, gl = self._cotangents(u.shape[0], gx, gl, "gx")
        gu, gp = self._forward_vjp(u, gx, gl)
        return self._finite_out("forward_vjp", gu, *gp.values())[0], gp

    def inverse_vjp(self, x, gu=None, gl=None):
        """Vector-Jacobian product of the inverse map.

        Returns the gradient of ``sum(gu * u) + sum(gl * logdet)``, where
        ``u, logdet = inverse(x)``, with respect to ``x`` and to every parameter.
        """
        x = self._prepare(x, "x")
        self._check_inverse_domain(x)
        gu, gl = self._cotangents(x.shape[0], gu, gl, "gu")
        gx, gp = self._inverse_vjp(x, gu, gl)
        return self._finite_out("inverse_vjp", gx, *gp.values())[0], gp

    def set_params(self, params):
        """Replace parameter values in place (keys and shapes must match)."""
        for k, v in params.items():
            if k not in self.params:
                raise ValueError(f"set_params: unknown parameter {k!r}; expected one of "
                                 f"{sorted(self.params)}")
            v = np.asarray(v, dtype=np.float64)
            if v.shape != self.params[k].shape:
                raise ValueError(f"set_params: parameter {k!r} expected shape "
                                 f"{self.params[k].shape}, got {v.shape}")
            self.params[k][...] = v
        self._check_params()
        return self

    @property
    def n_params(self):
        """Number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    def __repr__(self):
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}(dim={self.dim}, params: {shapes or 'none'})"

    # ------------------------------------------------------------------ validation hooks
    def _prepare(self, a, name):
        self._check_params()
        return as_batch(a, self.dim, name)

    def _check_params(self):
        """Finiteness of every parameter, then the transform's own validity hook."""
        for k, v in self.params.items():
            check_finite(v, f"{type(self).__name__} parameter {k!r}")
        self._validate_params()

    def _validate_params(self):
        """Override to refuse parameters outside the valid set (``ValueError``)."""

    def _check_forward_domain(self, u):
        """Override to refuse ``u`` outside the forward map's domain (``ValueError``)."""

    def _check_inverse_domain(self, x):
        """Override to refuse ``x`` outside the forward map's image (``ValueError``)."""

    def _cotangents(self, n, g, gl, name):
        g = np.zeros((n, self.dim)) if g is None else as_batch(g, self.dim, name)
        if g.shape[0] != n:
            raise ValueError(f"{name}: expected shape ({n}, {self.dim}) to match the batch, "
                             f"got {g.shape}")
        return g, as_vector(gl, n, "gl", allow_none=True)

    def _finite_out(self, what, *arrays):
        for a in arrays:
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{type(self).__name__}.{what}: the result is not finite for "
                                 "these inputs and parameters (overflow or a point outside "
                                 "the region where the map is representable in float64)")
        return arrays

    # ------------------------------------------------------------------ maths hooks
    def _forward(self, u):
        raise NotImplementedError

    def _inverse(self, x):
        raise NotImplementedError

    def _jacobian(self, u):
        raise NotImplementedError

    def _forward_vjp(self, u, gx, gl):
        raise NotImplementedError

    def _inverse_vjp(self, x, gu, gl):
        return self._implicit_inverse_vjp(x, gu, gl)

    def _solve_jacobian_transpose(self, u, v):
        """Solve ``J(u)^T s = v`` row by row (batched dense solve; override when structured)."""
        jac = self._jacobian(u)                                   # (n, d, d)
        return np.linalg.solve(np.swapaxes(jac, 1, 2), v[..., None])[..., 0]

    def _implicit_inverse_vjp(self, x, gu, gl):
        """Inverse VJP by the implicit function theorem (module docstring)."""
        u, _ = self._inverse(x)
        zero = np.zeros_like(u)
        a, b = self._forward_vjp(u, zero, -gl)                    # -gl grad_u l, -gl d_theta l
        s = self._solve_jacobian_transpose(u, gu + a)             # (n, d)
        _, c = self._forward_vjp(u, s, np.zeros_like(gl))         # (d_theta phi)^T s
        return s, {k: b[k] - c[k] for k in self.params}


# ---------------------------------------------------------------------- parameter helpers
def flatten_params(params):
    """Concatenate a parameter dict into one float64 vector (in the dict's key order)."""
    if not params:
        return np.zeros(0)
    return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in params.values()])


def unflatten_params(vector, like):
    """Split ``vector`` into a dict with the keys and shapes of ``like``."""
    vector = np.asarray(vector, dtype=np.float64)
    total = sum(np.size(v) for v in like.values())
    if vector.shape != (total,):
        raise ValueError(f"unflatten_params: expected a vector of shape ({total},), "
                         f"got {vector.shape}")
    out, i = {}, 0
    for k, v in like.items():
        size = np.size(v)
        out[k] = vector[i:i + size].reshape(np.shape(v)).copy()
        i += size
    return out


def zeros_like_params(params):
    """A dict of zero arrays with the keys and shapes of ``params``."""
    return {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}


def prefix_params(prefix, params):
    """Prefix every key of ``params`` with ``prefix + '.'`` (used by chains and flows)."""
    return {f"{prefix}.{k}": v for k, v in params.items()}


def random_normal(shape, random_state=None, scale=1.0):
    """Normal draws from an explicit generator (helper for the ``random`` constructors)."""
    return scale * as_rng(random_state).standard_normal(shape)
