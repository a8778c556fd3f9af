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

Activations. The MADE conditioner's hidden activation is ``activation="tanh"`` (default) or
``"relu"`` (:mod:`nfref.autoregressive.made`, where both derivatives are derived).

Gradients of the parallel map. Write the parallel direction as :math:`b = P(a)`
(IAF: :math:`a = u, b = x`, elementwise map :math:`\zeta`; MAF: :math:`a = x, b = u`, map
:math:`\zeta^{-1}`) with :math:`\xi = C(a)` and :math:`\ell_P = \sigma\sum_\ell\lambda_\ell`,
:math:`\lambda = \log\zeta'`, :math:`\sigma = +1` (IAF) or :math:`-1` (MAF). For
:math:`L = g_b^\top b + g_\ell\,\ell_P`, the transformer's pullback at :math:`(a, \xi)` with
upstream :math:`(g_b, \sigma g_\ell)` gives :math:`(\bar a, \bar\xi)`; the chain rule through
:math:`\xi = C(a)` adds the MADE backward pass:

.. math::  \nabla_a L = \bar a + C_a^\top \bar\xi, \qquad \nabla_\theta L = C_\theta^\top\bar\xi.

The parallel pass runs the MADE once and the transformer once (its hook
``_forward_and_vjp`` for IAF, ``_inverse_and_vjp`` for MAF); its pullback reuses the MADE
activations and the transformer's pullback.

Gradients of the sequential map (implicit function theorem). The sequential direction is
:math:`a = P^{-1}(b)`, found in :math:`d` MADE passes (:meth:`nfref.autoregressive.made.MADE.sequential`,
which computes every hidden unit once, so that its activations at the end are those of the
parallel pass at the final :math:`a`). Differentiating :math:`b = P(a;\theta)`:
:math:`da = K^{-1}(db - \partial_\theta P\,d\theta)`, :math:`K = \partial P/\partial a`. For
:math:`L = g_a^\top a + g_\ell\,\ell_S`, :math:`\ell_S = -\ell_P(a)`:

.. math::
    w = g_a - g_\ell\nabla_a\ell_P, \quad K^\top s = w, \quad
    \nabla_b L = s, \quad
    \nabla_\theta L = -g_\ell\,\partial_\theta\ell_P - (\partial_\theta P)^\top s .

:math:`-g_\ell\nabla_a\ell_P` and :math:`-g_\ell\partial_\theta\ell_P` are the parallel pullback
with upstream :math:`(0, -g_\ell)`; :math:`(\partial_\theta P)^\top s` is the parallel pullback
with :math:`(s, 0)`: this is :func:`nfref.numerics.implicit_inverse_pullback` with the parallel
pass's pullback at the final point. :math:`K = D + N` with
:math:`D = \operatorname{diag}(e^{\sigma\lambda})` and :math:`N = (\partial_\xi P)\,C_a` strictly
triangular in the MADE order (nilpotent, :math:`N^d = 0`), so the iteration
:math:`s \leftarrow s + D^{-1}(w - K^\top s)`, i.e. :math:`s \leftarrow D^{-1}(w - N^\top s)`,
started at :math:`D^{-1}w`, is exact after :math:`d - 1` updates: back substitution, mirroring
the :math:`d` sequential passes of the map itself. Since :math:`P` is elementwise given
:math:`\xi`, :math:`N^\top s = C_a^\top(s \odot \partial_\xi P)`, where
:math:`\partial_\xi P` (n, d, k) is the transformer's pullback with :math:`(1, 0)` (computed
once): each update is one input-only MADE backward pass.
"""

import numpy as np

from nfref._validation import as_rng
from nfref.autoregressive.made import MADE, check_scale, perturb_biases
from nfref.numerics import implicit_inverse_pullback, tril_inverse
from nfref.transform import Transform
from nfref.autoregressive.transformers import Affine, Transformer

__all__ = ["MAF", "IAF", "maf_stack", "lower_triangular_inverse"]


def lower_triangular_inverse(K, order):
    """Inverse of a batch of matrices that are lower triangular after permuting rows and
    columns by ``order``, shape (n, d, d): :func:`nfref.numerics.tril_inverse` of the permuted
    matrices, permuted back (the result keeps exact zeros)."""
    X = tril_inverse(K[:, order][:, :, order])                 # (n, d, d) lower triangular
    out = np.empty_like(X)
    out[:, order[:, None], order[None, :]] = X
    return out


class _AutoregressiveFlow(Transform):
    """Shared machinery of MAF and IAF: a parallel map ``P`` and its sequential inverse."""

    _sign = None         # +1: parallel map is zeta (IAF); -1: it is zeta^{-1} (MAF)

    def __init__(self, dim, transformer=None, hidden_sizes=(16, 16), order="natural",
                 random_state=None, output_scale=0.1, activation="tanh"):
        name = type(self).__name__
        transformer = Affine() if transformer is None else transformer
        if not isinstance(transformer, Transformer):
            raise ValueError(f"{name}: expected a nfref.autoregressive.transformers.Transformer, "
                             f"got {type(transformer).__name__}")
        output_scale = check_scale(output_scale, "output_scale", name)
        rng = as_rng(random_state)
        self.transformer = transformer
        self.made = MADE(dim, transformer.n_params, hidden_sizes, order, rng, activation)
        bias = transformer.identity_xi((self.made.dim,))        # (d, k): zeta near identity
        super().__init__(dim, self.made.init_params(rng, output_scale, bias))

    @classmethod
    def random(cls, dim, random_state=None, transformer=None, hidden_sizes=(8,),
               order="natural", output_scale=1.0, bias_scale=0.3, activation="tanh"):
        """Random weights (output layer ``N(0, output_scale^2/fan_in)``) and biases
        perturbed by ``N(0, bias_scale^2)``: a clearly non-identity map for tests."""
        bias_scale = check_scale(bias_scale, "bias_scale", f"{cls.__name__}.random")
        rng = as_rng(random_state)
        t = cls(dim, transformer, hidden_sizes, order, rng, output_scale=output_scale,
                activation=activation)
        perturb_biases(t.params, rng, bias_scale)
        return t

    @property
    def numerical_inverse(self):
        """True when the transformer's inverse is a numerical solve."""
        return bool(self.transformer.numerical_inverse)

    @property
    def activation(self):
        """The MADE's hidden activation, ``"tanh"`` or ``"relu"``."""
        return self.made.activation

    def __repr__(self):
        return (f"{type(self).__name__}(dim={self.dim}, transformer={self.transformer!r}, "
                f"hidden_sizes={self.made.hidden_sizes}, "
                f"degrees={self.made.input_degrees.tolist()}, activation={self.activation!r})")

    def conditioner(self, a):
        """The conditioner's output ``xi`` (n, d, k) at the parallel map's input ``a``."""
        a = self._prepare(a, "a")
        return self.made.forward(a, self.made.masked_weights(self.params))[0]

    # ------------------------------------------------------------------ elementwise pieces
    def _op_and_vjp(self, a, xi, known=None):
        """The parallel direction's elementwise map: ``(b, lambda, back)``, lambda = log zeta';
        ``known`` is its value ``b`` where the caller already has it (no solve then)."""
        raise NotImplementedError

    def _op_inverse(self, b, xi):
        """The sequential direction's elementwise map, value only: ``(a, lambda)``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ parallel map P
    def _parallel_and_vjp(self, a, net, hs, xi, known=None):
        """``(b, logdet, back, lam, t_back)`` of ``P`` at ``a`` given the MADE pass there
        (and ``known = P(a)`` when the caller has it)."""
        b, lam, t_back = self._op_and_vjp(a, xi, known)
        sign, made = self._sign, self.made

        def back(gb, gl):
            glam = np.broadcast_to((sign * gl)[:, None], lam.shape)          # (n, d)
            ga, gxi = t_back(gb, glam)                                       # (n, d), (n, d, k)
            gc, gp = made.backward(net, hs, gxi)
            return ga + gc, gp
        return b, sign * lam.sum(1), back, lam, t_back

    def _parallel(self, a):
        """``(b, logdet, pullback)``: one MADE pass, one transformer pass."""
        net = self.made.masked_weights(self.params)
        xi, hs = self.made.forward(a, net)                                   # (n, d, k)
        return self._parallel_and_vjp(a, net, hs, xi)[:3]

    def _parallel_jacobian(self, a, net, hs):
        """``K[n, l, j] = d P_l / d a_j`` (lower triangular in the MADE order), from the
        MADE activations ``hs`` at ``a``."""
        xi = self.made.output(net, hs)
        _, lam, t_back = self._op_and_vjp(a, xi)
        _, dxi = t_back(np.ones_like(a), np.zeros_like(a))                   # dP_l/dxi_l (n, d, k)
        dc = self.made.input_jacobian(net, hs)                               # (n, d, k, d)
        K = np.matmul(dxi[:, :, None, :], dc)[:, :, 0, :]                    # (n, d, d)
        idx = np.arange(self.dim)
        K[:, idx, idx] += np.exp(self._sign * lam)
        return K

    # ------------------------------------------------------------------ sequential map P^-1
    def _sequential_pass(self, b):
        """``(a, logdet, net, hs)``: ``a = P^{-1}(b)`` in ``d`` MADE passes, one dimension per
        pass, the masked weights computed once; ``hs`` are the MADE activations at ``a``."""
        net = self.made.masked_weights(self.params)
        n, order = b.shape[0], self.made.order
        b_sorted = b[:, order]                                 # (n, d), column p: order[p]
        lam_sorted = np.empty_like(b_sorted)
        op = self._op_inverse
        k = self.made.n_outputs

        def step(p, xi):                                       # xi (n, k): final for order[p]
            ap, lamp = op(b_sorted[:, p:p + 1], xi.reshape(n, 1, k))
            lam_sorted[:, p] = lamp[:, 0]
            return ap[:, 0]
        a, hs = self.made.sequential(net, n, step)
        return a, -self._sign * lam_sorted.sum(1), net, hs

    def _sequential(self, b):
        return self._sequential_pass(b)[:2]

    def _sequential_and_vjp(self, b):
        """``(a, logdet, pullback)``: the ``d`` passes, then the implicit-function rule with
        the parallel pass's pullback at the final point (module docstring)."""
        a, logdet, net, hs = self._sequential_pass(b)
        # Exact at the final point, no extra MADE pass: MADE.sequential computed each hidden
        # unit once, at the pass where all inputs it reads (degree <= its own <= d - 1) were
        # final, so hs are the activations of a MADE pass at `a`; the output layer on them
        # gives xi(a) (the input of the largest degree d reaches no hidden unit or output).
        xi = self.made.output(net, hs)
        _, _, back, lam, t_back = self._parallel_and_vjp(a, net, hs, xi, known=b)
        inv_diag = np.exp(-self._sign * lam)                   # 1 / diag(K), (n, d)
        dp_dxi = t_back(np.ones_like(a), np.zeros_like(a))[1]  # dP_l/dxi_l, (n, d, k)
        made, slopes, n_sub = self.made, self.made.slopes(hs), self.dim - 1

        def solve_transpose(w):
            """``s`` with ``K^T s = w``: back substitution ``s <- D^{-1}(w - N^T s)``."""
            s = w * inv_diag
            for _ in range(n_sub):                             # exact after d - 1, N^d = 0
                nts = made.input_vjp(net, hs, s[:, :, None] * dp_dxi, slopes)
                s = (w - nts) * inv_diag
            return s
        return a, logdet, implicit_inverse_pullback(back, solve_transpose)


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
    activation : {"tanh", "relu"}
        Hidden activation of the MADE conditioner.
    """

    _sign = 1

    def _op_and_vjp(self, a, xi, known=None):
        return self.transformer._forward_and_vjp(a, xi)

    def _op_inverse(self, b, xi):
        return self.transformer._inverse(b, xi)

    def _forward_and_vjp(self, u):
        return self._parallel(u)

    def _inverse_and_vjp(self, x):
        return self._sequential_and_vjp(x)

    def _inverse(self, x):
        return self._sequential(x)

    def _jacobian(self, u):
        net = self.made.masked_weights(self.params)
        _, hs = self.made.forward(u, net)
        return self._parallel_jacobian(u, net, hs)


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

    def _op_and_vjp(self, a, xi, known=None):
        # a solver-based inverse is not run again where the sequential pass already gave t
        tr = self.transformer
        if known is not None and tr._inverse_solves:
            return tr._inverse_and_vjp_at(known, xi)
        return tr._inverse_and_vjp(a, xi)

    def _op_inverse(self, b, xi):
        return self.transformer._forward(b, xi)

    def _forward_and_vjp(self, u):
        return self._sequential_and_vjp(u)

    def _forward(self, u):
        return self._sequential(u)

    def _inverse_and_vjp(self, x):
        return self._parallel(x)

    def _jacobian(self, u):
        x, _, net, hs = self._sequential_pass(u)               # hs: the MADE pass at x
        return lower_triangular_inverse(self._parallel_jacobian(x, net, hs), self.made.order)


def maf_stack(dim, n_layers=5, hidden_sizes=(64, 64), transformer=None, random_state=None,
              cls=None, output_scale=0.1, activation="tanh"):
    """A :class:`~nfref.k_layers.Chain` of ``n_layers`` MAF (or ``cls``) layers whose MADE
    orders alternate natural / reversed, so each coordinate is conditioned on every other
    somewhere in the stack (Papamakarios et al., 2017, sec. 3). ``transformer`` is shared
    (transformers hold no parameters)."""
    from nfref.k_layers import Chain
    cls = MAF if cls is None else cls
    rng = as_rng(random_state)
    return Chain([cls(dim, transformer, hidden_sizes, ("natural", "reversed")[k % 2], rng,
                      output_scale=output_scale, activation=activation)
                  for k in range(n_layers)])
