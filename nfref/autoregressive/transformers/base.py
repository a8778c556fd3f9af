r"""The transformer slot of an autoregressive or coupling flow (notes 000, section 4).

A *transformer* is a univariate, strictly increasing map :math:`y = \zeta(t; \xi)`
applied elementwise: dimension ``l`` of a point is transformed by
:math:`\zeta(\cdot; \xi_l)`, where :math:`\xi_l \in \mathbb{R}^k` comes from a
conditioner (a MADE network in :mod:`nfref.autoregressive.maf`, a plain MLP in
:mod:`nfref.autoregressive.coupling`). The transformer owns no parameters: all of them are in
:math:`\xi`, so the conditioner's gradient is all that training needs.

Shapes: ``t, y`` are ``(n, d)``; ``xi`` is ``(n, d, k)`` with ``k = n_params``;
``logderiv`` is ``(n, d)`` and always means :math:`\log \partial\zeta/\partial t`
evaluated at ``t`` (in both directions, so a flow sums it for the forward
log-determinant and subtracts it for the inverse one).

The contract
------------
It has the shape of :class:`nfref.transform.Transform`. The public methods
``forward(t, xi) -> (y, logderiv)``, ``inverse(y, xi) -> (t, logderiv)``,
``forward_and_vjp(t, xi) -> (y, logderiv, pullback)`` with
``pullback(gy, gld) -> (gt, gxi)``, ``inverse_and_vjp(y, xi) -> (t, logderiv, pullback)``
with ``pullback(gt, gld) -> (gy, gxi)``, ``forward_vjp``, ``inverse_vjp`` and ``derivative``
check shapes and finiteness of ``t``, ``y``, ``xi`` and every cotangent, and refuse a
non-finite result (overflow) with a ``ValueError``; then they call private hooks that hold
the maths. The names are the same for every transformer: ``logderiv`` for
:math:`\log\partial_t\zeta`, ``gld`` for its cotangent, ``gy``/``gt`` for the values'.

Flows (MAF, IAF, coupling) validate their own inputs and call the hooks directly:
``_forward_and_vjp(t, xi)``, ``_inverse_and_vjp(y, xi)``, ``_forward``, ``_inverse``.
A transformer writes ``_forward_and_vjp`` and either ``_inverse_and_vjp`` (a closed-form
inverse) or ``_solve(y, xi) -> t`` (a numerical one); the default ``_inverse_and_vjp``
then differentiates the solve by the implicit function theorem.

Inverse gradient (implicit function theorem)
--------------------------------------------
Let :math:`t = \zeta^{-1}(y; \xi)` and :math:`\lambda(t, \xi) = \log\zeta'(t; \xi)`
with :math:`\zeta' = \partial\zeta/\partial t > 0`. The inverse direction's scalar is

.. math::  L = \sum g_t\, t + \sum g_\lambda\, \lambda(t, \xi).

Differentiating :math:`y = \zeta(t; \xi)` at fixed :math:`y` and at fixed :math:`\xi`,

.. math::  dt = \frac{dy - \partial_\xi\zeta\, d\xi}{\zeta'(t;\xi)}
              = e^{-\lambda}\,(dy - \partial_\xi\zeta\, d\xi),

so, elementwise,

.. math::
    dL = (g_t + g_\lambda \partial_t\lambda)\,dt + g_\lambda\,\partial_\xi\lambda\,d\xi
       = s\,dy - s\,\partial_\xi\zeta\,d\xi + g_\lambda\,\partial_\xi\lambda\,d\xi,
    \qquad s = (g_t + g_\lambda\partial_t\lambda)\,e^{-\lambda}.

Hence :math:`\nabla_y L = s` and :math:`\nabla_\xi L = g_\lambda\partial_\xi\lambda
- s\,\partial_\xi\zeta`. This is :func:`nfref.numerics.implicit_inverse_pullback` with the
diagonal Jacobian :math:`\zeta' = e^\lambda` (the solve is a division) and the inverse's
log-determinant :math:`-\lambda` (so its cotangent is :math:`-g_\lambda`): two calls of the
forward pullback at ``t``. A transformer with a closed-form inverse may write the same
rule in one pass.
"""

import numpy as np

from nfref._validation import as_real, check_finite_result
from nfref.numerics import implicit_inverse_pullback

__all__ = ["Transformer"]


def _count_bad(v):
    return np.size(v) - np.count_nonzero(np.isfinite(v))


class Transformer:
    """A univariate, strictly increasing map ``y = zeta(t; xi)``, applied elementwise.

    ``t, y``: (n, d); ``xi``: (n, d, k) where ``k = self.n_params`` (conditioner outputs per
    dimension); ``logderiv = log dzeta/dt`` at ``t``, (n, d), in both directions.
    Subclasses set ``n_params`` and write the hooks of the module docstring.
    """

    n_params: int

    @property
    def numerical_inverse(self):
        """True when a direction is a numerical solve (round trips exact to its tolerance)."""
        return self._inverse_solves

    @property
    def _inverse_solves(self):
        """True when ``inverse`` itself is the solve ``_solve``."""
        return type(self)._solve is not Transformer._solve

    # ------------------------------------------------------------------ public API
    def forward(self, t, xi):
        """``(y, logderiv)``, both (n, d); ``logderiv = log dzeta/dt`` at ``t``."""
        t, xi = self._check(t, xi, "t")
        return self._finite("forward", *self._forward(t, xi))

    def inverse(self, y, xi):
        """``(t, logderiv)``: ``t = zeta^{-1}(y)``, ``logderiv = log dzeta/dt`` at ``t``
        (the forward sign)."""
        y, xi = self._check(y, xi, "y")
        return self._finite("inverse", *self._inverse(y, xi))

    def derivative(self, t, xi):
        """``dzeta/dt`` at ``t``, shape (n, d)."""
        return np.exp(self.forward(t, xi)[1])

    def forward_and_vjp(self, t, xi):
        """``(y, logderiv, pullback)``; ``pullback(gy, gld) -> (gt (n, d), gxi (n, d, k))``
        is the gradient of ``sum(gy * y) + sum(gld * logderiv)``."""
        t, xi = self._check(t, xi, "t")
        y, ld, back = self._forward_and_vjp(t, xi)
        self._finite("forward", y, ld)
        return y, ld, self._checked_pullback("forward_vjp", back, t.shape, ("gy", "gld"))

    def inverse_and_vjp(self, y, xi):
        """``(t, logderiv, pullback)``; ``pullback(gt, gld) -> (gy, gxi)`` is the gradient
        of ``sum(gt * t) + sum(gld * logderiv(t))`` with ``t = zeta^{-1}(y)``."""
        y, xi = self._check(y, xi, "y")
        t, ld, back = self._inverse_and_vjp(y, xi)
        self._finite("inverse", t, ld)
        return t, ld, self._checked_pullback("inverse_vjp", back, y.shape, ("gt", "gld"))

    def forward_vjp(self, t, xi, gy, gld):
        """``(gt, gxi)``: the gradient of ``sum(gy * y) + sum(gld * logderiv)``."""
        return self.forward_and_vjp(t, xi)[2](gy, gld)

    def inverse_vjp(self, y, xi, gt, gld):
        """``(gy, gxi)``: the gradient of ``sum(gt * t) + sum(gld * logderiv(t))``."""
        return self.inverse_and_vjp(y, xi)[2](gt, gld)

    def identity_xi(self, shape):
        """Parameters ``xi`` of shape ``shape + (k,)`` making zeta (close to) the identity.

        ``shape`` is the shape of ``t`` (usually ``(n, d)`` or ``(d,)``). The default is
        zeros; a subclass whose zeros are not near the identity overrides it.
        """
        return np.zeros(tuple(shape) + (self.n_params,))

    def __repr__(self):
        return f"{type(self).__name__}(n_params={self.n_params})"

    # ------------------------------------------------------------------ validation
    def _check(self, t, xi, name):
        """``t`` (n, d) and ``xi`` (n, d, n_params) as finite float64 arrays, or ``ValueError``."""
        who = type(self).__name__
        t, xi = as_real(t, f"{who}: {name}"), as_real(xi, f"{who}: xi")  # lists, no complex
        if t.ndim != 2 or t.shape[0] == 0:
            raise ValueError(f"{who}: expected {name} of shape (n, d) with n >= 1, "
                             f"got {t.shape}")
        if xi.shape != t.shape + (self.n_params,):
            raise ValueError(f"{who}: expected xi of shape {t.shape + (self.n_params,)} "
                             f"(n, d, k={self.n_params}), got {xi.shape}")
        for label, v in ((name, t), ("xi", xi)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{who}: expected finite {label}, got {_count_bad(v)} "
                                 "non-finite entries")
        return t, xi

    def _finite(self, what, *arrays):
        return check_finite_result(f"{type(self).__name__}.{what}", arrays,
                                   "(overflow: expected t, y and xi where the map is "
                                   "representable in float64)")

    def _checked_pullback(self, what, back, shape, names):
        def pullback(g_value, gld):
            gs = []
            for label, g in zip(names, (g_value, gld)):
                g = (np.zeros(shape) if g is None
                     else as_real(g, f"{type(self).__name__}.{what}: {label}"))
                if g.shape != shape:
                    raise ValueError(f"{type(self).__name__}.{what}: expected {label} of shape "
                                     f"{shape}, got {g.shape}")
                if not np.all(np.isfinite(g)):
                    raise ValueError(f"{type(self).__name__}.{what}: expected finite {label}, "
                                     f"got {_count_bad(g)} non-finite entries")
                gs.append(g)
            return self._finite(what, *back(*gs))
        return pullback

    # ------------------------------------------------------------------ maths hooks
    def _forward_and_vjp(self, t, xi):
        """``(y, logderiv, back)`` with ``back(gy, gld) -> (gt, gxi)``."""
        raise NotImplementedError

    def _inverse_and_vjp(self, y, xi):
        """``(t, logderiv, back)`` with ``back(gt, gld) -> (gy, gxi)``; by default the
        solve ``_solve`` and the implicit rule of the module docstring."""
        return self._inverse_and_vjp_at(self._solve(y, xi), xi)

    def _inverse_and_vjp_at(self, t, xi):
        """The inverse pass at ``y = zeta(t; xi)`` when its solution ``t`` is already known
        (a flow that computed ``y`` from ``t``): ``(t, logderiv, back)`` from one forward
        pass at ``t`` and the implicit rule, with no solve."""
        _, ld, fwd = self._forward_and_vjp(t, xi)
        inv_slope = np.exp(-ld)
        back = implicit_inverse_pullback(fwd, lambda v: v * inv_slope)
        return t, ld, lambda gt, gld: back(gt, -gld)

    def _forward(self, t, xi):
        return self._forward_and_vjp(t, xi)[:2]

    def _inverse(self, y, xi):
        return self._inverse_and_vjp(y, xi)[:2]

    def _solve(self, y, xi):
        """``t`` with ``zeta(t; xi) = y``, for a transformer whose inverse is a numerical solve."""
        raise NotImplementedError(f"{type(self).__name__} has no numerical inverse")
