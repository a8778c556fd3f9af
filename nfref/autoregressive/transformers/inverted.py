r"""The inverse of a transformer as a transformer: :math:`\tilde\zeta = \zeta^{-1}`.

A flow evaluates its density through ``inverse``. For a transformer whose inverse is a
solver (UMNN-style, sum-of-squares), putting :math:`\zeta` itself on the density side
makes maximum likelihood cheap, and leaves the solver for sampling; this is how
Wehenkel and Louppe (2019) use UMNN in a MAF. With :math:`s = \zeta^{-1}(t)` and
:math:`\lambda(s) = \log\zeta'(s)`:

.. math::
    \tilde\zeta(t) = s, \qquad \log\tilde\zeta'(t) = -\lambda(s), \qquad
    \tilde\zeta^{-1}(y) = \zeta(y), \quad \text{log-derivative } -\lambda(y).

Each pass is the wrapped transformer's pass in the other direction with the log-derivative
negated, and its pullback is the wrapped pullback with the sign of the log-derivative's
cotangent flipped: the forward pass is ``inner._inverse_and_vjp(t, xi)`` with
``back(gy, gld) = inner_back(gy, -gld)``, and the inverse pass is
``inner._forward_and_vjp(y, xi)`` with ``back(gt, gld) = inner_back(gt, -gld)``.
"""

from nfref.autoregressive.transformers.base import Transformer

__all__ = ["Inverted"]


class Inverted(Transformer):
    r"""Transformer :math:`\zeta^{-1}` built from a transformer :math:`\zeta` (module docstring).

    Parameters
    ----------
    inner : Transformer
        The wrapped transformer; ``xi`` has its layout and ``identity_xi``.
    """

    def __init__(self, inner):
        if not isinstance(inner, Transformer):
            raise ValueError(f"Inverted: expected a Transformer, got {type(inner).__name__}")
        self.inner = inner
        self.n_params = inner.n_params

    @property
    def numerical_inverse(self):
        """The wrapped transformer's: here the solver (if any) is in ``forward``, not
        ``inverse``, but what callers need to know is the same, that round trips are exact
        only to the solver's tolerance."""
        return self.inner.numerical_inverse

    def _forward_and_vjp(self, t, xi):
        s, logderiv, back = self.inner._inverse_and_vjp(t, xi)
        return s, -logderiv, lambda gy, gld: back(gy, -gld)

    def _inverse_and_vjp(self, y, xi):
        t, logderiv, back = self.inner._forward_and_vjp(y, xi)
        return t, -logderiv, lambda gt, gld: back(gt, -gld)

    def _forward(self, t, xi):
        s, logderiv = self.inner._inverse(t, xi)
        return s, -logderiv

    def _inverse(self, y, xi):
        t, logderiv = self.inner._forward(y, xi)
        return t, -logderiv

    def identity_xi(self, shape):
        return self.inner.identity_xi(shape)

    def __repr__(self):
        return f"Inverted({self.inner!r})"
