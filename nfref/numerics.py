r"""Numerics shared by every module of nfref, written once.

* stable elementwise functions: :func:`sigmoid`, :func:`softplus`, :func:`softmax`, :func:`sech2`;
* :func:`implicit_inverse_pullback`: the gradient of a numerically inverted map;
* :func:`solve_monotone`: a vectorized, safeguarded, bracketed Newton solver;
* triangular solves and inverses: :func:`tril_solve`, :func:`tril_inverse`, :func:`lower_solve`.

Implicit-function gradient of an inverse
----------------------------------------
Let :math:`x = \phi(u;\theta)`, :math:`\ell(u) = \log|\det J_\phi(u)|`, and let the inverse
direction return :math:`u = \phi^{-1}(x)` with log-determinant :math:`\ell^{-1}(x) = -\ell(u)`.
Differentiating :math:`x = \phi(u;\theta)` at fixed :math:`x`,

.. math::  du = J^{-1}\,(dx - \partial_\theta\phi\, d\theta).

The inverse direction's scalar is :math:`L = g_u^\top u + g_\ell\,\ell^{-1}(x)`. At fixed
:math:`\theta`, :math:`\partial L/\partial u = v = g_u - g_\ell \nabla_u \ell`, so

.. math::
    dL = v^\top J^{-1}(dx - \partial_\theta\phi\,d\theta) - g_\ell\,\partial_\theta\ell\,d\theta,
    \qquad s = J^{-\top} v, \qquad
    \nabla_x L = s, \qquad
    \nabla_\theta L = -(\partial_\theta\phi)^\top s - g_\ell\,\partial_\theta \ell .

With the forward pullback :math:`B(g_x, g_\ell) = (J^\top g_x + g_\ell\nabla_u\ell,\
(\partial_\theta\phi)^\top g_x + g_\ell\partial_\theta\ell)` at :math:`u`, this is
:math:`(a, b) = B(0, -g_\ell)`, :math:`s = J^{-\top}(g_u + a)`, :math:`c = B(s, 0)_\theta`,
:math:`\nabla_x L = s`, :math:`\nabla_\theta L = b - c`: one transposed solve and two
forward pullbacks. The same lines serve an elementwise transformer (where :math:`J` is the
diagonal :math:`\zeta'(t)`, so the solve is a division) and a triangular flow (where it is
back substitution).

The Newton solver
-----------------
:func:`solve_monotone` solves :math:`f_i(t_i) = y_i` for a vector of increasing maps. A
proposed bracket :math:`[lo, hi]` is moved outward, doubling its width, until
:math:`f(lo) \le y \le f(hi)`; then each step takes the Newton point when it falls strictly
inside the bracket and halves the step before last (the safeguard of ``rtsafe``, Press et al.,
*Numerical Recipes*, 3rd ed., sec. 9.4), bisection otherwise, and shrinks the bracket by the
sign of the residual. An entry stops when its step or its bracket is below
``tol * (1 + |t|)``, or its residual is at the rounding level of :math:`y` and :math:`f(t)`;
only the entries still moving are evaluated again. An entry that has not stopped after
``max_iter`` steps raises ``ValueError``: the solver never returns an unconverged value.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["sigmoid", "softplus", "softmax", "sech2", "implicit_inverse_pullback",
           "solve_monotone", "Root", "tril_solve", "tril_inverse", "lower_solve", "EPS"]

EPS = np.finfo(float).eps


# ---------------------------------------------------------------------- elementwise
def softplus(s):
    r""":math:`\log(1 + e^s)`, without overflow or cancellation."""
    s = np.asarray(s, dtype=float)
    return np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))


def sigmoid(s):
    r""":math:`1 / (1 + e^{-s})` (the derivative of :func:`softplus`), without overflow."""
    s = np.asarray(s, dtype=float)
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(u, axis=-1):
    r""":math:`e^{u_i} / \sum_j e^{u_j}` along ``axis``, shifted by the maximum (no overflow).

    Along a short last axis (a spline's bins) the maximum and the sum are taken by
    elementwise ``maximum`` and ``add`` over its entries, in order: NumPy's reductions over a
    short trailing axis cost several times more, and a product with a vector of ones (as
    fast) lets BLAS choose an order of summation that depends on the number of rows, so the
    same row would get different last bits in different batches.
    """
    u = np.asarray(u, dtype=float)
    if axis not in (-1, u.ndim - 1) or u.shape[-1] > 32 or u.ndim < 2:
        e = np.exp(u - np.max(u, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)
    K = u.shape[-1]
    m = u[..., 0].copy()
    for j in range(1, K):
        np.maximum(m, u[..., j], out=m)
    e = u - m[..., None]
    np.exp(e, out=e)
    total = e[..., 0].copy()
    for j in range(1, K):
        total += e[..., j]
    e /= total[..., None]
    return e


def sech2(a):
    r""":math:`1 - \tanh^2 a = 4e^{-2|a|}/(1 + e^{-2|a|})^2`, accurate for large :math:`|a|`."""
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


# ---------------------------------------------------------------------- implicit gradient
def _minus(b, c):
    if isinstance(b, dict):
        return {k: b[k] - c[k] for k in b}
    return b - c


def implicit_inverse_pullback(forward_pullback, solve_transpose):
    r"""The pullback of an inverse direction from the forward one (module docstring).

    Parameters
    ----------
    forward_pullback : callable ``(g_x, g_l) -> (g_u, g_params)``
        The forward map's pullback at ``u = phi^{-1}(x)``; ``g_params`` a dict or an array.
    solve_transpose : callable ``v -> s``
        Solves :math:`J_\phi(u)^\top s = v`.

    Returns
    -------
    callable ``(g_u, g_l) -> (g_x, g_params)``
        The gradient of :math:`g_u^\top u + g_\ell\,\ell^{-1}(x)` with
        :math:`\ell^{-1} = -\ell`.
    """
    def pullback(g_u, g_l):
        a, b = forward_pullback(np.zeros_like(g_u), -g_l)      # -g_l grad_u l, -g_l d_theta l
        s = solve_transpose(g_u + a)                           # J^{-T} v
        _, c = forward_pullback(s, np.zeros_like(g_l))         # (d_theta phi)^T s
        return s, _minus(b, c)
    return pullback


# ---------------------------------------------------------------------- Newton solver
class Root(NamedTuple):
    """Result of :func:`solve_monotone`: the roots, ``|f(t) - y|`` at them, and the number
    of Newton or bisection steps the slowest entry took."""

    x: np.ndarray
    residual: np.ndarray
    iterations: int


def solve_monotone(func, target, lo=None, hi=None, guess=None, tol=1e-12, max_iter=200,
                   name="solve_monotone", log_newton_below=None):
    r"""Solve :math:`f_i(t_i) = y_i` for increasing maps :math:`f_i`, elementwise (module docstring).

    Parameters
    ----------
    func : callable ``(t, idx) -> (f(t), f'(t))``
        The maps of the entries ``idx`` (an integer index array into ``target.ravel()``) at
        the points ``t`` (same length as ``idx``).
    target : array_like
        Finite values :math:`y`.
    lo, hi : array_like, optional
        A proposed bracket (shape of ``target``); ``[-1, 1]`` if omitted. Moved outward until it
        holds the root.
    guess : array_like, optional
        A starting point (clipped into the bracket); the midpoint if omitted.
    tol : float
        Relative step (and bracket width) at which an entry is converged.
    max_iter : int
        Steps after which an entry still moving raises ``ValueError``.
    name : str
        How the caller is named in error messages.
    log_newton_below : float, optional
        For targets :math:`0 < y \le` this value, Newton steps are taken on :math:`\log f`
        (for a CDF's light lower tail, where :math:`f` shrinks geometrically and Newton on
        :math:`f` crawls); :math:`f` must then be positive.

    Returns
    -------
    Root
        ``x`` (shape of ``target``), ``residual`` ``|f(x) - y|`` and ``iterations``.

    Raises
    ------
    ValueError
        If a target is not finite, no finite bracket holds a root, or an entry has not
        converged after ``max_iter`` steps.

    Examples
    --------
    >>> r = solve_monotone(lambda t, idx: (t ** 3, 3 * t ** 2), np.array([8.0, -1.0]))
    >>> np.allclose(r.x, [2.0, -1.0])
    True
    """
    shape = np.shape(target)
    y = np.asarray(target, dtype=np.float64).ravel()
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: expected finite targets, got "
                         f"{y.size - np.count_nonzero(np.isfinite(y))} non-finite")
    m = y.size
    lo = -np.ones(m) if lo is None else np.array(np.broadcast_to(lo, shape), float).ravel()
    hi = np.ones(m) if hi is None else np.array(np.broadcast_to(hi, shape), float).ravel()
    idx = np.arange(m)
    flo, fhi = func(lo, idx)[0].astype(float), func(hi, idx)[0].astype(float)
    low_bad, high_bad = np.flatnonzero(flo > y), np.flatnonzero(fhi < y)
    for _ in range(2100):                                       # 2^1024 overflows first
        if not (low_bad.size or high_bad.size):
            break
        # root below lo: the new bracket is [lo - 2 width, lo]; above hi: [hi, hi + 2 width]
        w = np.maximum(hi[low_bad] - lo[low_bad], 1.0)
        hi[low_bad], fhi[low_bad] = lo[low_bad], flo[low_bad]
        lo[low_bad] -= 2.0 * w
        w = np.maximum(hi[high_bad] - lo[high_bad], 1.0)
        lo[high_bad], flo[high_bad] = hi[high_bad], fhi[high_bad]
        hi[high_bad] += 2.0 * w
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"{name}: could not bracket the root; expected targets in the "
                             "range of the map, got one beyond float64 reach")
        if low_bad.size:
            flo[low_bad] = func(lo[low_bad], low_bad)[0]
        if high_bad.size:
            fhi[high_bad] = func(hi[high_bad], high_bad)[0]
        low_bad = low_bad[flo[low_bad] > y[low_bad]]
        high_bad = high_bad[fhi[high_bad] < y[high_bad]]
    t = 0.5 * (lo + hi) if guess is None else np.clip(
        np.array(np.broadcast_to(guess, shape), float).ravel(), lo, hi)
    use_log = (np.zeros(m, bool) if log_newton_below is None
               else (y > 0) & (y <= log_newton_below))
    residual = np.full(m, np.inf)
    step_old = hi - lo                                          # the step before last
    active = np.arange(m)
    for it in range(1, max_iter + 1):
        ta, la, ha, ya = t[active], lo[active], hi[active], y[active]
        f, fp = func(ta, active)
        r = f - ya
        residual[active] = np.abs(r)
        la, ha = np.where(r <= 0, ta, la), np.where(r >= 0, ta, ha)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = np.where(use_log[active], (np.log(f) - np.log(ya)) * f / fp, r / fp)
            newton = ta - step
        ok = np.isfinite(newton)
        scale = tol * (1.0 + np.abs(ta))
        # a step below tolerance is converged even where it lands on the bracket's end
        converged = ok & (np.abs(newton - ta) <= scale)
        slow = 2.0 * np.abs(step) > np.abs(step_old[active])
        inside = ok & (newton > la) & (newton < ha) & ~slow
        t_new = np.where(r == 0, ta, np.where(converged | inside, newton, 0.5 * (la + ha)))
        floor = np.abs(r) <= 4.0 * EPS * np.maximum(np.abs(ya), np.abs(f))
        done = converged | floor | (ha - la <= scale) | (r == 0)
        t_new = np.where(floor & ~converged, ta, t_new)
        step_old[active] = np.abs(t_new - ta)
        t[active], lo[active], hi[active] = t_new, la, ha
        active = active[~done]
        if active.size == 0:
            break
    else:
        raise ValueError(f"{name}: {active.size} of {m} entries did not converge in "
                         f"{max_iter} steps (largest residual {residual[active].max():.3g}); "
                         "expected a continuous increasing map")
    return Root(t.reshape(shape), residual.reshape(shape), it)


# ---------------------------------------------------------------------- triangular systems
def _nonsingular(diag, name):
    """Refuse a triangular matrix with a zero or non-finite diagonal entry (``ValueError``)."""
    bad = ~(np.isfinite(diag) & (diag != 0))
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected a triangular matrix with finite nonzero diagonal "
                         f"entries, got {float(diag[where]):.3g} at diagonal index {where}: the "
                         "matrix is singular")


def _finite_solution(s, name):
    """``s`` if finite; else ``ValueError`` (the solve overflowed float64)."""
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name}: the solution overflows float64 (a nearly singular "
                         "triangular matrix); expected a better conditioned one")
    return s


def tril_inverse(jac):
    r"""Inverse of a batch of lower-triangular matrices ``(n, d, d)`` by forward substitution.

    Row ``i`` of :math:`M = J^{-1}` satisfies :math:`M_{ii} = 1/J_{ii}` and
    :math:`M_{ij} = -\frac{1}{J_{ii}}\sum_{j \le k < i} J_{ik} M_{kj}` for :math:`j < i`;
    entries above the diagonal stay exactly zero.
    """
    n, d, _ = jac.shape
    _nonsingular(np.diagonal(jac, axis1=1, axis2=2), "tril_inverse")
    inv = np.zeros_like(jac)
    for i in range(d):
        inv[:, i, i] = 1.0 / jac[:, i, i]
        if i:
            acc = np.einsum("nk,nkj->nj", jac[:, i, :i], inv[:, :i, :i])   # (n, i)
            inv[:, i, :i] = -acc / jac[:, i, i][:, None]
    return _finite_solution(inv, "tril_inverse")


def tril_solve(jac, v, transpose=False):
    """Solve ``J s = v`` (or ``J^T s = v``) for a batch of lower-triangular ``J`` (n, d, d)."""
    n, d, _ = jac.shape
    _nonsingular(np.diagonal(jac, axis1=1, axis2=2), "tril_solve")
    s = np.zeros_like(v)
    for i in (range(d - 1, -1, -1) if transpose else range(d)):
        if transpose:   # J^T is upper triangular: row i of J^T is column i of J
            rest = np.einsum("nk,nk->n", jac[:, i + 1:, i], s[:, i + 1:])
        else:
            rest = np.einsum("nk,nk->n", jac[:, i, :i], s[:, :i])
        s[:, i] = (v[:, i] - rest) / jac[:, i, i]
    return _finite_solution(s, "tril_solve")


def lower_solve(L, v, transpose=False):
    """Solve ``L s_n = v_n`` (or ``L^T s_n = v_n``) for every row of ``v`` (n, d), one
    lower-triangular ``L`` (d, d), by substitution over the ``d`` columns.

    (``scipy.linalg.solve_triangular`` took 8 to 20 ms a call with SciPy 1.17 on this
    project's machines, depending on load and whatever the size, which dominates small
    problems; this loop over dimensions does not.)
    """
    d = L.shape[0]
    _nonsingular(np.diagonal(L), "lower_solve")
    s = np.zeros_like(v)
    for i in (range(d - 1, -1, -1) if transpose else range(d)):
        rest = s[:, i + 1:] @ L[i + 1:, i] if transpose else s[:, :i] @ L[i, :i]
        s[:, i] = (v[:, i] - rest) / L[i, i]
    return _finite_solution(s, "lower_solve")
