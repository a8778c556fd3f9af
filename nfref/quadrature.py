r"""Clenshaw-Curtis quadrature and a bracketed monotone root finder.

Clenshaw-Curtis rule (Clenshaw and Curtis, 1960; Trefethen, 2008, "Is Gauss quadrature
better than Clenshaw-Curtis?", SIAM Review 50, eq. (2.1) and sec. 2)
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


def solve_increasing(func, target, max_iter=200, tol=1e-13, name="inverse"):
    r"""Solve :math:`f(t) = y` elementwise for an increasing :math:`f` on all of R.

    Safeguarded Newton: a bracket :math:`[lo, hi]` with :math:`f(lo) \le y \le f(hi)` is
    found automatically by doubling outward from ``[-1, 1]`` (no fixed interval, no
    clamping); then each step takes the Newton point
    :math:`t - (f(t) - y)/f'(t)` when it falls strictly inside the bracket and the
    bisection point otherwise, and shrinks the bracket by the sign of :math:`f(t) - y`.

    Parameters
    ----------
    func : callable
        ``func(t) -> (f(t), f'(t))`` on arrays of the shape of ``target``.
    target : ndarray
    tol : float
        Stop when every Newton step (or bracket width) is below
        ``tol * (1 + |t|)``.

    Returns
    -------
    ndarray
        The roots, same shape as ``target``.
    """
    y = np.asarray(target, dtype=np.float64)
    lo, hi = -np.ones_like(y), np.ones_like(y)
    for _ in range(2100):                                          # 2^1024 overflows first
        flo, _ = func(lo)
        fhi, _ = func(hi)
        low_bad, high_bad = flo > y, fhi < y
        if not (low_bad.any() or high_bad.any()):
            break
        # f(lo) > y: the root is below lo; f(hi) < y: it is above hi. Move and double.
        lo, hi = (np.where(low_bad, 2.0 * lo, np.where(high_bad, hi, lo)),
                  np.where(high_bad, 2.0 * hi, np.where(low_bad, lo, hi)))
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"{name}: could not bracket the root; expected values in the "
                             "range of the map, got a target beyond float64 reach")
    t = 0.5 * (lo + hi)
    for _ in range(max_iter):
        f, fp = func(t)
        r = f - y
        lo = np.where(r <= 0, t, lo)
        hi = np.where(r >= 0, t, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = t - r / fp
        inside = (newton > lo) & (newton < hi) & np.isfinite(newton)
        t_new = np.where(inside, newton, 0.5 * (lo + hi))
        t_new = np.where(r == 0, t, t_new)
        step = np.abs(t_new - t)
        t = t_new
        if np.all((step <= tol * (1.0 + np.abs(t))) | (hi - lo <= tol * (1.0 + np.abs(t)))):
            return t
    raise ValueError(f"{name}: the solver did not converge in {max_iter} iterations; "
                     f"expected a continuous increasing map")
