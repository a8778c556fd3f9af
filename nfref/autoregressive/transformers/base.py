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

Generic inverse gradient (implicit function theorem)
----------------------------------------------------
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
- s\,\partial_\xi\zeta`. Both pieces are forward VJPs at ``t``:
``forward_vjp(t, xi, 0, gld)`` returns :math:`a = g_\lambda\partial_t\lambda` and
:math:`b = g_\lambda\partial_\xi\lambda`; ``forward_vjp(t, xi, s, 0)`` returns
:math:`c = s\,\partial_\xi\zeta` (its second output). So ``gy = s`` and
``gxi = b - c``. Every transformer gets this for free; one with a closed-form inverse
may override :meth:`Transformer.inverse_vjp` with something cheaper.
"""

import numpy as np

__all__ = ["Transformer"]


class Transformer:
    """A univariate, strictly increasing map y = zeta(t; xi), applied elementwise.

    t, y: (n, d); xi: (n, d, k) where k = self.n_params (conditioner outputs per dimension).

    Subclasses set ``n_params`` and implement ``forward``, ``inverse`` and
    ``forward_vjp``; ``inverse_vjp`` defaults to the implicit-function rule of the
    module docstring. Set ``numerical_inverse = True`` if ``inverse`` is a solver (or, for
    :class:`~nfref.autoregressive.transformers.inverted.Inverted`, ``forward`` is): round trips are then
    exact only to the solver's tolerance.
    """

    n_params: int
    numerical_inverse: bool = False

    def forward(self, t, xi):
        """``(y, logderiv)``, both (n, d); ``logderiv = log dzeta/dt`` at ``t``."""
        raise NotImplementedError

    def inverse(self, y, xi):
        """``(t, logderiv)``: ``t = zeta^{-1}(y)``, ``logderiv = log dzeta/dt`` at ``t``
        (the forward sign)."""
        raise NotImplementedError

    def forward_vjp(self, t, xi, gy, gld):
        """``(gt (n, d), gxi (n, d, k))``: gradient of ``sum(gy*y) + sum(gld*logderiv)``."""
        raise NotImplementedError

    def inverse_vjp(self, y, xi, gt, gld):
        """``(gy, gxi)``: gradient of ``sum(gt*t) + sum(gld*logderiv(t))``, ``t = inverse(y)``.

        Implicit function theorem (module docstring): with
        ``(a, b) = forward_vjp(t, xi, 0, gld)`` and ``s = (gt + a) exp(-logderiv)``,
        ``gy = s`` and ``gxi = b - forward_vjp(t, xi, s, 0)[1]``.
        """
        t, ld = self.inverse(y, xi)
        zero = np.zeros_like(t)
        a, b = self.forward_vjp(t, xi, zero, gld)
        s = (gt + a) * np.exp(-ld)                                  # (n, d)
        _, c = self.forward_vjp(t, xi, s, zero)                     # (n, d, k)
        return s, b - c

    def identity_xi(self, shape):
        """Parameters ``xi`` of shape ``shape + (k,)`` making zeta (close to) the identity.

        ``shape`` is the shape of ``t`` (usually ``(n, d)`` or ``(d,)``). The default is
        zeros; a subclass whose zeros are not near the identity overrides it.
        """
        return np.zeros(tuple(shape) + (self.n_params,))

    def check_xi(self, t, xi, name="t"):
        """Raise ``ValueError`` unless ``t`` is (n, d) and ``xi`` is (n, d, n_params), both
        finite."""
        t = np.asarray(t)
        xi = np.asarray(xi)
        if t.ndim != 2:
            raise ValueError(f"{type(self).__name__}: expected {name} of shape (n, d), "
                             f"got {t.shape}")
        if xi.shape != t.shape + (self.n_params,):
            raise ValueError(f"{type(self).__name__}: expected xi of shape "
                             f"{t.shape + (self.n_params,)} (n, d, k={self.n_params}), "
                             f"got {xi.shape}")
        for label, v in ((name, t), ("xi", xi)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{type(self).__name__}: expected finite {label}, got "
                                 f"{np.size(v) - np.count_nonzero(np.isfinite(v))} "
                                 f"non-finite entries")

    def __repr__(self):
        return f"{type(self).__name__}(n_params={self.n_params})"
