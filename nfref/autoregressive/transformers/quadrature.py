r"""Clenshaw-Curtis quadrature on [-1, 1] and on [0, t].

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

__all__ = ["clenshaw_curtis", "clenshaw_curtis_unit"]


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
