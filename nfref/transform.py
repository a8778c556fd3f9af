r"""The Transform contract that every flow in nfref follows.

A transform is a bijection :math:`x = \phi(u; \theta)` of :math:`\mathbb{R}^d` (or of a
subset of it). "Forward" goes from the base variable ``u`` to the data ``x``, as in
"forward modeling" of notes 000, section 2.1; "inverse" goes from ``x`` back to ``u``.

Every transform offers

==========================  ==============================================================
``forward(u)``              ``(x, logdet)`` with ``logdet = log|det J_phi(u)|``, shape ``(n,)``
``inverse(x)``              ``(u, logdet)`` with ``logdet = log|det J_phi^{-1}(x)|``
``jacobian(u)``             ``J[n, i, j] = d x_i / d u_j`` (rows are outputs), shape ``(n, d, d)``
``inverse_jacobian(x)``     ``d u_i / d x_j`` of the inverse map, shape ``(n, d, d)``
``forward_and_vjp(u)``      ``(x, logdet, pullback)``; ``pullback(gx, gl) -> (gu, gparams)``
``inverse_and_vjp(x)``      ``(u, logdet, pullback)``; ``pullback(gu, gl) -> (gx, gparams)``
``forward_vjp(u, gx, gl)``  gradient of ``sum(gx * x) + sum(gl * logdet)`` w.r.t. ``u`` and params
``inverse_vjp(x, gu, gl)``  gradient of ``sum(gu * u) + sum(gl * logdet)`` w.r.t. ``x`` and params
``params``                  dict of unconstrained float64 arrays; gradients use the same keys
==========================  ==============================================================

Notes 000 writes the Jacobian transposed, :math:`[J]_{ij} = \partial\phi_j/\partial u_i`
(eq. (7) and section 4). Determinants agree; triangular shapes swap (the notes' "upper
triangular" autoregressive Jacobian is lower triangular here).

The public methods validate their input (shape, dimension, finiteness, domain) and
then call private hooks that hold the maths (below), so a new transform writes only the maths.

One pass per direction
----------------------
``forward_and_vjp(u)`` returns ``(x, logdet, pullback)``: the pass runs once and the
pullback keeps what its backward needs (a spline's knots, a network's activations, a
numerical inverse's solution). ``pullback(gx, gl)`` returns ``(gu, gparams)``, the gradient of
``sum(gx * x) + sum(gl * logdet)``; it may be called any number of times and holds no state
beyond the arrays of that one pass. ``inverse_and_vjp(x)`` is the same for the inverse
direction, with ``pullback(gu, gl) -> (gx, gparams)``. ``forward_vjp`` and ``inverse_vjp``
are these two calls in one.

A transform writes the maths in two hooks, ``_forward_and_vjp(u)`` and
``_inverse_and_vjp(x)`` (each returning the triple above, with a plain function as the
pullback), plus ``_jacobian(u)``. ``_forward`` and ``_inverse`` default to the triples'
first two entries and are overridden only where the value alone is cheaper.

A transform whose inverse is a numerical solve writes ``_solve_inverse(x) -> u`` instead
of ``_inverse_and_vjp``; the default then differentiates the solve by the implicit function
theorem, :func:`nfref.numerics.implicit_inverse_pullback` (one solve with :math:`J^\top`,
by ``_transpose_solver(u)``, and two forward pullbacks), and ``numerical_inverse`` is true.
"""

import numpy as np

from nfref._validation import (as_batch, as_real, as_vector, check_dim, check_finite,
                               check_finite_result)
from nfref.numerics import implicit_inverse_pullback

__all__ = ["Transform", "Pullback", "flatten_params", "unflatten_params", "prefix_params"]


class Pullback:
    """The backward of one pass: ``pullback(g_out, g_logdet) -> (g_in, g_params)``.

    Returned by the public ``forward_and_vjp`` and ``inverse_and_vjp``. It checks the
    cotangents (shape ``(n, d)`` and ``(n,)``, finite; ``None`` means zeros), calls the
    transform's own backward, and refuses a non-finite result with a ``ValueError``.
    """

    __slots__ = ("_owner", "_what", "_func", "_n", "_names")

    def __init__(self, owner, what, func, n, names):
        self._owner, self._what, self._func, self._n, self._names = owner, what, func, n, names

    def __call__(self, g_out=None, g_logdet=None):
        t = self._owner
        g_out, g_logdet = t._cotangents(self._n, g_out, g_logdet, self._names[0])
        g_in, gp = self._func(g_out, g_logdet)
        t._finite_out(self._what, g_in, *gp.values())
        return g_in, gp

    def __repr__(self):
        return (f"<pullback of {type(self._owner).__name__}.{self._what} for {self._n} points: "
                f"({self._names[0]}, gl) -> ({self._names[1]}, gparams)>")


class Transform:
    """Base class of every transform: validation, dispatch and shared helpers.

    Subclasses set ``self.dim`` and ``self.params`` (through ``super().__init__``) and
    implement ``_forward_and_vjp`` and ``_jacobian``, and either ``_inverse_and_vjp`` (a
    closed-form inverse) or ``_solve_inverse`` (a numerical one; module docstring).

    Parameters
    ----------
    dim : int
        Dimension ``d`` of ``u`` and ``x``.
    params : dict of array_like
        Unconstrained parameters; copied to float64 arrays owned by the transform.
        Optimizers update these arrays in place.
    copy : bool
        ``False`` keeps the given float64 arrays themselves (a composite whose parameters
        are its parts' arrays).
    """

    def __init__(self, dim, params=None, copy=True):
        self.dim = check_dim(dim)
        params = params or {}
        self.params = ({k: np.array(as_real(v, f"{type(self).__name__} parameter {k!r}"),
                                    dtype=np.float64) for k, v in params.items()} if copy
                       else dict(params))
        self._check_params()

    @property
    def numerical_inverse(self):
        """True when one direction is a numerical solve, so round trips are exact to the
        solver's tolerance rather than to rounding. Derived: a transform that inverts by
        ``_solve_inverse`` has one; a composite asks its parts."""
        return type(self)._solve_inverse is not Transform._solve_inverse

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
        u = self._prepare_forward(u)
        return self._finite_out("forward", *self._forward(u))

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
        x = self._prepare_inverse(x)
        return self._finite_out("inverse", *self._inverse(x))

    def jacobian(self, u):
        """Explicit Jacobian ``J[n, i, j] = d x_i / d u_j`` of the forward map, shape (n, d, d)."""
        u = self._prepare_forward(u)
        return self._finite_out("jacobian", self._jacobian(u))[0]

    def inverse_jacobian(self, x):
        """Explicit Jacobian of the inverse map, ``Jinv[n, i, j] = d u_i / d x_j``, (n, d, d).

        The default inverts ``jacobian(u)`` at ``u = inverse(x)`` point by point; a transform
        that can differentiate its inverse map directly (planar, radial) overrides
        ``_inverse_jacobian``, so that eq. (7) can be checked against eq. (8).
        """
        x = self._prepare_inverse(x)
        return self._finite_out("inverse_jacobian", self._inverse_jacobian(x))[0]

    def forward_and_vjp(self, u):
        """The forward pass and its pullback, computed once.

        Parameters
        ----------
        u : array_like, shape (n, d)

        Returns
        -------
        x : ndarray, shape (n, d)
        logdet : ndarray, shape (n,)
        pullback : Pullback
            ``pullback(gx, gl) -> (gu, gparams)``: the gradient of
            ``sum(gx * x) + sum(gl * logdet)`` with respect to ``u`` (shape (n, d)) and to
            every parameter (a dict with the keys and shapes of ``params``).
        """
        u = self._prepare_forward(u)
        x, logdet, back = self._forward_and_vjp(u)
        self._finite_out("forward", x, logdet)
        return x, logdet, Pullback(self, "forward_vjp", back, u.shape[0], ("gx", "gu"))

    def inverse_and_vjp(self, x):
        """The inverse pass and its pullback ``(gu, gl) -> (gx, gparams)``, computed once."""
        x = self._prepare_inverse(x)
        u, logdet, back = self._inverse_and_vjp(x)
        self._finite_out("inverse", u, logdet)
        return u, logdet, Pullback(self, "inverse_vjp", back, x.shape[0], ("gu", "gx"))

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
        u = self._prepare_forward(u)
        gx, gl = self._cotangents(u.shape[0], gx, gl, "gx")
        gu, gp = self._forward_and_vjp(u)[2](gx, gl)
        return self._finite_out("forward_vjp", gu, *gp.values())[0], gp

    def inverse_vjp(self, x, gu=None, gl=None):
        """Vector-Jacobian product of the inverse map.

        Returns the gradient of ``sum(gu * u) + sum(gl * logdet)``, where
        ``u, logdet = inverse(x)``, with respect to ``x`` and to every parameter.
        """
        x = self._prepare_inverse(x)
        gu, gl = self._cotangents(x.shape[0], gu, gl, "gu")
        gx, gp = self._inverse_and_vjp(x)[2](gu, gl)
        return self._finite_out("inverse_vjp", gx, *gp.values())[0], gp

    def set_params(self, params):
        """Replace parameter values in place (keys and shapes must match).

        Everything is checked before anything is written: on a ``ValueError`` the
        parameters are as they were.
        """
        if not isinstance(params, dict):
            raise ValueError(f"set_params: expected a dict of parameter arrays, got "
                             f"{type(params).__name__}")
        new = {}
        for k, v in params.items():
            if k not in self.params:
                raise ValueError(f"set_params: unknown parameter {k!r}; expected one of "
                                 f"{sorted(self.params)}")
            v = as_real(v, f"set_params: parameter {k!r}")
            if v.shape != self.params[k].shape:
                raise ValueError(f"set_params: parameter {k!r} expected shape "
                                 f"{self.params[k].shape}, got {v.shape}")
            check_finite(v, f"set_params: parameter {k!r}")
            new[k] = v
        old = {k: self.params[k].copy() for k in new}
        for k, v in new.items():
            self.params[k][...] = v
        try:
            self._check_params()
        except ValueError:
            for k, v in old.items():
                self.params[k][...] = v
            raise
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

    def _prepare_forward(self, u):
        u = self._prepare(u, "u")
        self._check_forward_domain(u)
        return u

    def _prepare_inverse(self, x):
        x = self._prepare(x, "x")
        self._check_inverse_domain(x)
        return x

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
        return check_finite_result(f"{type(self).__name__}.{what}", arrays,
                                   "for these inputs and parameters (overflow or a point "
                                   "outside the region where the map is representable in "
                                   "float64)")

    # ------------------------------------------------------------------ maths hooks
    def _forward_and_vjp(self, u):
        """``(x, logdet, back)`` with ``back(gx, gl) -> (gu, gparams)``."""
        raise NotImplementedError

    def _inverse_and_vjp(self, x):
        """``(u, logdet, back)`` with ``back(gu, gl) -> (gx, gparams)``.

        Default, for a numerical inverse: ``u = _solve_inverse(x)``, one forward pass at ``u``
        for its pullback, and the implicit-function rule of :mod:`nfref.numerics`.
        """
        u = self._solve_inverse(x)
        _, logdet, back = self._forward_and_vjp(u)
        return u, -logdet, implicit_inverse_pullback(back, self._transpose_solver(u))

    def _forward(self, u):
        return self._forward_and_vjp(u)[:2]

    def _inverse(self, x):
        return self._inverse_and_vjp(x)[:2]

    def _jacobian(self, u):
        raise NotImplementedError

    def _inverse_jacobian(self, x):
        return np.linalg.inv(self._jacobian(self._inverse(x)[0]))

    def _solve_inverse(self, x):
        """``u`` with ``phi(u) = x``, for a transform whose inverse is a numerical solve."""
        raise NotImplementedError(f"{type(self).__name__} has no numerical inverse")

    def _transpose_solver(self, u):
        """``v -> s`` solving ``J(u)^T s = v`` (batched dense solve; override when structured)."""
        jac_t = np.swapaxes(self._jacobian(u), 1, 2)              # (n, d, d)
        return lambda v: np.linalg.solve(jac_t, v[..., None])[..., 0]


# ---------------------------------------------------------------------- parameter helpers
def flatten_params(params):
    """Concatenate a parameter dict into one float64 vector (in the dict's key order)."""
    if not isinstance(params, dict):
        raise ValueError(f"flatten_params: expected a dict of arrays, got {type(params).__name__}")
    if not params:
        return np.zeros(0)
    return np.concatenate([as_real(v, f"flatten_params: {k!r}").ravel()
                           for k, v in params.items()])


def unflatten_params(vector, like):
    """Split ``vector`` into a dict with the keys and shapes of ``like``."""
    if not isinstance(like, dict):
        raise ValueError(f"unflatten_params: expected like to be a dict of arrays, got "
                         f"{type(like).__name__}")
    vector = as_real(vector, "unflatten_params: vector")
    total = sum(np.size(v) for v in like.values())
    if vector.shape != (total,):
        raise ValueError(f"unflatten_params: expected a vector of shape ({total},), "
                         f"got {vector.shape}")
    check_finite(vector, "unflatten_params: vector")
    out, i = {}, 0
    for k, v in like.items():
        size = np.size(v)
        out[k] = vector[i:i + size].reshape(np.shape(v)).copy()
        i += size
    return out


def prefix_params(prefix, params):
    """Prefix every key of ``params`` with ``prefix + '.'`` (used by chains and flows)."""
    return {f"{prefix}.{k}": v for k, v in params.items()}
