r"""MADE: a masked multilayer perceptron as the conditioner of an autoregressive flow.

Notes 000, section 4.1 ("the conditioner" :math:`\xi_\ell(u_1, \dots, u_{\ell-1}; \theta)`);
Germain, Gregor, Murray and Larochelle (2015), "MADE: Masked Autoencoder for Distribution
Estimation", sec. 4 (degrees and masks, their eqs. (12)-(13)).

The network. With :math:`h_0 = x` (shape ``(n, d)``), hidden layers
:math:`h_i = \tanh(h_{i-1} \bar W_i + b_i)`, :math:`i = 1..L`, and a linear output
:math:`o = h_L \bar W_{L+1} + b_{L+1}` of shape ``(n, d k)`` read as ``(n, d, k)``: ``k``
outputs per dimension (the transformer's parameters :math:`\xi_\ell`). Every weight is
masked, :math:`\bar W_i = W_i \odot M_i` (``W_i`` of shape ``(in, out)``, batch-first).

Degrees and masks (Germain et al., 2015, sec. 4). The inputs get degrees
:math:`m_0(j)`, a permutation of :math:`1..d` (``order``: natural :math:`m_0(j) = j`,
reversed :math:`m_0(j) = d + 1 - j`, or random). Hidden unit :math:`h` of layer :math:`i`
gets a degree :math:`m_i(h) \in [\min m_{i-1}, d - 1]` (cycled through that range, so every
degree occurs when the layer has at least :math:`d - 1` units); output :math:`(\ell, c)` gets
:math:`m_0(\ell)`. Masks

.. math::
    [M_i]_{gh} = 1[m_i(h) \ge m_{i-1}(g)] \ (\text{hidden}), \qquad
    [M_{L+1}]_{g,(\ell c)} = 1[m_0(\ell) > m_L(g)] \ (\text{output, strict}).

A path from input :math:`j` to output :math:`\ell` passes degrees
:math:`m_0(j) \le m_1 \le \dots \le m_L < m_0(\ell)`, so :math:`\xi_\ell` depends only on
inputs of smaller degree: the product :math:`M_1 M_2 \cdots M_{L+1}` is zero wherever
:math:`m_0(j) \ge m_0(\ell)`. For ``d = 1`` every hidden degree is 0, no input connects,
and the outputs are learned constants.

Backpropagation (hand-derived). Let :math:`a_i = h_{i-1}\bar W_i + b_i` and an upstream
gradient :math:`g_o = \partial L/\partial o`. Going down, with :math:`g_{L+1} = g_o`,

.. math::
    \frac{\partial L}{\partial W_i} = (h_{i-1}^\top g_i) \odot M_i, \qquad
    \frac{\partial L}{\partial b_i} = \textstyle\sum_n g_{i,n}, \qquad
    g_{i-1} = (g_i \bar W_i^\top) \odot (1 - h_{i-1}^2), \qquad
    \frac{\partial L}{\partial x} = g_1 \bar W_1^\top,

using :math:`\tanh' = 1 - \tanh^2` and :math:`\partial(h\bar W)/\partial W = h^\top(\cdot)\odot M`
(the mask multiplies the gradient; masked entries get zero). The forward-mode product
(used only for explicit Jacobians) is :math:`\dot a_i = \dot h_{i-1}\bar W_i`,
:math:`\dot h_i = (1 - h_i^2)\odot\dot a_i`, :math:`\dot o = \dot h_L \bar W_{L+1}`.

The masked weights :math:`\bar W_i` are computed once per call of the flow (a sequential
pass of ``d`` network evaluations reuses them): :meth:`MADE.masked_weights`.
"""

import numpy as np

from nfref._validation import as_rng, check_dim

__all__ = ["MADE", "mlp_forward", "mlp_backward", "mlp_jvp", "mlp_init", "made_degrees"]


# ---------------------------------------------------------------------- a plain tanh MLP
def mlp_forward(weights, biases, x):
    """Outputs ``h_L W_{L+1} + b_{L+1}`` of a tanh MLP and the activations ``[h_0, .., h_L]``."""
    hs = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        hs.append(np.tanh(hs[-1] @ w + b))                     # (n, H_i)
    return hs[-1] @ weights[-1] + biases[-1], hs


def mlp_backward(weights, hs, g_out, masks=None):
    """Gradients ``(g_x, g_weights, g_biases)`` of ``sum(g_out * output)`` (module docstring).

    ``weights`` are the (masked) weights used in the forward pass; with ``masks`` given,
    the weight gradients are multiplied by them (the gradient with respect to the raw W).
    """
    n_layers = len(weights)
    g_w, g_b = [None] * n_layers, [None] * n_layers
    g = g_out                                                   # (n, out)
    for i in range(n_layers - 1, -1, -1):
        g_w[i] = hs[i].T @ g
        if masks is not None:
            g_w[i] = g_w[i] * masks[i]
        g_b[i] = g.sum(0)
        g = g @ weights[i].T                                    # (n, in_i)
        if i > 0:
            g = g * (1.0 - hs[i] ** 2)
    return g, g_w, g_b


def mlp_jvp(weights, hs, dx):
    """Forward-mode product: the output's change along an input direction ``dx`` (n, d)."""
    dh = dx
    for i, w in enumerate(weights[:-1]):
        dh = (1.0 - hs[i + 1] ** 2) * (dh @ w)
    return dh @ weights[-1]


def mlp_init(sizes, rng, output_scale=1.0, output_bias=None):
    """Weights ``N(0, 1/fan_in)`` (the last layer times ``output_scale``) and zero biases
    (the last bias ``output_bias`` if given); returns ``(weights, biases)`` lists."""
    weights, biases = [], []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        scale = (output_scale if i == len(sizes) - 2 else 1.0) / np.sqrt(max(a, 1))
        weights.append(scale * rng.standard_normal((a, b)))
        biases.append(np.zeros(b))
    if output_bias is not None:
        biases[-1] = np.array(output_bias, dtype=float).reshape(sizes[-1])
    return weights, biases


# ---------------------------------------------------------------------- degrees and masks
def made_degrees(dim, hidden_sizes, order="natural", random_state=None):
    """Degrees ``[m_0, m_1, .., m_L]``: input degrees (a permutation of 1..d), then hidden."""
    dim = check_dim(dim)
    if isinstance(order, str):
        if order == "natural":
            m0 = np.arange(1, dim + 1)
        elif order == "reversed":
            m0 = np.arange(dim, 0, -1)
        elif order == "random":
            m0 = as_rng(random_state).permutation(dim) + 1
        else:
            raise ValueError(f"MADE: order must be 'natural', 'reversed', 'random' or a "
                             f"permutation of 1..{dim}, got {order!r}")
    else:
        m0 = np.asarray(order)
        if sorted(m0.tolist()) != list(range(1, dim + 1)):
            raise ValueError(f"MADE: order must be a permutation of 1..{dim}, got {order!r}")
    degrees = [m0.astype(int)]
    for size in hidden_sizes:
        lo = min(int(degrees[-1].min()), dim - 1)
        degrees.append(lo + np.arange(size) % (dim - lo))     # cycled through [lo, d - 1]
    return degrees


class MADE:
    r"""Masked MLP :math:`x \mapsto \xi(x)`, shape ``(n, d) -> (n, d, k)``, with
    :math:`\xi_\ell` depending only on inputs of smaller degree (module docstring).

    The object holds the structure (degrees, masks); weights live in a parameter dict
    (keys ``W0, b0, .., W{L}, b{L}``, ``W_i`` of shape ``(in, out)``) owned by the flow,
    so optimizers update them in place.

    Parameters
    ----------
    dim : int
        ``d``, the number of inputs.
    n_outputs : int
        ``k``, outputs per dimension.
    hidden_sizes : sequence of int
        Units of each tanh hidden layer.
    order : {"natural", "reversed", "random"} or permutation of 1..d
        Input degrees.
    random_state : None, int or Generator
        Used for ``order="random"`` only.
    """

    def __init__(self, dim, n_outputs, hidden_sizes=(16, 16), order="natural",
                 random_state=None):
        self.dim = check_dim(dim)
        if (isinstance(n_outputs, bool) or not isinstance(n_outputs, (int, np.integer))
                or n_outputs < 1):
            raise ValueError(f"MADE: n_outputs must be a positive integer, got {n_outputs!r}")
        self.n_outputs = int(n_outputs)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        if any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"MADE: hidden sizes must be positive, got {hidden_sizes!r}")
        self.degrees = made_degrees(self.dim, self.hidden_sizes, order, random_state)
        self.input_degrees = self.degrees[0]                   # (d,)
        out_deg = np.repeat(self.input_degrees, self.n_outputs)  # (d k,), output (l, c) -> m0(l)
        self.masks = [(d_out[None, :] >= d_in[:, None]).astype(float)
                      for d_in, d_out in zip(self.degrees[:-1], self.degrees[1:])]
        self.masks.append((out_deg[None, :] > self.degrees[-1][:, None]).astype(float))
        self.n_layers = len(self.masks)
        #: dimensions in autoregressive order (the first depends on nothing)
        self.order = np.argsort(self.input_degrees, kind="stable")

    @property
    def sizes(self):
        return (self.dim, *self.hidden_sizes, self.dim * self.n_outputs)

    def init_params(self, random_state=None, output_scale=1.0, output_bias=None):
        """A parameter dict; ``output_bias`` of shape ``(d, k)`` sets :math:`\\xi` at init."""
        rng = as_rng(random_state)
        bias = None if output_bias is None else np.asarray(output_bias, float).reshape(-1)
        weights, biases = mlp_init(self.sizes, rng, output_scale, bias)
        params = {}
        for i, (w, b) in enumerate(zip(weights, biases)):
            params[f"W{i}"], params[f"b{i}"] = w, b
        return params

    def masked_weights(self, params):
        """``[W_i * M_i]`` and ``[b_i]``, computed once per pass."""
        return ([params[f"W{i}"] * m for i, m in enumerate(self.masks)],
                [params[f"b{i}"] for i in range(self.n_layers)])

    def forward(self, x, net):
        """``(xi, hs)``: ``xi`` of shape (n, d, k) and the activations for the backward pass.

        ``net`` is ``masked_weights(params)``.
        """
        out, hs = mlp_forward(net[0], net[1], x)
        return out.reshape(x.shape[0], self.dim, self.n_outputs), hs

    def backward(self, net, hs, g_xi):
        """``(g_x (n, d), g_params)``: gradients of ``sum(g_xi * xi)``."""
        g_x, g_w, g_b = mlp_backward(net[0], hs, g_xi.reshape(g_xi.shape[0], -1), self.masks)
        g_params = {}
        for i in range(self.n_layers):
            g_params[f"W{i}"], g_params[f"b{i}"] = g_w[i], g_b[i]
        return g_x, g_params

    def input_vjp(self, net, hs, g_xi):
        """Only the input gradient of ``sum(g_xi * xi)``, shape (n, d)."""
        g = g_xi.reshape(g_xi.shape[0], -1)
        for i in range(self.n_layers - 1, -1, -1):
            g = g @ net[0][i].T
            if i > 0:
                g = g * (1.0 - hs[i] ** 2)
        return g

    def input_jacobian(self, net, hs):
        """``D[n, l, c, j] = d xi_{l c} / d x_j``, shape (n, d, k, d), by forward mode."""
        n = hs[0].shape[0]
        cols = [mlp_jvp(net[0], hs, np.broadcast_to(np.eye(self.dim)[j], (n, self.dim)))
                for j in range(self.dim)]                      # d arrays (n, d k)
        return np.stack(cols, axis=-1).reshape(n, self.dim, self.n_outputs, self.dim)

    def connectivity(self):
        """Number of paths from input ``j`` to output ``(l, c)``: ``M_1 M_2 .. M_{L+1}``,
        shape (d, d, k)."""
        prod = self.masks[0]
        for m in self.masks[1:]:
            prod = prod @ m
        return prod.reshape(self.dim, self.dim, self.n_outputs)

    def __repr__(self):
        return (f"MADE(dim={self.dim}, n_outputs={self.n_outputs}, "
                f"hidden_sizes={self.hidden_sizes}, degrees={self.input_degrees.tolist()})")
