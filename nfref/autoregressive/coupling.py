r"""Coupling layers (RealNVP): the two-block special case of a transformer flow.

Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", eqs. (4)-(9);
notes 000, section 4.1 with the conditioner restricted to one block. Split the coordinates
into a conditioning block :math:`A` and a transformed block :math:`B`:

.. math::  x_A = u_A, \qquad x_B = \zeta(u_B;\ \xi(u_A)),

with any :class:`~nfref.autoregressive.transformers.Transformer` :math:`\zeta` applied
elementwise and a plain MLP conditioner :math:`\xi: \mathbb{R}^{|A|} \to \mathbb{R}^{|B| \times k}`
(hidden activation ``activation``, ``"tanh"`` or ``"relu"``, both derived in
:mod:`nfref.autoregressive.made`). The inverse has the same cost as the forward pass (both are one MLP pass):
:math:`u_A = x_A`, :math:`u_B = \zeta^{-1}(x_B; \xi(x_A))`.

It is an autoregressive flow in which :math:`\xi_\ell` reads only the first block: with
the coordinates ordered :math:`(A, B)`, the Jacobian is block lower triangular,

.. math::  J = \begin{pmatrix} I & 0 \\ \partial_\xi\zeta\,\partial_{u_A}\xi & \operatorname{diag}(\zeta') \end{pmatrix},
           \qquad \log|\det J| = \sum_{\ell\in B}\log\zeta'(u_\ell; \xi_\ell).

Gradients. For :math:`L = g_x^\top x + g_\ell \log|\det J|`, the transformer's pullback at
:math:`(u_B, \xi)` with upstream :math:`(g_{x,B}, g_\ell)` gives :math:`(\bar u_B, \bar\xi)`, and the
MLP backward pass (:func:`nfref.autoregressive.made.mlp_backward`) carries :math:`\bar\xi` to the weights and
to :math:`u_A`:

.. math::  \nabla_{u_A} L = g_{x,A} + (\partial_{u_A}\xi)^\top\bar\xi, \qquad
           \nabla_{u_B} L = \bar u_B, \qquad \nabla_\theta L = (\partial_\theta\xi)^\top\bar\xi.

The inverse direction is the same with the transformer's inverse pullback (its hook
``_inverse_and_vjp``) at :math:`(x_B, \xi(x_A))` and upstream :math:`(g_{u,B}, -g_\ell)`, since the
inverse log-determinant is :math:`-\sum_{\ell\in B}\lambda_\ell`. Each direction is one pass: the
MLP once and the transformer once; the pullback reuses the MLP activations and the
transformer's pullback.

Blocks. ``A`` is the first :math:`\lfloor d/2 \rfloor` coordinates (``flip=False``) or the last
:math:`\lfloor d/2 \rfloor` (``flip=True``); ``B`` is the rest. Alternating ``flip`` in a stack
(or inserting :class:`Permute` layers) lets every coordinate be transformed and condition
the others. For ``d = 1`` the block ``A`` is empty: there is nothing to condition on, and
the layer is the transformer with constant learned parameters :math:`\xi` (the conditioner
reduces to its output bias; ``hidden_sizes`` is ignored).
"""

import numpy as np

from nfref._validation import as_rng, check_dim
from nfref.autoregressive.made import (check_activation, check_hidden_sizes, check_scale, mlp_backward, mlp_forward, mlp_init,
                                       mlp_jvp, perturb_biases)
from nfref.transform import Transform
from nfref.autoregressive.transformers import Affine, Transformer

__all__ = ["Coupling", "Permute", "coupling_stack"]


class Coupling(Transform):
    r"""Coupling layer :math:`x_A = u_A,\ x_B = \zeta(u_B; \xi(u_A))` (module docstring).

    Parameters
    ----------
    dim : int
    transformer : Transformer, optional
        :class:`~nfref.autoregressive.transformers.Affine` if omitted (RealNVP's affine coupling).
    hidden_sizes : sequence of int
        Hidden layers of the conditioner (ignored for ``d = 1``).
    flip : bool
        Condition on the last :math:`\lfloor d/2\rfloor` coordinates instead of the first.
    random_state : None, int or Generator
    output_scale : float
        Scale of the conditioner's last layer at initialization (its bias is
        ``transformer.identity_xi``, so small values start near the identity).
    activation : {"tanh", "relu"}
        Hidden activation of the conditioner.

    Attributes
    ----------
    cond_idx, trans_idx : ndarray of int
        The blocks ``A`` and ``B``.
    """

    def __init__(self, dim, transformer=None, hidden_sizes=(16,), flip=False,
                 random_state=None, output_scale=0.1, activation="tanh"):
        transformer = Affine() if transformer is None else transformer
        if not isinstance(transformer, Transformer):
            raise ValueError("Coupling: expected a nfref.autoregressive.transformers.Transformer, "
                             f"got {type(transformer).__name__}")
        self.transformer = transformer
        self.activation = check_activation(activation, "Coupling")
        if not isinstance(flip, (bool, np.bool_)):
            raise ValueError(f"Coupling: flip: expected True or False, got {flip!r}")
        self.flip = bool(flip)
        output_scale = check_scale(output_scale, "output_scale", "Coupling")
        d = check_dim(dim)
        half = d // 2
        if self.flip:
            self.cond_idx, self.trans_idx = np.arange(d - half, d), np.arange(d - half)
            self._cond, self._trans = slice(d - half, d), slice(0, d - half)
        else:
            self.cond_idx, self.trans_idx = np.arange(half), np.arange(half, d)
            self._cond, self._trans = slice(0, half), slice(half, d)
        k = transformer.n_params
        hidden_sizes = check_hidden_sizes(hidden_sizes, "Coupling")
        self.hidden_sizes = hidden_sizes if half > 0 else ()
        sizes = (half, *self.hidden_sizes, len(self.trans_idx) * k)
        bias = transformer.identity_xi((len(self.trans_idx),)).reshape(-1)
        weights, biases = mlp_init(sizes, as_rng(random_state), output_scale, bias)
        params = {}
        for i, (w, b) in enumerate(zip(weights, biases)):
            if w.size:
                params[f"W{i}"] = w
            params[f"b{i}"] = b
        self.n_layers = len(sizes) - 1
        super().__init__(dim, params)

    @classmethod
    def random(cls, dim, random_state=None, transformer=None, hidden_sizes=(8,), flip=False,
               output_scale=1.0, bias_scale=0.3, activation="tanh"):
        """Random weights and biases perturbed by ``N(0, bias_scale^2)`` (for tests)."""
        bias_scale = check_scale(bias_scale, "bias_scale", "Coupling.random")
        rng = as_rng(random_state)
        t = cls(dim, transformer, hidden_sizes, flip, rng, output_scale=output_scale,
                activation=activation)
        perturb_biases(t.params, rng, bias_scale)
        return t

    @property
    def numerical_inverse(self):
        """True when the transformer's inverse is a numerical solve."""
        return bool(self.transformer.numerical_inverse)

    def __repr__(self):
        return (f"Coupling(dim={self.dim}, transformer={self.transformer!r}, "
                f"hidden_sizes={self.hidden_sizes}, condition_on={self.cond_idx.tolist()}, "
                f"activation={self.activation!r})")

    # ------------------------------------------------------------------ conditioner
    def _net(self):
        """Weights (copies, so a pullback keeps the pass's own even if the parameters are
        updated in place afterwards) and biases of the conditioner."""
        n_in = len(self.cond_idx)
        weights = [self.params[f"W{i}"].copy() if f"W{i}" in self.params
                   else np.zeros((n_in, self.params[f"b{i}"].size))
                   for i in range(self.n_layers)]
        return weights, [self.params[f"b{i}"] for i in range(self.n_layers)]

    def _conditioner(self, a):
        """``(xi (n, |B|, k), activations, weights)`` from the conditioning block ``a``."""
        weights, biases = self._net()
        out, hs = mlp_forward(weights, biases, a, self.activation)
        return out.reshape(a.shape[0], len(self.trans_idx), -1), hs, weights

    def _conditioner_backward(self, hs, weights, gxi):
        g_a, g_w, g_b = mlp_backward(weights, hs, gxi.reshape(gxi.shape[0], -1),
                                     activation=self.activation)
        gp = {}
        for i in range(self.n_layers):
            if f"W{i}" in self.params:
                gp[f"W{i}"] = g_w[i]
            gp[f"b{i}"] = g_b[i]
        return g_a, {k: gp[k] for k in self.params}

    def _pass(self, v, op, sign):
        """One direction: ``v_A`` unchanged, ``v_B`` through ``op`` (a transformer hook) with
        ``xi(v_A)``; the pullback carries ``(g_B, sign * gl)`` through the transformer's and
        the MLP's backward passes (module docstring)."""
        cond, trans = self._cond, self._trans
        xi, hs, weights = self._conditioner(v[:, cond])
        wb, lam, t_back = op(v[:, trans], xi)
        w = v.copy()
        w[:, trans] = wb

        def back(gw, gl):
            gvb, gxi = t_back(gw[:, trans], np.broadcast_to((sign * gl)[:, None], lam.shape))
            g_a, gp = self._conditioner_backward(hs, weights, gxi)
            gv = gw.copy()
            gv[:, trans] = gvb
            gv[:, cond] += g_a
            return gv, gp
        return w, sign * lam.sum(1), back

    # ------------------------------------------------------------------ maths hooks
    def _forward_and_vjp(self, u):
        return self._pass(u, self.transformer._forward_and_vjp, 1.0)

    def _inverse_and_vjp(self, x):
        return self._pass(x, self.transformer._inverse_and_vjp, -1.0)

    def _jacobian(self, u):
        n = u.shape[0]
        a, ub = u[:, self._cond], u[:, self._trans]
        xi, hs, weights = self._conditioner(a)
        _, lam, t_back = self.transformer._forward_and_vjp(ub, xi)
        _, dzeta_dxi = t_back(np.ones_like(ub), np.zeros_like(ub))          # (n, |B|, k)
        jac = np.zeros((n, self.dim, self.dim))
        jac[:, self.cond_idx, self.cond_idx] = 1.0
        jac[:, self.trans_idx, self.trans_idx] = np.exp(lam)
        eye = np.eye(len(self.cond_idx))
        for j, col in enumerate(self.cond_idx):                # loop over dimensions of A
            dxi = mlp_jvp(weights, hs, np.broadcast_to(eye[j], a.shape),
                          self.activation).reshape(xi.shape)
            jac[:, self.trans_idx, col] = (dzeta_dxi * dxi).sum(-1)
        return jac


class Permute(Transform):
    r"""Fixed permutation :math:`x_i = u_{\pi(i)}`, :math:`\log|\det J| = 0`, no parameters.

    Placed between coupling (or autoregressive) layers so that every coordinate is
    transformed. Pullbacks: :math:`\nabla_u L = g_x` scattered back, ``gu[:, perm] = gx``,
    i.e. ``gu = gx[:, inv_perm]``; inversely ``gx = gu[:, perm]``.
    """

    def __init__(self, perm):
        perm = np.asarray(perm)
        d = perm.size
        if (perm.ndim != 1 or d == 0 or perm.dtype.kind not in "iuf"
                or not np.all(perm == np.round(perm))
                or sorted(perm.astype(int).tolist()) != list(range(d))):
            raise ValueError(f"Permute: perm: expected a permutation of 0..{d - 1}, got "
                             f"{perm!r}")
        self.perm = perm.astype(int)
        self.inv_perm = np.argsort(self.perm)
        super().__init__(d, {})

    @classmethod
    def random(cls, dim, random_state=None):
        """A random permutation of ``0..dim-1``."""
        return cls(as_rng(random_state).permutation(check_dim(dim)))

    def __repr__(self):
        return f"Permute({self.perm.tolist()})"

    def _forward_and_vjp(self, u):
        inv_perm = self.inv_perm
        return u[:, self.perm], np.zeros(u.shape[0]), lambda gx, gl: (gx[:, inv_perm], {})

    def _inverse_and_vjp(self, x):
        perm = self.perm
        return x[:, self.inv_perm], np.zeros(x.shape[0]), lambda gu, gl: (gu[:, perm], {})

    def _jacobian(self, u):
        return np.broadcast_to(np.eye(self.dim)[self.perm], (u.shape[0], self.dim, self.dim)).copy()


def coupling_stack(dim, n_layers=6, hidden_sizes=(64, 64), transformer=None,
                   random_state=None, output_scale=0.1, activation="tanh"):
    """A :class:`~nfref.k_layers.Chain` of coupling layers with alternating ``flip``
    (RealNVP's alternating masks, Dinh et al., 2017, sec. 3.4)."""
    from nfref.k_layers import Chain
    rng = as_rng(random_state)
    return Chain([Coupling(dim, transformer, hidden_sizes, bool(k % 2), rng,
                           output_scale=output_scale, activation=activation)
                  for k in range(n_layers)])
