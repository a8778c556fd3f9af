r"""Clenshaw-Curtis quadrature and a bracketed monotone root finder.

Clenshaw-Curtis rule (Clenshaw and Curtis, 1960; Trefethen, 2008, "Is Gauss quadrature
better than Clenshaw-Curtis?", SIAM Review 50)
----------------------------------------------------------------------------------------
With the :math:`N + 1` Chebyshev extreme points :math:`x_j = \cos(j\pi/N)`,
:math:`j = 0..N`, interpolate :math:`f` by :math:`p(x) = \sum_{k=0}^{N}{}'' a_k T_k(x)`
(the double prime halves the first and last terms). Writing :math:`x = \cos\theta`,
:math:`T_k(x_j) = \cos(kj\pi/N)`, and the discrete cosine orthogonality on the grid gives

.. math:: a_k = \frac{2}{N}\sum_{j=0}^{N}{}'' f(x_j)\cos\frac{kj\pi}{N}.

Integrating term by term with :math:`\int_{-1}^1 T_k = 2/(1 - k^2)` for even :math:`k`
and :math:`0` for odd :math:`k`,

.. math::
    \int_{-1}^{1} p = \sum_j w_j f(x_j),\qquad
    w_j = \frac{c_j}{N}\Big(1 - \sum_{k=1}^{\lfloor N/2\rfloor}
          \frac{b_k}{4k^2 - 1}\cos\frac{2kj\pi}{N}\Big),

with :math:`c_j = 1` for :math:`j \in \{0, N\}` and 2 otherwise, :math:`b_k = 1` for
:math:`k = N/2` and 2 otherwise (the halved last term of the double-primed sums). The
rule integrates polynomials of degree :math:`\le N` exactly, its weights are positive and
sum to 2, and for a function analytic inside the Bernstein ellipse with parameter
:math:`\rho` its error decays like :math:`\rho^{-N}`.

On :math:`[0, t]` (any sign of ``t``), :math:`s = t(1 + x)/2`:

.. math:: \int_0^t f(s)\,ds \approx t\sum_j \omega_j f(t\tau_j), \qquad
          \tau_j = (1 + x_j)/2 \in [0, 1],\quad \omega_j = w_j / 2,\quad \sum_j\omega_j = 1.
"""

import numpy as np

__all__ = ["clenshaw_curtis", "clenshaw_curtis_unit", "solve_increasing"]


def clenshaw_curtis(n_intervals):
    """Nodes and weights of the Clenshaw-Curtis rule on [-1, 1].

    Parameters
    ----------
    n_intervals : int
        ``N >= 1``; the rule has ``N + 1`` nodes and is exact for degree ``<= N``.

    Returns
    -------
    nodes : ndarray, shape (N + 1,)
        :math:`x_j = \\cos(j\\pi/N)`, from 1 down to -1.
    weights : ndarray, shape (N + 1,)

    Examples
    --------
    >>> x, w = clenshaw_curtis(4)
    >>> float(w @ x**4)   # int_{-1}^{1} x^4 dx = 2/5
    0.4
    """
    n = int(n_intervals)
    if n != n_intervals or n < 1:
        raise ValueError(f"clenshaw_curtis: expected an integer number of intervals >= 1, "
                         f"got {n_intervals!r}")
    j = np.arange(n + 1)
    nodes = np.cos(j * np.pi / n)
    nodes[n // 2] = 0.0 if n % 2 == 0 else nodes[n // 2]      # exact zero at the middle
    k = np.arange(1, n // 2 + 1)
    b = np.where(2 * k == n, 1.0, 2.0)                            # (N//2,)
    cos = np.cos(2.0 * np.outer(j, k) * np.pi / n)                # (N+1, N//2)
    c = np.where((j == 0) | (j == n), 1.0, 2.0)
    weights = c / n * (1.0 - cos @ (b / (4.0 * k * k - 1.0)))
    return nodes, weights


def clenshaw_curtis_unit(n_intervals):
    r"""Nodes :math:`\tau_j \in [0, 1]` and weights :math:`\omega_j` (sum 1) for
    :math:`\int_0^t f \approx t \sum_j \omega_j f(t \tau_j)`."""
    nodes, weights = clenshaw_curtis(n_intervals)
    return 0.5 * (1.0 + nodes), 0.5 * weights


def solve_increasing(func, target, lo=None, hi=None, guess=None, max_iter=200, tol=1e-12,
                     name="inverse"):
    r"""Solve :math:`f_i(t_i) = y_i` for a vector of increasing maps :math:`f_i` on all of R.

    Safeguarded Newton, elementwise. A bracket :math:`[lo, hi]` with
    :math:`f(lo) \le y \le f(hi)` is taken from the caller (a bound known from the map) or,
    by default, ``[-1, 1]``; where it does not hold it is moved outward, doubling its width
    each time, until it does (no fixed interval, no clamping). Then each step takes the
    Newton point :math:`t - (f(t) - y)/f'(t)` when it falls strictly inside the bracket and
    the bisection point otherwise, and shrinks the bracket by the sign of :math:`f(t) - y`.
    An entry stops when its step (or its bracket) is below ``tol * (1 + |t|)``, and only
    the entries still moving are evaluated again.

    Parameters
    ----------
    func : callable
        ``func(t, idx) -> (f(t), f'(t))``: the maps of the entries ``idx`` (an integer
        index array into ``target.ravel()``) at the points ``t`` (same length as ``idx``).
    target : ndarray
        Finite values (``ValueError`` otherwise).
    lo, hi, guess : ndarray, optional
        A proposed bracket and a starting point inside it (shape of ``target``).
    tol : float
        Relative step at which an entry is converged.

    Returns
    -------
    ndarray
        The roots, shape of ``target``.
    """
    y = np.asarray(target, dtype=np.float64).ravel()
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: expected finite targets, got "
                         f"{y.size - np.count_nonzero(np.isfinite(y))} non-finite")
    m = y.size
    lo = -np.ones(m) if lo is None else np.array(lo, dtype=np.float64).ravel()
    hi = np.ones(m) if hi is None else np.array(hi, dtype=np.float64).ravel()
    flo, fhi = np.empty(m), np.empty(m)
    idx = np.arange(m)
    flo[idx], fhi[idx] = func(lo, idx)[0], func(hi, idx)[0]
    low_bad, high_bad = np.flatnonzero(flo > y), np.flatnonzero(fhi < y)
    for _ in range(2100):                                          # 2^1024 overflows first
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
    t = 0.5 * (lo + hi) if guess is None else np.clip(np.ravel(guess), lo, hi)
    active = np.arange(m)
    for _ in range(max_iter):
        ta, la, ha = t[active], lo[active], hi[active]
        f, fp = func(ta, active)
        r = f - y[active]
        la, ha = np.where(r <= 0, ta, la), np.where(r >= 0, ta, ha)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = ta - r / fp
        # a Newton step that rounds to no move at all means converged (not a bisection)
        inside = ((newton > la) & (newton < ha) | (newton == ta)) & np.isfinite(newton)
        t_new = np.where(r == 0, ta, np.where(inside, newton, 0.5 * (la + ha)))
        scale = tol * (1.0 + np.abs(t_new))
        done = (np.abs(t_new - ta) <= scale) | (ha - la <= scale)
        t[active], lo[active], hi[active] = t_new, la, ha
        active = active[~done]
        if active.size == 0:
            return t.reshape(np.shape(target))
    raise ValueError(f"{name}: the solver did not converge in {max_iter} iterations; "
                     f"expected a continuous increasing map")
