r"""Integral-based monotone transformer, UMNN-style (notes 000, sec. 4.1; Wehenkel and
Louppe, 2019, "Unconstrained Monotonic Neural Networks", NeurIPS).

The notes build a transformer as :math:`\zeta(t;\xi) = \int_{-\infty}^{t} g(s;\xi)\,ds`
with :math:`g \ge 0`. For a :math:`g` bounded below by a positive constant that integral
diverges, so, as Wehenkel and Louppe do, the lower limit is 0 and an offset is added:

.. math:: \zeta(t;\xi) = \beta + \int_0^t g(s;\xi)\,ds, \qquad
          g(s;\xi) = \exp h(s;\xi), \qquad
          h(s;\xi) = c_0 + \sum_{j=1}^{H} c_j \tanh(a_j s + b_j),

a one-hidden-layer network per dimension whose weights
:math:`\xi = (\beta, c_0, a_{1:H}, b_{1:H}, c_{1:H})` (``k = 2 + 3H``) come from the
conditioner. Since :math:`|h - c_0| \le \sum_j |c_j|`, :math:`g` lies in
:math:`[e^{c_0 - \sum|c_j|}, e^{c_0 + \sum|c_j|}]`: :math:`g > 0` strictly (the notes'
"non-negative" would allow flat pieces, which are not invertible), and :math:`\zeta` is a
bijection of R.

Value on a fixed grid. The integral is computed by a composite Clenshaw-Curtis rule
(:mod:`nfref.autoregressive.transformers.quadrature`) on a grid of cells that depends on
:math:`\xi` and on the sign of :math:`t` only, never on :math:`|t|`: with :math:`\sigma =
\operatorname{sign} t`, :math:`\int_0^t g = \sigma\int_0^{|t|} g(\sigma r)\,dr`, the cells
cover :math:`[0, |t|]` from 0 outward, every cell but the last is fixed, and the last is
integrated from its fixed left end to :math:`|t|`,

.. math:: \int_{\ell}^{\ell + \delta} g(\sigma r)\,dr \approx
          \delta\sum_i\omega_i\,g(\sigma(\ell + \delta\tau_i)),

so the accuracy of the value does not decay with :math:`|t|` (a single rule on
:math:`[0, t]` spreads its fixed nodes over the whole interval: at large :math:`|t|` it
misses the integrand's features, and the computed map stops being monotone). The grid:

* unit :math:`j` is *active* where :math:`|a_j\sigma r + b_j| < 20`; elsewhere
  :math:`\tanh` is :math:`\pm 1` in float64 and :math:`\operatorname{sech}^2 < 4e^{-40}`.
  The ends of the active intervals cut :math:`[0, \infty)` into at most :math:`2H + 1`
  regions, each with a fixed set of active units (the last, unbounded one, none);
* in a region, cells have the width :math:`\Delta = 1/B` (the last one cut at the region's
  end), :math:`B = \max\big(\Lambda, 16\max_{\rm active}|a_j|/N\big)` with
  :math:`\Lambda = \sum_{\rm active}|c_ja_j| + 4e^{-40}\sum_{\rm saturated}|c_ja_j|
  \ge \sup|h'|` on the region, and :math:`N` Clenshaw-Curtis intervals per cell.
  The second term resolves the steepest active unit: the nearest pole of
  :math:`\tanh(a_j s + b_j)` is :math:`\pi/(2|a_j|)` off the real axis, at least
  :math:`\kappa = 16\pi/N` half-widths of a cell, so the rule's error decays like
  :math:`\rho^{-N}`, :math:`\rho = \kappa + \sqrt{1 + \kappa^2}` (below 1e-9 relative
  for :math:`N = 8`, 1e-13 for 16, and falling with :math:`N`). A region with no active
  unit is one cell (its integrand is constant in float64).

**Monotone by construction.** On the last cell the computed value's derivative in
:math:`\delta` is :math:`\sum_i\omega_i g_i\,(1 + \delta\tau_i\,\sigma h'(s_i))
\ge \sum_i\omega_i g_i\,(1 - \delta\tau_i\Lambda) > 0` since :math:`\delta \le \Delta \le
1/\Lambda`, :math:`\tau_i \le 1` and the weights are positive; the cells before it do not
move. So the *computed* map is strictly increasing in :math:`t` for every :math:`\xi`
(continuous, since a full cell is the last cell at :math:`\delta = \Delta`), and its
inverse is unique: a solver cannot land on a spurious root. A region holds at most
:math:`40\max(\sum_j|c_j|, 16/N) + 1` cells (its length is at most :math:`40/|a_j|` for
every active :math:`j`), whatever :math:`|t|` and the :math:`a_j`; an entry that would need
more than :data:`MAX_CELLS` (:math:`\sum_j|c_j|` in the hundreds, where :math:`g` spans
:math:`e^{\pm 200}`) is refused with a ``ValueError``.

Derivative, log-derivative. The derivative is :math:`g(t)` exactly (Leibniz rule), so **the
log-derivative** :math:`\lambda = \log\zeta'(t) = h(t)` **carries no quadrature error**: it is
the exact log-derivative of the exact integral, and differs from the derivative of the
computed value by the derivative of the quadrature error (measured in
:mod:`nfref.report.derivations.s05_transformers` against the number of nodes).

Gradients (with :math:`z_j(s) = a_j s + b_j`, :math:`\operatorname{sech}^2 = 1 - \tanh^2`):

.. math::
    \frac{\partial\zeta}{\partial t} = g(t),\qquad
    \frac{\partial\lambda}{\partial t} = h'(t) = \sum_j c_j a_j\operatorname{sech}^2 z_j(t),

.. math::
    \frac{\partial\zeta}{\partial\beta} = 1,\qquad
    \frac{\partial\zeta}{\partial\theta} = \int_0^t g(s)\,\frac{\partial h(s)}{\partial\theta}\,ds
    \approx \sum_{\rm cells}\sigma\delta_c\sum_i\omega_i\, g(s_{ci})\,
    \frac{\partial h}{\partial\theta}(s_{ci}),

(differentiation under the integral sign; the same rule on the same cells, so this is the
exact gradient of the computed value at a fixed grid; the grid moves with :math:`\xi` only
through the region ends and widths, which change the value by no more than its quadrature
error), with

.. math::
    \frac{\partial h}{\partial c_0} = 1,\quad
    \frac{\partial h}{\partial c_j} = \tanh z_j,\quad
    \frac{\partial h}{\partial a_j} = c_j\operatorname{sech}^2 z_j\; s,\quad
    \frac{\partial h}{\partial b_j} = c_j\operatorname{sech}^2 z_j,

and :math:`\partial\lambda/\partial\theta = \partial h(t)/\partial\theta`,
:math:`\partial\lambda/\partial\beta = 0`.

Inverse. With :math:`\sigma = \operatorname{sign}(y - \beta)` and target
:math:`|y - \beta|`, the grid is built out to a reach that is doubled until the computed
integral passes the target (it starts at :math:`|y-\beta|e^{-h(0)}`), the cell holding the
root is found from the cells' running sums, and :func:`nfref.numerics.solve_monotone`
(safeguarded Newton, which raises when it does not converge) solves on that one cell,
where the computed map is increasing. A target beyond :math:`e^{709}` times the smallest
integrand is refused. The round trip is exact to the solver's tolerance; the gradient is
the implicit-function rule of :mod:`nfref.autoregressive.transformers.base`.
"""

from typing import NamedTuple

import numpy as np

from nfref._validation import as_int
from nfref.autoregressive.transformers.base import Transformer
from nfref.autoregressive.transformers.quadrature import clenshaw_curtis_unit
from nfref.numerics import solve_monotone

__all__ = ["UMNN", "umnn_log_integrand", "umnn_grid", "umnn_forward", "umnn_pullback",
           "UMNNCells", "MAX_CELLS"]

#: :math:`|z| \ge 20`: ``tanh(z)`` is exactly :math:`\pm 1` in float64.
SATURATION = 20.0
#: Cell width at most ``N / (RESOLUTION max|a_j|)`` over the active units.
RESOLUTION = 16.0
#: Cells per entry above which a pass is refused.
MAX_CELLS = 2 ** 16
# active intervals are cut at this r (beyond it only a unit with |a_j| < 1e-299 could move)
_FAR = 1e300


def _split(xi, n_hidden):
    """``beta, c0, a, b, c`` from ``xi (..., 2 + 3H)``; the last three are ``(..., H)``."""
    H = n_hidden
    return (xi[..., 0], xi[..., 1], xi[..., 2:2 + H], xi[..., 2 + H:2 + 2 * H],
            xi[..., 2 + 2 * H:2 + 3 * H])


def umnn_log_integrand(s, xi, n_hidden):
    r""":math:`h(s;\xi) = c_0 + \sum_j c_j\tanh(a_j s + b_j)` and its pieces.

    ``s`` has shape ``(n, d, m)`` (``m`` points per dimension) and ``xi`` ``(n, d, k)``.
    Returns ``h (n, d, m)`` and ``tanh(z) (n, d, m, H)``.
    """
    _, c0, a, b, c = _split(xi, n_hidden)
    th = np.tanh(a[:, :, None, :] * s[..., None] + b[:, :, None, :])   # (n, d, m, H)
    return c0[..., None] + np.einsum("ndmh,ndh->ndm", th, c), th


class UMNNCells(NamedTuple):
    """The cells of the grid (module docstring) of ``E`` entries, flattened: cell ``i``
    belongs to entry ``owner[i]`` and covers ``r`` in ``[left[i], left[i] + width[i]]``;
    the cells of an entry are contiguous, from ``start[e]``, ``count[e]`` of them, in
    increasing ``r``."""

    owner: np.ndarray
    left: np.ndarray
    width: np.ndarray
    start: np.ndarray
    count: np.ndarray


def umnn_grid(sign, xi, n_hidden, n_intervals, reach):
    r"""The cells covering :math:`r \in [0, \mathrm{reach}]` for entries with
    ``sign (E,)`` (:math:`\sigma`), ``xi (E, k)`` and ``reach (E,)`` (module docstring).

    Raises ``ValueError`` when an entry needs more than :data:`MAX_CELLS` cells.
    """
    _, _, a, b, c = _split(xi, n_hidden)                            # (E, H)
    E, H = a.shape
    ae = sign[:, None] * a
    live = (ae != 0) & (c != 0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        p1, p2 = (-SATURATION - b) / ae, (SATURATION - b) / ae
    # active interval of unit j, within [0, FAR] (a dead unit's is empty)
    lo = np.clip(np.where(live, np.minimum(p1, p2), 0.0), 0.0, _FAR)
    hi = np.clip(np.where(live, np.maximum(p1, p2), 0.0), 0.0, _FAR)
    edges = np.empty((E, 2 * H + 2))
    edges[:, 0], edges[:, -1] = 0.0, np.inf
    edges[:, 1:-1] = np.sort(np.concatenate([lo, hi], axis=1), axis=1)
    e0, e1 = edges[:, :-1], edges[:, 1:]                             # (E, R) regions
    mid = (0.5 * (e0 + e1))[..., None]                               # inf for the last
    act = (lo[:, None, :] < mid) & (mid < hi[:, None, :])            # (E, R, H)
    slope = np.abs(c * ae)                                           # (E, H)
    ones = np.ones(H)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lam_active = np.where(act, slope[:, None, :], 0.0) @ ones   # (E, R)
        rest = np.maximum((slope @ ones)[:, None] - lam_active, 0.0)
        lam = lam_active + 4.0 * np.exp(-2.0 * SATURATION) * rest   # >= sup |h'| on a region
        steep = np.zeros(e0.shape)
        for j in range(H):                                           # max over a short axis
            np.maximum(steep, np.where(act[..., j], np.abs(ae[:, j, None]), 0.0), out=steep)
        B = np.maximum(lam, RESOLUTION * steep / n_intervals)        # (E, R) cells per unit r
        end = np.minimum(e1, reach[:, None])
        length = np.maximum(end - e0, 0.0)
        # at least one cell on a region the points reach (length * B may underflow to 0)
        n = np.where(length > 0, np.maximum(np.ceil(length * B), 1.0), 0.0)
        step = np.minimum(1.0 / B, _FAR)                             # no inf (0 * inf = nan)
    count = n @ np.ones(n.shape[1])
    if not np.all(count <= MAX_CELLS):
        worst = int(np.argmax(np.where(np.isfinite(count), count, np.inf)))
        raise ValueError(f"UMNN: xi of entry {worst} needs {count[worst]:.3g} quadrature cells, "
                         f"more than {MAX_CELLS}; expected conditioner outputs with "
                         "sum_j |c_j| in the tens (the integrand spans exp(+-sum_j |c_j|))")
    rep = n.astype(np.int64).ravel()                                 # cells per region
    region = np.repeat(np.arange(rep.size), rep)
    j = np.arange(region.size) - np.repeat(np.cumsum(rep) - rep, rep)
    base, stride, stop = e0.ravel()[region], step.ravel()[region], end.ravel()[region]
    left = np.minimum(base + j * stride, stop)
    right = np.where(j == rep[region] - 1, stop, np.minimum(base + (j + 1) * stride, stop))
    count = count.astype(np.int64)
    return UMNNCells(region // (2 * H + 1), left, np.maximum(right - left, 0.0),
                     np.cumsum(count) - count, count)


def _cell_nodes(cells, sign, xi, n_hidden, tau, delta=None):
    r"""``(s, g, th)`` at the nodes :math:`s = \sigma(\ell + \delta\tau_i)` of every cell,
    ``(C, m)``, ``(C, m)`` and ``(C, m, H)``; ``delta`` defaults to the cells' widths.
    (:func:`umnn_log_integrand` written out for one point per row, with fewer temporaries.)"""
    H = n_hidden
    delta = cells.width if delta is None else delta
    x = xi[cells.owner]                                              # (C, k)
    s = sign[cells.owner][:, None] * (cells.left[:, None] + delta[:, None] * tau)
    th = s[:, :, None] * x[:, None, 2:2 + H]                         # (C, m, H)
    th += x[:, None, 2 + H:2 + 2 * H]
    np.tanh(th, out=th)
    h = th @ x[:, 2 + 2 * H:2 + 3 * H, None]                         # (C, m, 1)
    h += x[:, 1, None, None]
    with np.errstate(over="ignore"):                                 # overflow: refused by the base
        g = np.exp(h[..., 0], out=h[..., 0])
    return s, g, th


class UMNNPass(NamedTuple):
    """What a pass keeps for its pullback (entries flattened): the cells, the signs, the
    nodes ``s, g, th`` of :func:`_cell_nodes` and ``h, tanh`` at ``t`` itself."""

    cells: UMNNCells
    sign: np.ndarray
    s: np.ndarray
    g: np.ndarray
    th: np.ndarray
    h_t: np.ndarray
    th_t: np.ndarray


def umnn_forward(t, xi, n_hidden, n_intervals):
    r"""``(y, logderiv, pass)``: :math:`y = \beta + \sigma\sum_{\rm cells}\delta_c\sum_i
    \omega_i g(s_{ci})` on the grid of :func:`umnn_grid` and :math:`\lambda = h(t)`. Shapes
    ``t (n, d)``, ``xi (n, d, 2 + 3H)``; ``pass`` (:class:`UMNNPass`) is what
    :func:`umnn_pullback` reuses."""
    tf, xf = t.ravel(), xi.reshape(-1, xi.shape[-1])
    sign = np.where(tf < 0, -1.0, 1.0)
    cells = umnn_grid(sign, xf, n_hidden, n_intervals, np.abs(tf))
    tau, omega = clenshaw_curtis_unit(n_intervals)
    s, g, th = _cell_nodes(cells, sign, xf, n_hidden, tau)
    with np.errstate(over="ignore", invalid="ignore"):
        F = np.bincount(cells.owner, cells.width * (g @ omega), minlength=tf.size)
        y = xf[:, 0] + sign * F
    h_t, th_t = umnn_log_integrand(tf[:, None, None], xf[:, None, :], n_hidden)
    return (y.reshape(t.shape), h_t.reshape(t.shape),
            UMNNPass(cells, sign, s, g, th, h_t[:, 0, 0], th_t[:, 0, 0]))


def umnn_pullback(t, xi, pas, gy, gld, n_hidden, n_intervals):
    r"""Gradient of :math:`\sum g_y\zeta + \sum g_\lambda\lambda` (module docstring) from the
    pass ``pas`` of :func:`umnn_forward`: ``gt (n, d)`` and ``gxi (n, d, 2 + 3H)``."""
    H, shape = n_hidden, t.shape
    tf, xf = t.ravel(), xi.reshape(-1, xi.shape[-1])
    gyf, gldf = gy.ravel(), gld.ravel()
    _, _, a, _, c = _split(xf, H)                                    # (E, H)
    _, omega = clenshaw_curtis_unit(n_intervals)
    cells, sign, s, g, th = pas.cells, pas.sign, pas.s, pas.g, pas.th
    o = cells.owner
    # quadrature part: d zeta/d theta = sum_cells sigma delta sum_i omega_i g dh/dtheta
    wg = (gyf[o] * sign[o] * cells.width)[:, None] * omega * g      # (C, m) weights
    sech2 = 1.0 - th * th                                            # (C, m, H)
    co = c[o]
    # sums over a cell's nodes as batched products (C, 1, m) @ (C, m, H)
    per_cell = np.empty((o.size, 1 + 3 * H))
    per_cell[:, 0] = wg.sum(-1)
    per_cell[:, 1:1 + H] = ((wg * s)[:, None, :] @ sech2)[:, 0] * co
    per_cell[:, 1 + H:1 + 2 * H] = (wg[:, None, :] @ sech2)[:, 0] * co
    per_cell[:, 1 + 2 * H:] = (wg[:, None, :] @ th)[:, 0]
    G = np.zeros((tf.size, 1 + 3 * H))
    some = cells.count > 0
    if np.any(some):
        G[some] = np.add.reduceat(per_cell, cells.start[some], axis=0)
    # log-derivative part: lambda = h(t)
    csech = c * (1.0 - pas.th_t * pas.th_t)                          # (E, H)
    gl = gldf[:, None]
    gxi = np.concatenate([gyf[:, None], (G[:, 0] + gldf)[:, None],
                          G[:, 1:1 + H] + gl * csech * tf[:, None],
                          G[:, 1 + H:1 + 2 * H] + gl * csech,
                          G[:, 1 + 2 * H:] + gl * pas.th_t], axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        gt = gyf * np.exp(pas.h_t) + gldf * np.sum(csech * a, axis=-1)
    return gt.reshape(shape), gxi.reshape(shape + (xi.shape[-1],))


def _locate(cells, Q, F, target):
    r"""For each entry, the cell ``k`` (an index into the flattened cells) whose integral
    brackets ``target``, and ``before``, the sum of the entry's cells before it, added in
    order as the forward pass adds them (so that the solve on cell ``k`` sees the forward's
    numbers). The running sums are searched once with every entry's cells normalized to sum
    1 (entry ``e`` then spans ``[e, e + 1]`` of one increasing sequence), then ``k`` is moved
    to a neighbour while the exact sum says the target lies outside."""
    o = cells.owner
    frac = Q / F[o]
    run = np.cumsum(frac)
    offset = run[cells.start] - frac[cells.start]                   # (E,) before entry e
    last = cells.start + cells.count - 1
    k = np.clip(np.searchsorted(run, offset + target / F, side="left"), cells.start, last)
    cell = np.arange(Q.size)
    for _ in range(8):
        before = np.bincount(o, np.where(cell < k[o], Q, 0.0), minlength=F.size)
        down = (target < before) & (k > cells.start)
        up = (target > before + Q[k]) & (k < last)
        if not (down.any() or up.any()):
            break
        k = k - down + up
    return k, before


class UMNN(Transformer):
    r"""UMNN-style transformer :math:`\zeta(t) = \beta + \int_0^t \exp h(s;\xi)\,ds`.

    See the module docstring for :math:`h`, the layout of ``xi``, the grid and the gradients.
    ``xi = 0`` is the identity (:math:`h \equiv 0`, :math:`g \equiv 1`).

    Parameters
    ----------
    n_hidden : int
        Hidden units ``H`` of the integrand network; ``n_params = 2 + 3H``.
    n_intervals : int
        Clenshaw-Curtis intervals ``N`` per cell of the grid (``N + 1`` nodes). With the
        default 8 the value error is about 1e-13 relative for ``xi ~ N(0, 1)``, ``H = 3``
        at any ``|t|`` (the claim "UMNN value" of
        :mod:`nfref.report.derivations.s05_transformers` measures it at ``N = 40``); the
        number of cells grows with ``|t|`` times the integrand's steepness, up to the
        bound of the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> f = UMNN(n_hidden=2)
    >>> y, ld = f.forward(np.array([[0.5]]), np.zeros((1, 1, f.n_params)))
    >>> round(float(y[0, 0]), 12), float(ld[0, 0])     # weights sum to 1 up to rounding
    (0.5, 0.0)
    """

    def __init__(self, n_hidden=4, n_intervals=8):
        self.n_hidden = as_int(n_hidden, "UMNN: n_hidden", minimum=1)
        self.n_intervals = as_int(n_intervals, "UMNN: n_intervals", minimum=2)
        self.n_params = 2 + 3 * self.n_hidden

    def _forward_and_vjp(self, t, xi):
        y, ld, pas = umnn_forward(t, xi, self.n_hidden, self.n_intervals)

        def back(gy, gld):
            return umnn_pullback(t, xi, pas, gy, gld, self.n_hidden, self.n_intervals)
        return y, ld, back

    def _solve(self, y, xi):
        H, N = self.n_hidden, self.n_intervals
        shape = y.shape
        xf = xi.reshape(-1, self.n_params)
        w = y.ravel() - xf[:, 0]
        sign = np.where(w < 0, -1.0, 1.0)
        target = np.abs(w)
        tau, omega = clenshaw_curtis_unit(N)
        _, c0, _, _, c = _split(xf, H)
        # g >= g_min = exp(c0 - sum|c|), so the root is below target / g_min
        with np.errstate(divide="ignore"):
            log_cap = np.log(target) - (c0 - np.sum(np.abs(c), axis=-1))
        if np.any((target > 0) & ~(log_cap < 709.0)):
            raise ValueError("UMNN.inverse: the root lies beyond float64 reach; expected "
                             "|y - beta| below exp(709) times the smallest integrand "
                             "exp(c0 - sum_j |c_j|)")
        cap = np.where(target > 0, np.exp(np.minimum(log_cap, 709.0)) * (1.0 + 1e-9), 0.0)
        h0 = umnn_log_integrand(np.zeros((xf.shape[0], 1, 1)), xf[:, None, :], H)[0][:, 0, 0]
        with np.errstate(over="ignore", under="ignore"):
            reach = np.minimum(target * np.exp(-h0), cap)
        reach = np.where(np.isfinite(reach), reach, cap)
        todo = np.flatnonzero(target > 0)
        for _ in range(2100):                                        # doubling: reach <= cap
            if todo.size == 0:
                break
            F = self._integral(sign[todo], xf[todo], reach[todo])[2]
            todo = todo[(F < target[todo]) & (reach[todo] < cap[todo])]
            reach[todo] = np.minimum(2.0 * reach[todo] + 1e-300, cap[todo])
        u = np.zeros(w.size)
        idx = np.flatnonzero(target > 0)
        if idx.size:
            sg, xs, goal = sign[idx], xf[idx], target[idx]
            cells, Q, F = self._integral(sg, xs, reach[idx])
            if not np.all(F > 0):
                raise ValueError("UMNN.inverse: the integrand underflows to 0 in float64; "
                                 "expected conditioner outputs with exp(h) representable")
            k, before = _locate(cells, Q, F, goal)
            left, width = cells.left[k], cells.width[k]
            owner = np.arange(idx.size)

            def func(r, j):
                cell = UMNNCells(owner[j], left[j], width[j], None, None)
                _, g, _ = _cell_nodes(cell, sg, xs, H, tau, r - left[j])
                with np.errstate(over="ignore", invalid="ignore"):
                    return before[j] + (r - left[j]) * (g @ omega), g[:, 0]
            u[idx] = solve_monotone(func, goal, left, left + width, name="UMNN.inverse").x
        return (sign * u).reshape(shape)

    def _integral(self, sign, xf, reach):
        """``(cells, Q, F)``: the grid out to ``reach``, each cell's integral ``Q (C,)`` and
        each entry's total ``F (E,)`` (entries flattened)."""
        tau, omega = clenshaw_curtis_unit(self.n_intervals)
        cells = umnn_grid(sign, xf, self.n_hidden, self.n_intervals, reach)
        _, g, _ = _cell_nodes(cells, sign, xf, self.n_hidden, tau)
        with np.errstate(over="ignore", invalid="ignore"):
            Q = cells.width * (g @ omega)
        return cells, Q, np.bincount(cells.owner, Q, minlength=sign.size)

    def __repr__(self):
        return f"UMNN(n_hidden={self.n_hidden}, n_intervals={self.n_intervals})"
