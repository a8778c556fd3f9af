r"""Autoregressive transformer flows, MAF and IAF (notes 000, section 4, eq. (10); notes 002).

Notes 000, sec. 4.1: the :math:`\ell`-th output is a univariate increasing *transformer*
:math:`\zeta` of :math:`u_\ell`, whose parameters come from a *conditioner*,

.. math::  x_\ell = \zeta(u_\ell;\ \xi_\ell), \qquad \ell = 1..d.

The conditioner is a MADE network (:mod:`nfref.autoregressive.made`) and :math:`\zeta` is any
:class:`nfref.autoregressive.transformers.Transformer` (the affine one by default). Two flows differ in
what the conditioner reads (notes 002, "MAF and IAF"):

* **IAF** (Kingma et al., 2016, eq. (10)): :math:`\xi_\ell = \xi_\ell(u_{<\ell})`, exactly
  the notes' transformer flow. ``forward`` (sampling) is one parallel pass; ``inverse``
  (density) needs :math:`d` sequential passes, since :math:`u_\ell` requires :math:`u_{<\ell}`.
* **MAF** (Papamakarios et al., 2017, eqs. (2)-(3)): :math:`\xi_\ell = \xi_\ell(x_{<\ell})`.
  ``inverse`` (density) is one parallel pass :math:`u_\ell = \zeta^{-1}(x_\ell; \xi_\ell(x_{<\ell}))`;
  ``forward`` (sampling) needs :math:`d` sequential passes.

"<" refers to the MADE order (input degrees); "natural" is :math:`1..d`.

Triangular Jacobian. In both flows :math:`x_\ell` depends on :math:`u_{\le\ell}` only, so with
nfref's convention :math:`J_{\ell j} = \partial x_\ell/\partial u_j` the Jacobian is lower
triangular in the MADE order (the notes' transpose :math:`\partial\phi_j/\partial u_i` is upper
triangular) and

.. math::  \log|\det J| = \sum_\ell \log \partial_t\zeta(u_\ell; \xi_\ell),

the sum of the transformer's ``logderiv``: no :math:`d\times d` determinant.

Gradients of the parallel map. Write the parallel direction as :math:`b = P(a)`
(IAF: :math:`a = u, b = x`, elementwise map :math:`\zeta`; MAF: :math:`a = x, b = u`, map
:math:`\zeta^{-1}`) with :math:`\xi = C(a)` and :math:`\ell_P = \sigma\sum_\ell\lambda_\ell`,
:math:`\lambda = \log\zeta'`, :math:`\sigma = +1` (IAF) or :math:`-1` (MAF). For
:math:`L = g_b^\top b + g_\ell\,\ell_P`, the transformer's VJP at :math:`(a, \xi)` with upstream
:math:`(g_b, \sigma g_\ell)` gives :math:`(\bar a, \bar\xi)`; the chain rule through
:math:`\xi = C(a)` adds the MADE backward pass:

.. math::  \nabla_a L = \bar a + C_a^\top \bar\xi, \qquad \nabla_\theta L = C_\theta^\top\bar\xi.

Gradients of the sequential map (implicit function theorem). The sequential direction is
:math:`a = P^{-1}(b)`. Differentiating :math:`b = P(a;\theta)`:
:math:`da = K^{-1}(db - \partial_\theta P\,d\theta)`, :math:`K = \partial P/\partial a`. For
:math:`L = g_a^\top a + g_\ell\,\ell_S`, :math:`\ell_S = -\ell_P(a)`:

.. math::
    w = g_a - g_\ell\nabla_a\ell_P, \quad K^\top s = w, \quad
    \nabla_b L = s, \quad
    \nabla_\theta L = -g_\ell\,\partial_\theta\ell_P - (\partial_\theta P)^\top s .

:math:`-g_\ell\nabla_a\ell_P` and :math:`-g_\ell\partial_\theta\ell_P` are the parallel VJP with
upstream :math:`(0, -g_\ell)`; :math:`(\partial_\theta P)^\top s` and :math:`K^\top s` are the
parallel VJP with :math:`(s, 0)`. :math:`K = D + N` with :math:`D = \operatorname{diag}(e^{\sigma\lambda})`
and :math:`N` strictly triangular in the MADE order (nilpotent, :math:`N^d = 0`), so the
iteration :math:`s \leftarrow s + D^{-1}(w - K^\top s)`, i.e. :math:`s \leftarrow D^{-1}(w - N^\top s)`,
started at :math:`D^{-1}w`, is exact after :math:`d - 1` updates: back substitution, one
parallel VJP per dimension, mirroring the :math:`d` sequential passes of the map itself.
"""

import numpy as np

from nfref._validation import as_rng
from nfref.autoregressive.made import MADE
from nfref.transform import Transform
from nfref.autoregressive.transformers import Affine, BoundedAffine, Transformer

__all__ = ["MAF", "IAF", "maf_stack", "lower_triangular_inverse"]


def lower_triangular_inverse(K, order):
    """Inverse of a batch of matrices that are lower triangular after permuting rows and
    columns by ``order``, by substitution (the result keeps exact zeros), shape (n, d, d)."""
    n, d, _ = K.shape
    Kp = K[:, order][:, :, order]                              # (n, d, d) lower triangular
    X = np.zeros_like(Kp)
    eye = np.eye(d)
    for i in range(d):
        rhs = eye[i] - np.einsum("nj,njk->nk", Kp[:, i, :i], X[:, :i, :])
        X[:, i, :] = rhs / Kp[:, i, i][:, None]
    out = np.empty_like(X)
    out[:, order[:, None], order[None, :]] = X
    return out


class _AutoregressiveFlow(Transform):
    """Shared machinery of MAF and IAF: a parallel map ``P`` and its sequential inverse."""

    _sign = None         # +1: parallel map is zeta (IAF); -1: it is zeta^{-1} (MAF)

    def __init__(self, dim, transformer=None, hidden_sizes=(16, 16), order="natural",
                 random_state=None, output_scale=0.1):
        name = type(self).__name__
        transformer = Affine() if transformer is None else transformer
        if not isinstance(transformer, Transformer):
            raise ValueError(f"{name}: expected a nfref.autoregressive.transformers.Transformer, "
                             f"got {type(transformer).__name__}")
        rng = as_rng(random_state)
        self.transformer = transformer
        self.made = MADE(dim, transformer.n_params, hidden_sizes, order, rng)
        self.numerical_inverse = bool(transformer.numerical_inverse)
        bias = transformer.identity_xi((self.made.dim,))        # (d, k): zeta near identity
        self._last_state = None
        super().__init__(dim, self.made.init_params(rng, output_scale, bias))

    @classmethod
    def random(cls, dim, random_state=None, transformer=None, hidden_sizes=(8,),
               order="natural", output_scale=1.0, bias_scale=0.3):
        """Random weights (output layer ``N(0, output_scale^2/fan_in)``) and biases
        perturbed by ``N(0, bias_scale^2)``: a clearly non-identity map for tests."""
        rng = as_rng(random_state)
        t = cls(dim, transformer, hidden_sizes, order, rng, output_scale=output_scale)
        for k, v in t.params.items():
            if k.startswith("b"):
                v += bias_scale * rng.standard_normal(v.shape)
        return t

    def __repr__(self):
        return (f"{type(self).__name__}(dim={self.dim}, transformer={self.transformer!r}, "
                f"hidden_sizes={self.made.hidden_sizes}, "
                f"degrees={self.made.input_degrees.tolist()})")

    # ------------------------------------------------------------------ elementwise pieces
    def _op(self, a, xi):
        """The parallel direction's elementwise map: ``(b, lambda)``, lambda = log zeta'."""
        raise NotImplementedError

    def _op_inverse(self, b, xi):
        raise NotImplementedError

    def _op_vjp(self, a, xi, gb, glam):
        raise NotImplementedError

    def conditioner(self, a):
        """The conditioner's output ``xi`` (n, d, k) at the parallel map's input ``a``."""
        a = self._prepare(a, "a")
        return self.made.forward(a, self.made.masked_weights(self.params))[0]

    # ------------------------------------------------------------------ parallel map P
    def _state(self, a):
        """``(masked weights, xi, activations)`` at ``a``. The last one is remembered with an
        exact copy of ``a`` and of the parameters, so the VJP that follows a density pass at
        the same point (and the same weights) reuses the activations instead of recomputing
        them; any change of ``a`` or of a parameter value misses the cache."""
        cached = self._last_state
        if (cached is not None and cached[0].shape == a.shape and np.array_equal(cached[0], a)
                and all(np.array_equal(cached[1][k], v) for k, v in self.params.items())):
            return cached[2]
        net = self.made.masked_weights(self.params)
        xi, hs = self.made.forward(a, net)                     # (n, d, k)
        self._last_state = (a.copy(), {k: v.copy() for k, v in self.params.items()},
                            (net, xi, hs))
        return net, xi, hs

    def _parallel(self, a):
        _, xi, _ = self._state(a)
        b, lam = self._op(a, xi)
        return b, self._sign * lam.sum(1)

    def _parallel_vjp(self, a, gb, gl, state=None, params=True):
        net, xi, hs = self._state(a) if state is None else state
        glam = np.repeat((self._sign * gl)[:, None], a.shape[1], axis=1)     # (n, d)
        ga, gxi = self._op_vjp(a, xi, gb, glam)                # (n, d), (n, d, k)
        if not params:
            return ga + self.made.input_vjp(net, hs, gxi), None
        gc, gp = self.made.backward(net, hs, gxi)
        return ga + gc, gp

    def _parallel_jacobian(self, a):
        """``K[n, l, j] = d P_l / d a_j`` (lower triangular in the MADE order)."""
        net, xi, hs = self._state(a)
        _, lam = self._op(a, xi)
        _, dxi = self._op_vjp(a, xi, np.ones_like(a), np.zeros_like(a))   # dP_l/dxi_l
        K = np.einsum("nlc,nlcj->nlj", dxi, self.made.input_jacobian(net, hs))
        idx = np.arange(self.dim)
        K[:, idx, idx] += np.exp(self._sign * lam)
        return K

    # ------------------------------------------------------------------ sequential map P^-1
    def _sequential_pass(self, b):
        """``(a, lambda)``: ``a = P^{-1}(b)`` in ``d`` MADE passes, one dimension per pass."""
        net = self.made.masked_weights(self.params)            # once for the d passes
        a, lam = np.zeros_like(b), np.zeros_like(b)            # (n, d)
        for i in self.made.order:
            xi, _ = self.made.forward(a, net)                  # xi_i sees only a_{<i}: final
            ai, lami = self._op_inverse(b[:, i:i + 1], xi[:, i:i + 1])
            a[:, i], lam[:, i] = ai[:, 0], lami[:, 0]
        return a, lam

    def _sequential(self, b):
        a, lam = self._sequential_pass(b)
        return a, -self._sign * lam.sum(1)

    def _sequential_vjp(self, b, ga, gl):
        a, lam = self._sequential_pass(b)
        state = self._state(a)
        n = a.shape[0]
        zeros_n = np.zeros(n)
        A, B = self._parallel_vjp(a, np.zeros_like(a), -gl, state)
        w = ga + A                                             # (n, d)
        inv_diag = np.exp(-self._sign * lam)                   # 1 / diag(K)
        s = w * inv_diag
        for _ in range(self.dim - 1):                          # back substitution, N^d = 0
            kts, _ = self._parallel_vjp(a, s, zeros_n, state, params=False)
            s = s + (w - kts) * inv_diag
        _, C = self._parallel_vjp(a, s, zeros_n, state)
        return s, {k: B[k] - C[k] for k in self.params}


class IAF(_AutoregressiveFlow):
    r"""Inverse autoregressive flow :math:`x_\ell = \zeta(u_\ell; \xi_\ell(u_{<\ell}))`.

    Kingma, Salimans, Jozefowicz, Chen, Sutskever and Welling (2016), "Improved
    variational inference with inverse autoregressive flow", eq. (10); notes 000 sec. 4.1.
    Sampling (``forward``) is one MADE pass, so IAF suits variational inference, where
    samples and their own density are needed (reverse KL); ``inverse`` takes ``d`` passes.

    Parameters
    ----------
    dim : int
    transformer : Transformer, optional
        :class:`~nfref.autoregressive.transformers.Affine` if omitted.
    hidden_sizes : sequence of int
        Hidden layers of the MADE conditioner.
    order : {"natural", "reversed", "random"} or permutation of 1..d
    random_state : None, int or Generator
        Initial weights (and the random order).
    output_scale : float
        Scale of the conditioner's last layer at initialization; its bias is
        ``transformer.identity_xi``, so small values start near the identity.
    """

    _sign = 1

    def _op(self, a, xi):
        return self.transformer.forward(a, xi)

    def _op_inverse(self, b, xi):
        return self.transformer.inverse(b, xi)

    def _op_vjp(self, a, xi, gb, glam):
        return self.transformer.forward_vjp(a, xi, gb, glam)

    _forward = _AutoregressiveFlow._parallel
    _forward_vjp = _AutoregressiveFlow._parallel_vjp
    _inverse = _AutoregressiveFlow._sequential
    _inverse_vjp = _AutoregressiveFlow._sequential_vjp

    def _jacobian(self, u):
        return self._parallel_jacobian(u)


class MAF(_AutoregressiveFlow):
    r"""Masked autoregressive flow :math:`x_\ell = \zeta(u_\ell; \xi_\ell(x_{<\ell}))`.

    Papamakarios, Pavlakou and Murray (2017), "Masked autoregressive flow for density
    estimation", eqs. (2)-(3) (there with the affine :math:`\zeta`). The density pass
    ``inverse``, :math:`u_\ell = \zeta^{-1}(x_\ell; \xi_\ell(x_{<\ell}))`, is one MADE pass, so
    MAF suits maximum likelihood; sampling (``forward``) takes ``d`` passes. The forward
    Jacobian is the inverse of the (triangular) Jacobian of the density pass.

    Parameters are those of :class:`IAF`.
    """

    _sign = -1

    def _op(self, a, xi):
        return self.transformer.inverse(a, xi)

    def _op_inverse(self, b, xi):
        return self.transformer.forward(b, xi)

    def _op_vjp(self, a, xi, gb, glam):
        return self.transformer.inverse_vjp(a, xi, gb, glam)

    _forward = _AutoregressiveFlow._sequential
    _forward_vjp = _AutoregressiveFlow._sequential_vjp
    _inverse = _AutoregressiveFlow._parallel
    _inverse_vjp = _AutoregressiveFlow._parallel_vjp

    def _jacobian(self, u):
        x, _ = self._sequential(u)
        return lower_triangular_inverse(self._parallel_jacobian(x), self.made.order)


def maf_stack(dim, n_layers=5, hidden_sizes=(64, 64), transformer=None, random_state=None,
              cls=None, output_scale=0.1):
    """A :class:`~nfref.k_layers.Chain` of ``n_layers`` MAF (or ``cls``) layers whose MADE
    orders alternate natural / reversed, so each coordinate is conditioned on every other
    somewhere in the stack (Papamakarios et al., 2017, sec. 3). ``transformer`` is shared
    (transformers hold no parameters)."""
    from nfref.k_layers import Chain
    cls = MAF if cls is None else cls
    rng = as_rng(random_state)
    return Chain([cls(dim, transformer, hidden_sizes, ("natural", "reversed")[k % 2], rng,
                      output_scale=output_scale) for k in range(n_layers)])
