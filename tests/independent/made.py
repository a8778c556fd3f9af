r"""The MADE conditioner, written from ``docs/vectors.md`` sec. 2.3 alone (not from nfref's code).

Germain, Gregor, Murray and Larochelle (2015), sec. 4. Input degrees :math:`m_0` (a
permutation of :math:`1..d`); hidden layer :math:`i` of size :math:`H_i` gets

.. math::

    lo = \min(\min m_{i-1}, d - 1), \qquad
    m_i = \mathrm{sort}\big(lo + (\mathrm{arange}(H_i) \bmod (d - lo))\big),

and the masks are :math:`M_i[g, h] = [m_i(h) \ge m_{i-1}(g)]` (hidden) and, for the output
column :math:`l k + c` of degree :math:`m_0(l)`, :math:`M_{L+1}[g, lk + c] = [m_0(l) > m_L(g)]`
(strict), so output :math:`l` reads only inputs of smaller degree.

Network: :math:`h_0 = x`, :math:`a_i = h_{i-1} (W_{i-1} \odot M_i) + b_{i-1}`,
:math:`h_i = \sigma(a_i)` (:math:`\sigma = \tanh`, :math:`\tanh' = 1 - h^2`, or ReLU,
:math:`\mathrm{relu}'(0) = 0`), :math:`o = h_L (W_L \odot M_{L+1}) + b_L`, read as
:math:`\xi[n, l, c] = o[n, lk + c]`.

Backward (the chain rule layer by layer, :math:`g_o` the cotangent of :math:`o`):
:math:`g_{W_L} = (h_L^T g_o) \odot M_{L+1}`, :math:`g_{b_L} = \sum_n g_o`,
:math:`g_{h_L} = g_o (W_L \odot M_{L+1})^T`; then for :math:`i = L..1`:
:math:`g_{a_i} = g_{h_i} \odot \sigma'(a_i)`, :math:`g_{W_{i-1}} = (h_{i-1}^T g_{a_i})
\odot M_i`, :math:`g_{b_{i-1}} = \sum_n g_{a_i}`, :math:`g_{h_{i-1}} = g_{a_i}
(W_{i-1}\odot M_i)^T`; the input gradient is :math:`g_{h_0}`. Masked-out weights get
exactly 0. The input Jacobian is carried forward: :math:`\partial h_0/\partial x = I`,
:math:`\partial h_i/\partial x = \sigma'(a_i) \odot (W_{i-1}\odot M_i)^T \partial
h_{i-1}/\partial x`.
"""

import numpy as np


def degrees(m0, hidden_sizes):
    """The degree vectors ``[m0, m_1, ..., m_L]`` (integer arrays)."""
    m0 = np.asarray(m0, dtype=np.int64)
    d = m0.size
    out = [m0]
    for H in hidden_sizes:
        lo = min(int(out[-1].min()), d - 1)
        out.append(np.sort(lo + np.arange(H) % (d - lo)))
    return out


def masks(m0, hidden_sizes, k):
    """The masks ``[M_1, ..., M_{L+1}]`` (0/1 float arrays, ``M_i (size_{i-1}, size_i)``)."""
    degs = degrees(m0, hidden_sizes)
    out = [(degs[i][None, :] >= degs[i - 1][:, None]).astype(float)
           for i in range(1, len(degs))]
    out_deg = np.repeat(degs[0], k)                       # column l*k + c has degree m0(l)
    out.append((out_deg[None, :] > degs[-1][:, None]).astype(float))
    return out


class MADE:
    """A masked network ``(n, d) -> (n, d, k)`` with the raw parameters ``W0, b0, ...``."""

    def __init__(self, m0, hidden_sizes, k, activation="tanh"):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"MADE: activation must be 'tanh' or 'relu', got {activation!r}")
        self.m0 = np.asarray(m0, dtype=np.int64)
        self.d, self.k, self.L = self.m0.size, int(k), len(hidden_sizes)
        self.activation = activation
        self.masks = masks(self.m0, hidden_sizes, self.k)

    def _act(self, a):
        if self.activation == "tanh":
            h = np.tanh(a)
            return h, 1.0 - h * h
        return np.maximum(a, 0.0), (a > 0).astype(float)

    def pass_(self, params, x):
        """``(xi, back, jac)``: ``back(g_xi) -> (g_x, g_params)``, ``jac() -> dxi/dx
        (n, d, k, d)``."""
        Wm = [np.asarray(params[f"W{i}"], float) * self.masks[i] for i in range(self.L + 1)]
        bs = [np.asarray(params[f"b{i}"], float) for i in range(self.L + 1)]
        hs, ds = [np.asarray(x, float)], []
        for i in range(self.L):
            h, dh = self._act(hs[-1] @ Wm[i] + bs[i])
            hs.append(h)
            ds.append(dh)
        o = hs[-1] @ Wm[self.L] + bs[self.L]
        n = o.shape[0]
        xi = o.reshape(n, self.d, self.k)

        def back(g_xi):
            go = np.asarray(g_xi, float).reshape(n, self.d * self.k)
            grads = {}
            for i in range(self.L, -1, -1):
                grads[f"W{i}"] = (hs[i].T @ go) * self.masks[i]
                grads[f"b{i}"] = go.sum(axis=0)
                gh = go @ Wm[i].T
                if i > 0:
                    go = gh * ds[i - 1]
            return gh, grads

        def jac():
            D = np.broadcast_to(np.eye(self.d), (n, self.d, self.d))
            for i in range(self.L):
                D = ds[i][:, :, None] * np.einsum("gh,ngj->nhj", Wm[i], D)
            D = np.einsum("gh,ngj->nhj", Wm[self.L], D)
            return D.reshape(n, self.d, self.k, self.d)

        return xi, back, jac
