r"""The inverse of a transformer as a transformer: :math:`\tilde\zeta = \zeta^{-1}`.

A flow evaluates its density through ``inverse``. For a transformer whose inverse is a
solver (UMNN-style, sum-of-squares), putting :math:`\zeta` itself on the density side
makes maximum likelihood cheap, and leaves the solver for sampling; this is how
Wehenkel and Louppe (2019) use UMNN in a MAF. With :math:`s = \zeta^{-1}(t)` and
:math:`\lambda(s) = \log\zeta'(s)`:

.. math::
    \tilde\zeta(t) = s, \qquad \log\tilde\zeta'(t) = -\lambda(s), \qquad
    \tilde\zeta^{-1}(y) = \zeta(y), \quad \text{log-derivative } -\lambda(y).

Gradients are those of the wrapped transformer with the sign of the log-derivative's
upstream gradient flipped: ``forward_vjp(t, xi, gy, gld) = inner.inverse_vjp(t, xi, gy, -gld)``
and ``inverse_vjp(y, xi, gt, gld) = inner.forward_vjp(y, xi, gt, -gld)``.
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
        # here the solver (if any) is in forward, not inverse; the flag is kept because it
        # says what matters to callers: round trips are exact only to the solver's tolerance
        self.numerical_inverse = inner.numerical_inverse

    def forward(self, t, xi):
        s, lam = self.inner.inverse(t, xi)
        return s, -lam

    def inverse(self, y, xi):
        t, lam = self.inner.forward(y, xi)
        return t, -lam

    def forward_vjp(self, t, xi, gy, gld):
        return self.inner.inverse_vjp(t, xi, gy, -gld)

    def inverse_vjp(self, y, xi, gt, gld):
        return self.inner.forward_vjp(y, xi, gt, -gld)

    def identity_xi(self, shape):
        return self.inner.identity_xi(shape)

    def __repr__(self):
        return f"Inverted({self.inner!r})"
