r"""K-layer flows: a chain of transforms, eq. (9), backpropagation through K layers.

Notes 000, section 3. The chain follows the notes' **sampling procedure**

.. math::  Y_0 = U \sim p_U, \qquad Y_k = \phi_k(Y_{k-1};\theta_k)\ (k = 1..K), \qquad X = Y_K,

so :math:`X = \phi_K \circ \cdots \circ \phi_1(U)`: layer 1 acts first. Eq. (6) of the notes
writes :math:`\phi_1 \circ \phi_2 \circ \cdots \circ \phi_K(U)`, where :math:`\phi_K` acts first;
that is the opposite order (a slip: this module, its tests and notebook 03 use the sampling
procedure, and the notebook shows that the two orders give different maps).

Eq. (9), the log-likelihood by the forward trick (eq. (8)) applied layer by layer:

.. math::  \log p_X(x) = \log p_U(Y_0) - \sum_{k=1}^K \log\big|\det J_{\phi_k}(Y_{k-1})\big|,
           \qquad Y_{k-1} = \phi_k^{-1}\circ\phi_{k+1}^{-1}\circ\cdots\circ\phi_K^{-1}(x).

The notes name that composition :math:`Y_k`; with the sampling procedure above it is
:math:`Y_{k-1}` (the second slip of the section: off by one). :meth:`Chain.eq9_terms` runs
the inverse pass once, keeps every :math:`Y_k`, and evaluates each term as the *forward*
log-determinant of layer ``k`` at the kept :math:`Y_{k-1}`, as eq. (9) is written. Since
:math:`Y_{k-1}` is computed from ``x`` by the layers ``k..K`` only, the ``k``-th term depends
on :math:`\theta_{k:K}` alone.

Backpropagation through K layers (the forward direction)
--------------------------------------------------------
With :math:`\ell = \sum_k \ell_k(Y_{k-1};\theta_k)`, :math:`\ell_k = \log|\det J_{\phi_k}|`,
and the scalar :math:`L = g_x^\top X + g_\ell\,\ell`, let :math:`a_k = \partial L/\partial Y_k`
(the total derivative through all later layers). Then :math:`a_K = g_x` and, because
:math:`Y_{k-1}` enters :math:`L` through :math:`Y_k = \phi_k(Y_{k-1})` and through
:math:`\ell_k(Y_{k-1})` only,

.. math::
    a_{k-1} = J_{\phi_k}(Y_{k-1})^\top a_k + g_\ell \nabla_y \ell_k(Y_{k-1}), \qquad
    \nabla_{\theta_k} L = (\partial_{\theta_k}\phi_k)^\top a_k + g_\ell\,\partial_{\theta_k}\ell_k,

which is exactly the pullback that layer ``k``'s forward pass at :math:`Y_{k-1}` returned,
called with upstream gradients :math:`(a_k, g_\ell)`. :meth:`Chain._forward_and_vjp` runs the
layers once, keeps their pullbacks, and its own pullback calls them for ``k = K, ..., 1``,
returning :math:`\nabla_u L = a_0`.

The inverse direction
---------------------
:math:`Y_K = x`, :math:`Y_{k-1} = \phi_k^{-1}(Y_k)`, :math:`u = Y_0` and
:math:`\ell^{-1} = \sum_k \ell_k^{-1}(Y_k)` with :math:`\ell_k^{-1} = \log|\det J_{\phi_k^{-1}}|`.
For :math:`L = g_u^\top u + g_\ell\,\ell^{-1}` and :math:`b_k = \partial L/\partial Y_k`:
:math:`b_0 = g_u`, and for ``k = 1, ..., K``

.. math::
    b_k = J_{\phi_k^{-1}}(Y_k)^\top b_{k-1} + g_\ell\nabla_y\ell^{-1}_k(Y_k), \qquad
    \nabla_{\theta_k} L = \text{layer } k\text{'s inverse VJP at } Y_k \text{ with } (b_{k-1}, g_\ell),

and :math:`\nabla_x L = b_K`: the pullbacks of the layers' inverse passes, called for
``k = 1, ..., K``. The gradient of the mean log-likelihood of a
:class:`~nfref.distributions.Flow` with a chain is this pass with
:math:`g_u = -\frac1n\nabla\log p_U(Y_0)` and :math:`g_\ell = -\frac1n`. Each layer's pass runs
once and its pullback is called once: time linear in K, memory for what the K pullbacks
keep, O(K n d) for most layers.
"""

import numpy as np

from nfref.transform import Transform, prefix_params

__all__ = ["Chain", "log_likelihood_eq9"]


class Chain(Transform):
    r"""The composition :math:`x = \phi_K \circ \cdots \circ \phi_1(u)` (layer 0 of the list acts first).

    :math:`\log|\det J(u)| = \sum_{k} \log|\det J_{\phi_k}(Y_{k-1})|` and
    :math:`J(u) = J_{\phi_K}(Y_{K-1}) \cdots J_{\phi_1}(Y_0)`. A chain is a
    :class:`~nfref.transform.Transform`, so chains nest.

    Parameters
    ----------
    layers : sequence of Transform
        The layers :math:`\phi_1, \dots, \phi_K` in the order of the sampling procedure
        (``layers[0]`` is applied to ``u``). All must have the same dimension.

    Attributes
    ----------
    params : dict
        ``"<k>.<name>"`` for parameter ``name`` of ``layers[k]`` (``k`` counts from 0). The arrays
        are the layers' own arrays, shared, so an optimizer's in-place update reaches the layers.

    Examples
    --------
    >>> import numpy as np
    >>> from nfref.one_layer.linear import ElementwiseAffine
    >>> chain = Chain([ElementwiseAffine([1.0], [0.0]), ElementwiseAffine([0.0], [np.log(2.0)])])
    >>> chain.forward(np.array([[1.0]]))          # (1 + 1) * 2, log 2
    (array([[4.]]), array([0.69314718]))
    >>> sorted(chain.params)
    ['0.log_scale', '0.shift', '1.log_scale', '1.shift']
    """

    def __init__(self, layers):
        if isinstance(layers, Transform) or not hasattr(layers, "__iter__"):
            raise ValueError(f"Chain: expected a sequence of Transforms, got a "
                             f"{type(layers).__name__}")
        layers = list(layers)
        if not layers:
            raise ValueError("Chain: expected at least one layer, got an empty list")
        for k, layer in enumerate(layers):
            if not isinstance(layer, Transform):
                raise ValueError(f"Chain: layer {k} is a {type(layer).__name__}, expected a "
                                 "Transform")
        dims = [layer.dim for layer in layers]
        if len(set(dims)) != 1:
            raise ValueError(f"Chain: every layer must have the same dimension, got {dims}")
        self.layers = layers
        shared, seen = {}, {}
        for k, layer in enumerate(layers):
            for name, arr in prefix_params(str(k), layer.params).items():
                if id(arr) in seen:
                    raise ValueError(f"Chain: parameter {name!r} is the same array as "
                                     f"{seen[id(arr)]!r}; expected each layer to appear once "
                                     "(tied parameters would get one gradient per occurrence)")
                seen[id(arr)] = name
                shared[name] = arr
        super().__init__(dims[0], shared, copy=False)   # the layers' arrays, not copies

    @property
    def numerical_inverse(self):
        """True when some layer inverts numerically."""
        return any(layer.numerical_inverse for layer in self.layers)

    # ------------------------------------------------------------------ structure
    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        """``chain[k]`` is layer ``k``; ``chain[a:b]`` a chain of those layers (shared parameters)."""
        if isinstance(index, slice):
            return Chain(self.layers[index])
        return self.layers[index]

    def __repr__(self):
        inner = ", ".join(type(layer).__name__ for layer in self.layers)
        return f"Chain(dim={self.dim}, K={len(self)}: [{inner}])"

    def _validate_params(self):
        for layer in self.layers:
            layer._validate_params()

    def _check_forward_domain(self, u):
        self.layers[0]._check_forward_domain(u)

    def _check_inverse_domain(self, x):
        self.layers[-1]._check_inverse_domain(x)

    def _checked(self, k, y, where):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"Chain: the {where} pass produced non-finite values at layer {k} "
                             f"({type(self.layers[k]).__name__}); expected finite intermediates")
        return y

    # ------------------------------------------------------------------ passes that return every Y_k
    def forward_pass(self, u):
        r"""The sampling procedure: ``[Y_0, ..., Y_K]`` and the per-layer forward log-determinants.

        Parameters
        ----------
        u : array_like, shape (n, d)

        Returns
        -------
        ys : list of K + 1 ndarrays, shape (n, d)
            ``ys[0] = u``, ``ys[k] = phi_k(ys[k-1])``; memory O(K n d).
        logdets : ndarray, shape (K, n)
            ``logdets[k-1] = log|det J_{phi_k}(Y_{k-1})|``.
        """
        u = self._prepare(u, "u")
        self._check_forward_domain(u)
        return self._forward_pass(u)

    def inverse_pass(self, x):
        r"""The inverse pass of eq. (9): ``[Y_0, ..., Y_K]`` with ``Y_K = x``.

        Returns
        -------
        ys : list of K + 1 ndarrays, shape (n, d)
            ``ys[k-1] = phi_k^{-1}(ys[k])``.
        logdets : ndarray, shape (K, n)
            ``logdets[k-1] = log|det J_{phi_k^{-1}}(Y_k)|``.
        """
        x = self._prepare(x, "x")
        self._check_inverse_domain(x)
        return self._inverse_pass(x)

    def eq9_terms(self, x):
        r"""Eq. (9) term by term: ``(ys, terms)`` with ``terms[k-1] = log|det J_{phi_k}(Y_{k-1})|``.

        The ``Y_k`` come from one inverse pass (kept); each term is the layer's *forward*
        log-determinant at the kept ``Y_{k-1}``, as eq. (9) is written with the forward trick,
        not the inverse log-determinant.

        Parameters
        ----------
        x : array_like, shape (n, d)

        Returns
        -------
        ys : list of K + 1 ndarrays, shape (n, d)
        terms : ndarray, shape (K, n)
        """
        ys, _ = self.inverse_pass(x)
        return ys, np.array([layer._forward(ys[k])[1] for k, layer in enumerate(self.layers)])

    def _forward_pass(self, u):
        ys, logdets = [u], []
        for k, layer in enumerate(self.layers):
            if k:
                layer._check_forward_domain(ys[-1])
            y, ld = layer._forward(ys[-1])
            ys.append(self._checked(k, y, "forward"))
            logdets.append(ld)
        return ys, np.array(logdets)

    def _inverse_pass(self, x):
        ys, logdets = [x], []
        for k in reversed(range(len(self.layers))):
            layer = self.layers[k]
            if k != len(self.layers) - 1:
                layer._check_inverse_domain(ys[0])
            y, ld = layer._inverse(ys[0])
            ys.insert(0, self._checked(k, y, "inverse"))
            logdets.insert(0, ld)
        return ys, np.array(logdets)

    # ------------------------------------------------------------------ Transform hooks
    def _forward(self, u):
        ys, logdets = self._forward_pass(u)
        return ys[-1], logdets.sum(0)

    def _inverse(self, x):
        ys, logdets = self._inverse_pass(x)
        return ys[0], logdets.sum(0)

    def _forward_and_vjp(self, u):
        """One forward pass through the layers, keeping each layer's pullback; the chain's
        pullback calls them for ``k = K..1`` with ``(a_k, gl)`` (module docstring)."""
        y, lds, backs = u, [], []
        for k, layer in enumerate(self.layers):
            if k:
                layer._check_forward_domain(y)
            y, ld, back = layer._forward_and_vjp(y)
            self._checked(k, y, "forward")
            lds.append(ld)
            backs.append(back)

        def pullback(gx, gl):
            a, grads = gx, {}                                      # a_K = g_x
            for k in reversed(range(len(backs))):
                a, gp = backs[k](a, gl)                            # a_{k-1}, grad theta_k
                grads.update(prefix_params(str(k), gp))
            return a, {key: grads[key] for key in self.params}
        return y, np.array(lds).sum(0), pullback              # summed as _forward sums

    def _inverse_and_vjp(self, x):
        """One inverse pass through the layers ``K..1``, keeping each pullback; the chain's
        pullback calls them for ``k = 1..K`` with ``(b_{k-1}, gl)`` (module docstring)."""
        K = len(self.layers)
        y, lds, backs = x, [None] * K, [None] * K
        for k in reversed(range(K)):
            layer = self.layers[k]
            if k != K - 1:
                layer._check_inverse_domain(y)
            y, lds[k], backs[k] = layer._inverse_and_vjp(y)
            self._checked(k, y, "inverse")

        def pullback(gu, gl):
            b, grads = gu, {}                                      # b_0 = g_u
            for k, back in enumerate(backs):
                b, gp = back(b, gl)                                # b_k, grad theta_k
                grads.update(prefix_params(str(k), gp))
            return b, {key: grads[key] for key in self.params}
        return y, np.array(lds).sum(0), pullback              # summed as _inverse sums

    def _jacobian(self, u):
        ys, _ = self._forward_pass(u)
        jac = self.layers[0]._jacobian(ys[0])                      # (n, d, d)
        for k in range(1, len(self.layers)):
            jac = self.layers[k]._jacobian(ys[k]) @ jac            # J_k(Y_{k-1}) J_{<k}
        return jac


def log_likelihood_eq9(base, chain, x):
    r"""Eq. (9) literally: :math:`\log p_U(Y_0) - \sum_k \log|\det J_{\phi_k}(Y_{k-1})|`.

    Parameters
    ----------
    base : Distribution
        The base :math:`p_U` (``logpdf``).
    chain : Chain
    x : array_like, shape (n, d)

    Returns
    -------
    loglik : ndarray, shape (n,)
    ys : list of K + 1 arrays (the ``Y_0 .. Y_K`` of the inverse pass)
    terms : ndarray, shape (K, n)
        ``log|det J_{phi_k}(Y_{k-1})|``; ``log Omega_k`` in the notes.
    """
    ys, terms = chain.eq9_terms(x)
    return base.logpdf(ys[0]) - terms.sum(0), ys, terms
