r"""MADE: a masked multilayer perceptron as the conditioner of an autoregressive flow.

Notes 000, section 4.1 ("the conditioner" :math:`\xi_\ell(u_1, \dots, u_{\ell-1}; \theta)`);
Germain, Gregor, Murray and Larochelle (2015), "MADE: Masked Autoencoder for Distribution
Estimation", sec. 4 (degrees and masks, their eqs. (12)-(13)).

The network. With :math:`h_0 = x` (shape ``(n, d)``), hidden layers
:math:`h_i = \sigma(a_i)`, :math:`a_i = h_{i-1} \bar W_i + b_i`, :math:`i = 1..L`, and a linear
output :math:`o = h_L \bar W_{L+1} + b_{L+1}` of shape ``(n, d k)`` read as ``(n, d, k)``: ``k``
outputs per dimension (the transformer's parameters :math:`\xi_\ell`). Every weight is
masked, :math:`\bar W_i = W_i \odot M_i` (``W_i`` of shape ``(in, out)``, batch-first).

Activations (``activation``). ``"tanh"``: :math:`\sigma(a) = \tanh a`, whose derivative
:math:`\sigma'(a) = 1 - \tanh^2 a = 1 - h^2` (from :math:`\tanh = \sinh/\cosh` and
:math:`\cosh^2 - \sinh^2 = 1`) is read off the output :math:`h`. ``"relu"``:
:math:`\sigma(a) = \max(a, 0)`, with :math:`\sigma'(a) = 1[a > 0]` (0 for :math:`a < 0`,
1 for :math:`a > 0`; at the kink :math:`a = 0` the subgradient 0 is taken), and since
:math:`h > 0 \iff a > 0` it too is read off the output, :math:`\sigma' = 1[h > 0]`. So the
backward pass keeps only the activations :math:`h_i`, never the :math:`a_i`.

Degrees and masks (Germain et al., 2015, sec. 4). The inputs get degrees
:math:`m_0(j)`, a permutation of :math:`1..d` (``order``: natural :math:`m_0(j) = j`,
reversed :math:`m_0(j) = d + 1 - j`, or random). Hidden unit :math:`h` of layer :math:`i`
gets a degree :math:`m_i(h) \in [\min m_{i-1}, d - 1]` (cycled through that range, so every
degree occurs when the layer has at least :math:`d - 1` units; the units of a layer are then
listed by increasing degree, which is a relabelling of units and changes no function, so that
the units of one degree are contiguous); output :math:`(\ell, c)` gets :math:`m_0(\ell)`. Masks

.. math::
    [M_i]_{gh} = 1[m_i(h) \ge m_{i-1}(g)] \ (\text{hidden}), \qquad
    [M_{L+1}]_{g,(\ell c)} = 1[m_0(\ell) > m_L(g)] \ (\text{output, strict}).

A path from input :math:`j` to output :math:`\ell` passes degrees
:math:`m_0(j) \le m_1 \le \dots \le m_L < m_0(\ell)`, so :math:`\xi_\ell` depends only on
inputs of smaller degree: the product :math:`M_1 M_2 \cdots M_{L+1}` is zero wherever
:math:`m_0(j) \ge m_0(\ell)`. For ``d = 1`` every hidden degree is 0, no input connects,
and the outputs are learned constants.

Backpropagation (hand-derived). Let an upstream gradient :math:`g_o = \partial L/\partial o`.
Going down, with :math:`g_{L+1} = g_o`,

.. math::
    \frac{\partial L}{\partial W_i} = (h_{i-1}^\top g_i) \odot M_i, \qquad
    \frac{\partial L}{\partial b_i} = \textstyle\sum_n g_{i,n}, \qquad
    g_{i-1} = (g_i \bar W_i^\top) \odot \sigma'(a_{i-1}), \qquad
    \frac{\partial L}{\partial x} = g_1 \bar W_1^\top,

using :math:`\partial(h\bar W)/\partial W = h^\top(\cdot)\odot M` (the mask multiplies the
gradient; masked entries get zero) and :math:`\sigma'` from the activations above. The
forward-mode product (used only for explicit Jacobians) is :math:`\dot a_i = \dot h_{i-1}\bar W_i`,
:math:`\dot h_i = \sigma'(a_i)\odot\dot a_i`, :math:`\dot o = \dot h_L \bar W_{L+1}`.

The sequential evaluation (:meth:`MADE.sequential`). Sampling a MAF (or inverting an IAF)
finds the inputs one at a time, in the order of their degrees: input of degree :math:`m` is a
function of :math:`\xi` of that dimension, which reads only inputs of degree :math:`< m`. A
hidden unit of degree :math:`g` reads only inputs of degree :math:`\le g` (its paths pass
non-decreasing degrees), so it is final as soon as the inputs of degree :math:`1..g` are;
:math:`\xi` of degree :math:`m` reads only hidden units of degree :math:`\le m - 1`. Hence the
:math:`d` passes compute, at pass :math:`m`, exactly the units of degree :math:`m - 1` of every
layer (from the units of degree :math:`\le m - 1` below them, all final) and the :math:`k`
outputs of that dimension: every hidden unit is computed once, from final inputs, and at the
end the activations are those of one ordinary pass at the final point. The masked weights
:math:`\bar W_i` are computed once per call of the flow: :meth:`MADE.masked_weights`.
"""

import numpy as np

from nfref._validation import as_batch, as_float, as_int, as_rng, check_dim

__all__ = ["MADE", "perturb_biases", "mlp_forward", "mlp_backward", "mlp_jvp", "mlp_init", "made_degrees",
           "check_activation", "check_hidden_sizes", "check_scale", "activation_slopes"]

ACTIVATIONS = ("tanh", "relu")


# ---------------------------------------------------------------------- a plain MLP
def check_activation(activation, who="mlp"):
    """``activation`` if it is ``"tanh"`` or ``"relu"``, else a ``ValueError`` naming it."""
    if not (isinstance(activation, str) and activation in ACTIVATIONS):
        raise ValueError(f"{who}: activation: expected 'tanh' or 'relu', got {activation!r}")
    return activation


def check_hidden_sizes(hidden_sizes, who):
    """``hidden_sizes`` as a tuple of ints >= 1, or a ``ValueError`` naming it (a bare
    number, ``None``, a string, or a size that is not a positive integer: ``2.5``, ``0``)."""
    if isinstance(hidden_sizes, (str, bytes)) or not np.iterable(hidden_sizes):
        raise ValueError(f"{who}: hidden_sizes: expected a sequence of positive integers, "
                         f"got {hidden_sizes!r}")
    return tuple(as_int(h, f"{who}: hidden_sizes entry", minimum=1) for h in hidden_sizes)


def check_scale(value, name, who):
    """``value`` as a finite float >= 0, or a ``ValueError`` naming ``name``."""
    return as_float(value, f"{who}: {name}", low=0.0)


def _activate(a, activation, out=None):
    """``sigma(a)`` written into ``out`` (default: over ``a``, a fresh array)."""
    out = a if out is None else out
    if activation == "tanh":
        return np.tanh(a, out=out)
    return np.maximum(a, 0.0, out=out)


def activation_slopes(hs, activation="tanh"):
    r""":math:`\sigma'(a_i)` of every hidden layer read off its output :math:`h_i` (module
    docstring): ``[None, s_1, .., s_L]`` aligned with ``hs``; ``1 - h^2`` or ``1[h > 0]``."""
    check_activation(activation)
    slopes = [None]
    for h in hs[1:]:
        if activation == "tanh":
            s = np.multiply(h, h)                               # one fresh array: 1 - h^2
            slopes.append(np.subtract(1.0, s, out=s))
        else:
            slopes.append((h > 0.0).astype(np.float64))
    return slopes


def mlp_forward(weights, biases, x, activation="tanh"):
    """Outputs ``h_L W_{L+1} + b_{L+1}`` of an MLP with hidden activation ``activation``
    (``"tanh"`` or ``"relu"``) and the activations ``[h_0, .., h_L]``."""
    check_activation(activation)
    hs = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        a = hs[-1] @ w                                          # (n, H_i), a fresh array
        a += b
        hs.append(_activate(a, activation))
    out = hs[-1] @ weights[-1]
    out += biases[-1]
    return out, hs


def mlp_backward(weights, hs, g_out, masks=None, activation="tanh", slopes=None):
    """Gradients ``(g_x, g_weights, g_biases)`` of ``sum(g_out * output)`` (module docstring).

    ``weights`` are the (masked) weights used in the forward pass; with ``masks`` given,
    the weight gradients are multiplied by them (the gradient with respect to the raw W).
    ``slopes`` (from :func:`activation_slopes`) may be passed when already computed.
    """
    slopes = activation_slopes(hs, activation) if slopes is None else slopes
    n_layers = len(weights)
    g_w, g_b = [None] * n_layers, [None] * n_layers
    g = g_out                                                   # (n, out)
    for i in range(n_layers - 1, -1, -1):
        g_w[i] = hs[i].T @ g
        if masks is not None:
            g_w[i] *= masks[i]
        g_b[i] = g.sum(0)
        g = g @ weights[i].T                                    # (n, in_i)
        if i > 0:
            g *= slopes[i]
    return g, g_w, g_b


def mlp_jvp(weights, hs, dx, activation="tanh"):
    """Forward-mode product: the output's change along an input direction ``dx`` (n, d)."""
    slopes = activation_slopes(hs, activation)
    dh = dx
    for i, w in enumerate(weights[:-1]):
        dh = slopes[i + 1] * (dh @ w)
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
def perturb_biases(params, rng, scale):
    """Add ``N(0, scale^2)`` draws to every bias (keys ``b<i>``) of ``params`` in place: the
    ``random`` constructors' clearly non-identity maps for tests."""
    for k, v in params.items():
        if k.startswith("b"):
            v += scale * rng.standard_normal(v.shape)


def made_degrees(dim, hidden_sizes, order="natural", random_state=None):
    """Degrees ``[m_0, m_1, .., m_L]``: input degrees (a permutation of 1..d), then hidden
    (the degrees of a cycle through ``[min m_{i-1}, d - 1]``, listed in increasing order)."""
    dim = check_dim(dim)
    if isinstance(order, str):
        if order == "natural":
            m0 = np.arange(1, dim + 1)
        elif order == "reversed":
            m0 = np.arange(dim, 0, -1)
        elif order == "random":
            m0 = as_rng(random_state).permutation(dim) + 1
        else:
            raise ValueError(f"MADE: order: expected 'natural', 'reversed', 'random' or a "
                             f"permutation of 1..{dim}, got {order!r}")
    else:
        m0 = np.asarray(order)
        if (m0.ndim != 1 or m0.dtype.kind not in "iu"
                or sorted(m0.tolist()) != list(range(1, dim + 1))):
            raise ValueError(f"MADE: order: expected 'natural', 'reversed', 'random' or a "
                             f"permutation of 1..{dim}, got {order!r}")
    degrees = [m0.astype(int)]
    for size in hidden_sizes:
        lo = min(int(degrees[-1].min()), dim - 1)
        degrees.append(np.sort(lo + np.arange(size) % (dim - lo)))   # cycled, then sorted
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
        Units of each hidden layer.
    order : {"natural", "reversed", "random"} or permutation of 1..d
        Input degrees.
    random_state : None, int or Generator
        Used for ``order="random"`` only.
    activation : {"tanh", "relu"}
        Hidden activation (module docstring).
    """

    def __init__(self, dim, n_outputs, hidden_sizes=(16, 16), order="natural",
                 random_state=None, activation="tanh"):
        self.dim = check_dim(dim)
        self.n_outputs = as_int(n_outputs, "MADE: n_outputs", minimum=1)
        self.hidden_sizes = check_hidden_sizes(hidden_sizes, "MADE")
        self.activation = check_activation(activation, "MADE")
        self.degrees = made_degrees(self.dim, self.hidden_sizes, order, random_state)
        self.input_degrees = self.degrees[0]                   # (d,)
        out_deg = np.repeat(self.input_degrees, self.n_outputs)  # (d k,), output (l, c) -> m0(l)
        self.masks = [(d_out[None, :] >= d_in[:, None]).astype(float)
                      for d_in, d_out in zip(self.degrees[:-1], self.degrees[1:])]
        self.masks.append((out_deg[None, :] > self.degrees[-1][:, None]).astype(float))
        self.n_layers = len(self.masks)
        #: dimensions in autoregressive order (the first depends on nothing)
        self.order = np.argsort(self.input_degrees, kind="stable")
        # units of degree g of hidden layer i: [_start[i][g], _end[i][g]) (sorted degrees)
        g = np.arange(self.dim)
        self._start = [np.searchsorted(deg, g, side="left") for deg in self.degrees[1:]]
        self._end = [np.searchsorted(deg, g, side="right") for deg in self.degrees[1:]]

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

        ``net`` is ``masked_weights(params)``; ``x`` must be finite, of shape (n, d).
        """
        x = as_batch(x, self.dim, "MADE.forward: x")
        out, hs = mlp_forward(net[0], net[1], x, self.activation)
        return out.reshape(x.shape[0], self.dim, self.n_outputs), hs

    def output(self, net, hs):
        """``xi`` (n, d, k) from the activations ``hs`` of a pass (its output layer only)."""
        out = hs[-1] @ net[0][-1]
        out += net[1][-1]
        return out.reshape(hs[0].shape[0], self.dim, self.n_outputs)

    def sequential(self, net, n, step):
        """The ``d`` passes of a sequential direction, each hidden unit computed once.

        For ``p = 0..d-1`` the dimension ``l = order[p]`` (degree ``p + 1``) gets
        ``xi_l`` (n, k) from the inputs found so far, and ``step(p, xi_l)`` returns that
        input, shape (n,) (module docstring, "The sequential evaluation").

        Returns
        -------
        x : ndarray, shape (n, d)
            The inputs found, in their own order.
        hs : list of ndarray
            ``[x, h_1, .., h_L]``: the activations of an ordinary pass at ``x``.
        """
        weights, biases = net
        d, k = self.dim, self.n_outputs
        order = self.order
        x_sorted = np.zeros((n, d))                            # column p: input order[p]
        below = [weights[0][order]] + weights[1:]              # layer 1's rows by degree
        hidden = [np.empty((n, size)) for size in self.hidden_sizes]
        w_out, b_out = below[-1], biases[-1]
        for p in range(d):
            prev, prev_end = x_sorted, p                       # inputs of degree <= p
            for i, h in enumerate(hidden):                     # units of degree p
                s, e = self._start[i][p], self._end[i][p]
                if e > s:
                    a = prev[:, :prev_end] @ below[i][:prev_end, s:e]
                    a += biases[i][s:e]
                    _activate(a, self.activation, out=h[:, s:e])
                prev, prev_end = h, self._end[i][p]
            cols = slice(order[p] * k, order[p] * k + k)       # the k outputs of order[p]
            xi = prev[:, :prev_end] @ w_out[:prev_end, cols]
            xi += b_out[cols]
            x_sorted[:, p] = step(p, xi)
        x = np.empty_like(x_sorted)
        x[:, order] = x_sorted
        return x, [x, *hidden]

    def slopes(self, hs):
        """:math:`\\sigma'` of each hidden layer from its activations (``[None, s_1, ..]``)."""
        return activation_slopes(hs, self.activation)

    def backward(self, net, hs, g_xi, slopes=None):
        """``(g_x (n, d), g_params)``: gradients of ``sum(g_xi * xi)``."""
        g_x, g_w, g_b = mlp_backward(net[0], hs, g_xi.reshape(g_xi.shape[0], -1), self.masks,
                                     self.activation, slopes)
        g_params = {}
        for i in range(self.n_layers):
            g_params[f"W{i}"], g_params[f"b{i}"] = g_w[i], g_b[i]
        return g_x, g_params

    def input_vjp(self, net, hs, g_xi, slopes=None):
        """Only the input gradient of ``sum(g_xi * xi)``, shape (n, d); ``slopes`` as from
        :meth:`slopes` when a caller repeats it at one point."""
        slopes = self.slopes(hs) if slopes is None else slopes
        g = g_xi.reshape(g_xi.shape[0], -1)
        for i in range(self.n_layers - 1, -1, -1):
            g = g @ net[0][i].T
            if i > 0:
                g *= slopes[i]
        return g

    def input_jacobian(self, net, hs):
        """``D[n, l, c, j] = d xi_{l c} / d x_j``, shape (n, d, k, d), by forward mode."""
        n = hs[0].shape[0]
        cols = [mlp_jvp(net[0], hs, np.broadcast_to(np.eye(self.dim)[j], (n, self.dim)),
                        self.activation) for j in range(self.dim)]   # d arrays (n, d k)
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
                f"hidden_sizes={self.hidden_sizes}, degrees={self.input_degrees.tolist()}, "
                f"activation={self.activation!r})")
