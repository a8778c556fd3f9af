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
the inverse pass once, caches every :math:`Y_k`, and evaluates each term as the *forward*
log-determinant of layer ``k`` at the cached :math:`Y_{k-1}`, as eq. (9) is written. Since
:math:`Y_{k-1}` is computed from ``x`` by the layers ``k..K`` only, the ``k``-th term depends
on :math:`\theta_{k:K}` alone.

Backpropagation through K layers (the forward direction)
-------------------------------------------------------
With :math:`\ell = \sum_k \ell_k(Y_{k-1};\theta_k)`, :math:`\ell_k = \log|\det J_{\phi_k}|`,
and the scalar :math:`L = g_x^\top X + g_\ell\,\ell`, let :math:`a_k = \partial L/\partial Y_k`
(the total derivative through all later layers). Then :math:`a_K = g_x` and, because
:math:`Y_{k-1}` enters :math:`L` through :math:`Y_k = \phi_k(Y_{k-1})` and through
:math:`\ell_k(Y_{k-1})` only,

.. math::
    a_{k-1} = J_{\phi_k}(Y_{k-1})^\top a_k + g_\ell \nabla_y \ell_k(Y_{k-1}), \qquad
    \nabla_{\theta_k} L = (\partial_{\theta_k}\phi_k)^\top a_k + g_\ell\,\partial_{\theta_k}\ell_k,

which is exactly layer ``k``'s own ``forward_vjp`` at the cached :math:`Y_{k-1}` with
upstream gradients :math:`(a_k, g_\ell)`. The reverse pass calls it for ``k = K, ..., 1``
and returns :math:`\nabla_u L = a_0`.

The inverse direction
---------------------
:math:`Y_K = x`, :math:`Y_{k-1} = \phi_k^{-1}(Y_k)`, :math:`u = Y_0` and
:math:`\ell^{-1} = \sum_k \ell_k^{-1}(Y_k)` with :math:`\ell_k^{-1} = \log|\det J_{\phi_k^{-1}}|`.
For :math:`L = g_u^\top u + g_\ell\,\ell^{-1}` and :math:`b_k = \partial L/\partial Y_k`:
:math:`b_0 = g_u`, and for ``k = 1, ..., K``

.. math::
    b_k = J_{\phi_k^{-1}}(Y_k)^\top b_{k-1} + g_\ell\nabla_y\ell^{-1}_k(Y_k), \qquad
    \nabla_{\theta_k} L = \text{layer } k\text{'s inverse VJP at } Y_k \text{ with } (b_{k-1}, g_\ell),

and :math:`\nabla_x L = b_K`. The gradient of the mean log-likelihood of a
:class:`~nfref.distributions.Flow` with a chain is this pass with
:math:`g_u = \frac1n\nabla\log p_U(Y_0)` and :math:`g_\ell = \frac1n`. Each layer's VJP is called
once per pass: time linear in K, memory for the cached :math:`Y_k`, O(K n d).

The contract cases of chains (linear, nested, and chains of every registered transform type)
are in :mod:`nfref.k_layers_cases`.
"""

import numpy as np

from nfref.transform import Transform, prefix_params

__all__ = ["Chain", "log_likelihood_eq9", "nll_and_grad"]


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
        super().__init__(dims[0])
        shared, seen = {}, {}
        for k, layer in enumerate(layers):
            for name, arr in prefix_params(str(k), layer.params).items():
                if id(arr) in seen:
                    raise ValueError(f"Chain: parameter {name!r} is the same array as "
                                     f"{seen[id(arr)]!r}; expected each layer to appear once "
                                     "(tied parameters would get one gradient per occurrence)")
                seen[id(arr)] = name
                shared[name] = arr
        self.params = shared                       # the layers' arrays, not copies
        self.numerical_inverse = any(layer.numerical_inverse for layer in layers)

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

    # ------------------------------------------------------------------ passes with caches
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

        The ``Y_k`` come from one inverse pass (cached); each term is the layer's *forward*
        log-determinant at the cached ``Y_{k-1}``, as eq. (9) is written with the forward trick,
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

    # ------------------------------------------------------------------ reverse passes
    def backward_forward(self, ys, gx, gl):
        """Reverse pass of the forward direction over cached ``ys = [Y_0, ..., Y_K]``.

        Calls layer ``k``'s forward VJP at ``Y_{k-1}`` with ``(a_k, gl)``, for ``k = K..1``
        (module docstring); returns ``(a_0, gparams)``.
        """
        a, grads = gx, {}                                          # a_K = g_x
        for k in reversed(range(len(self.layers))):
            a, gp = self.layers[k]._forward_vjp(ys[k], a, gl)      # a_{k-1}, grad theta_k
            grads.update(prefix_params(str(k), gp))
        return a, {key: grads[key] for key in self.params}

    def backward_inverse(self, ys, gu, gl):
        """Reverse pass of the inverse direction over cached ``ys = [Y_0, ..., Y_K]``.

        Calls layer ``k``'s inverse VJP at ``Y_k`` with ``(b_{k-1}, gl)``, for ``k = 1..K``
        (module docstring); returns ``(b_K, gparams)``.
        """
        b, grads = gu, {}                                          # b_0 = g_u
        for k, layer in enumerate(self.layers):
            b, gp = _layer_inverse_vjp(layer, ys[k], ys[k + 1], b, gl)   # b_k, grad theta_k
            grads.update(prefix_params(str(k), gp))
        return b, {key: grads[key] for key in self.params}

    # ------------------------------------------------------------------ Transform hooks
    def _forward(self, u):
        ys, logdets = self._forward_pass(u)
        return ys[-1], logdets.sum(0)

    def _inverse(self, x):
        ys, logdets = self._inverse_pass(x)
        return ys[0], logdets.sum(0)

    def _jacobian(self, u):
        ys, _ = self._forward_pass(u)
        jac = self.layers[0]._jacobian(ys[0])                      # (n, d, d)
        for k in range(1, len(self.layers)):
            jac = self.layers[k]._jacobian(ys[k]) @ jac            # J_k(Y_{k-1}) J_{<k}
        return jac

    def _forward_vjp(self, u, gx, gl):
        return self.backward_forward(self._forward_pass(u)[0], gx, gl)

    def _inverse_vjp(self, x, gu, gl):
        return self.backward_inverse(self._inverse_pass(x)[0], gu, gl)


def _layer_inverse_vjp(layer, u, x, gu, gl):
    r"""A layer's inverse VJP at ``x = phi(u)`` when ``u`` is already known (cached).

    A layer that keeps :class:`Transform`'s implicit-function rule would solve for ``u`` again;
    here the same rule (``nfref.transform``: one solve with :math:`J^\top` and two forward VJPs)
    is evaluated at the cached ``u``, so a numerical inverse runs once per pass.
    """
    if type(layer)._inverse_vjp is not Transform._inverse_vjp:
        return layer._inverse_vjp(x, gu, gl)
    a, b = layer._forward_vjp(u, np.zeros_like(u), -gl)            # -gl grad_u l, -gl d_theta l
    s = layer._solve_jacobian_transpose(u, gu + a)                 # (n, d)
    _, c = layer._forward_vjp(u, s, np.zeros_like(gl))             # (d_theta phi)^T s
    return s, {k: b[k] - c[k] for k in layer.params}


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
    ys : list of K + 1 arrays (the cached ``Y_0 .. Y_K``)
    terms : ndarray, shape (K, n)
        ``log|det J_{phi_k}(Y_{k-1})|``; ``log Omega_k`` in the notes.
    """
    ys, terms = chain.eq9_terms(x)
    return base.logpdf(ys[0]) - terms.sum(0), ys, terms


def nll_and_grad(flow, x):
    r"""Mean negative log-likelihood of ``x`` under ``flow`` (a chain on a base) and its gradient.

    The same numbers as :meth:`Flow.nll_and_grad <nfref.distributions.Flow.nll_and_grad>`, with
    one inverse pass whose cached :math:`Y_k` serve both the loss and the reverse pass:
    :math:`\mathcal L = -\frac1n\sum_n[\log p_U(Y_{0,n}) + \sum_k \ell^{-1}_k(Y_{k,n})]`,
    :math:`g_u = -\frac1n\nabla\log p_U(Y_0)`, :math:`g_\ell = -\frac1n`, then
    :meth:`Chain.backward_inverse`.

    Parameters
    ----------
    flow : Flow
        Its transform is a :class:`Chain` (for any other transform this is ``flow.nll_and_grad``).
    x : array_like, shape (n, d)

    Returns
    -------
    loss : float
    grads : dict
        Keyed like ``flow.params`` (``"base.<name>"``, ``"transform.<k>.<name>"``).
    """
    chain = flow.transform if isinstance(flow.transform, Chain) else None
    if chain is None:
        return flow.nll_and_grad(x)
    ys, logdets = chain.inverse_pass(x)
    n = ys[0].shape[0]
    loss = -float(np.mean(flow.base.logpdf(ys[0]) + logdets.sum(0)))
    w = np.full(n, -1.0 / n)
    gu, gbase = flow.base.logpdf_vjp(ys[0], w)
    _, gtrans = chain.backward_inverse(ys, gu, w)
    return loss, {**prefix_params("base", gbase), **prefix_params("transform", gtrans)}
