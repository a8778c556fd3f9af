r"""Sum-of-squares polynomial transformer (notes 000, sec. 4.1; Jaini, Selby and Yu, 2019,
"Sum-of-Squares Polynomial Flow", ICML).

The integrand of the notes' integral form is a sum of squares of polynomials plus a
small floor :math:`\epsilon > 0` (so that :math:`g > 0` strictly and the map is
invertible), in the rescaled variable :math:`\tau = t/\sigma` (a fixed scale that keeps
the high powers of moderate inputs small):

.. math::
    g(t;\xi) = \epsilon + \sum_{k=1}^{K} p_k(t/\sigma)^2, \qquad
    p_k(\tau) = \sum_{r=0}^{R} a_{kr}\tau^r, \qquad
    \zeta(t;\xi) = \beta + \int_0^t g(s;\xi)\,ds,

with :math:`\xi = (\beta, a_{1,0:R}, \dots, a_{K,0:R})`, ``k = 1 + K(R + 1)``. Expanding
the squares and integrating term by term (:math:`ds = \sigma\,d\tau`) gives the value in
closed form, with no quadrature error:

.. math::
    \zeta = \beta + \epsilon t + \sigma\sum_k\sum_{r,q} a_{kr}a_{kq}\,M_{rq}, \qquad
    M_{rq} = \frac{\tau^{r+q+1}}{r+q+1}.

:math:`\zeta` is a polynomial of odd degree :math:`2R+1` with positive derivative, hence a
bijection of R.

Gradients (:math:`M` symmetric, :math:`p_k' = \sum_r r a_{kr}\tau^{r-1}`,
:math:`\lambda = \log g`):

.. math::
    \frac{\partial\zeta}{\partial t} = g, \qquad
    \frac{\partial\lambda}{\partial t} = \frac{2}{\sigma g}\sum_k p_k\,p_k',\qquad
    \frac{\partial\zeta}{\partial\beta} = 1,\qquad
    \frac{\partial\zeta}{\partial a_{kr}} = 2\sigma\sum_q M_{rq}\,a_{kq},\qquad
    \frac{\partial\lambda}{\partial a_{kr}} = \frac{2\,p_k\,\tau^r}{g}.

Inverse: :func:`nfref.numerics.solve_monotone` (automatic bracket, safeguarded Newton
with the exact derivative); its gradient is the implicit-function rule of
:mod:`nfref.autoregressive.transformers.base`. A pass keeps :math:`a`, the powers of
:math:`\tau`, :math:`p_k`, :math:`M` and :math:`g` for its pullback.
"""

import numpy as np

from nfref._validation import as_float, as_int
from nfref.autoregressive.transformers.base import Transformer
from nfref.numerics import solve_monotone

__all__ = ["SumOfSquares", "sos_forward", "sos_pullback"]


def _powers(tau, n):
    """``tau**j`` for ``j = 0..n-1`` by repeated products, shape ``tau.shape + (n,)``."""
    out = np.empty(tau.shape + (n,))
    out[..., 0] = 1.0
    for j in range(1, n):
        out[..., j] = out[..., j - 1] * tau
    return out


def _pieces(t, xi, n_squares, degree, scale):
    """Coefficients ``a (n,d,K,R+1)``, powers of tau ``(n,d,2R+2)`` and ``p_k (n,d,K)``."""
    R1 = degree + 1
    a = xi[..., 1:].reshape(xi.shape[:2] + (n_squares, R1))           # (n, d, K, R+1)
    pw = _powers(t / scale, 2 * R1)                                   # (n, d, 2R+2)
    p = np.einsum("ndkr,ndr->ndk", a, pw[..., :R1])                   # (n, d, K)
    return a, pw, p


def _moment_matrix(pw, degree):
    """:math:`M_{rq} = \\tau^{r+q+1}/(r+q+1)`, shape ``(n, d, R+1, R+1)``."""
    r = np.arange(degree + 1)
    e = r[:, None] + r[None, :] + 1                                   # (R+1, R+1)
    return pw[..., e] / e


def sos_forward(t, xi, n_squares, degree, scale, floor):
    r"""``(y, logderiv, pieces)`` of the sum-of-squares transformer (closed form, module
    docstring); ``pieces = (a, pw, p, M, g)`` for :func:`sos_pullback`."""
    a, pw, p = _pieces(t, xi, n_squares, degree, scale)
    M = _moment_matrix(pw, degree)                                    # (n, d, R+1, R+1)
    y = xi[..., 0] + floor * t + scale * np.einsum("ndkr,ndrq,ndkq->nd", a, M, a)
    g = floor + np.sum(p * p, axis=-1)                                # (n, d)
    return y, np.log(g), (a, pw, p, M, g)


def sos_pullback(pieces, gy, gld, degree, scale):
    """Gradient of ``sum(gy*y) + sum(gld*logderiv)`` from the pass's ``pieces``:
    ``gt (n, d)``, ``gxi (n, d, k)``."""
    a, pw, p, M, g = pieces
    R1 = degree + 1
    r = np.arange(R1)
    # p_k'(tau) = sum_r r a_kr tau^(r-1)
    dp = np.einsum("ndkr,ndr->ndk", a[..., 1:] * r[1:], pw[..., :R1 - 1])
    gld_g = gld / g                                                   # (n, d)
    gt = gy * g + gld_g * (2.0 / scale) * np.sum(p * dp, axis=-1)
    ga = (2.0 * scale * gy)[..., None, None] * np.einsum("ndrq,ndkq->ndkr", M, a) \
        + (2.0 * gld_g)[..., None, None] * p[..., None] * pw[:, :, None, :R1]
    gxi = np.concatenate([gy[..., None], ga.reshape(ga.shape[:2] + (-1,))], axis=-1)
    return gt, gxi


class SumOfSquares(Transformer):
    r"""Sum-of-squares polynomial transformer
    :math:`\zeta(t) = \beta + \int_0^t \big(\epsilon + \sum_k p_k(s/\sigma)^2\big)\,ds`.

    ``xi[..., 0]`` is :math:`\beta`; ``xi[..., 1:]`` holds :math:`a_{kr}` row by row
    (``k`` slow, ``r`` fast). :meth:`identity_xi` gives :math:`a_{1,0} = \sqrt{1-\epsilon}`,
    everything else 0, so :math:`g \equiv 1`.

    Parameters
    ----------
    n_squares : int
        ``K``, the number of squared polynomials.
    degree : int
        ``R``, the degree of each polynomial (so :math:`\zeta` has degree ``2R + 1``).
    scale : float
        :math:`\sigma > 0`, the input rescaling.
    floor : float
        :math:`\epsilon > 0`, the floor of the derivative.

    Examples
    --------
    >>> import numpy as np
    >>> f = SumOfSquares(n_squares=1, degree=1, scale=1.0, floor=1e-3)
    >>> xi = np.array([[[0.0, 0.0, 1.0]]])       # g = 1e-3 + t^2
    >>> y, ld = f.forward(np.array([[3.0]]), xi)
    >>> round(float(y[0, 0]), 12)                # 3e-3 + 3^3/3
    9.003
    """


    def __init__(self, n_squares=2, degree=2, scale=4.0, floor=1e-3):
        self.n_squares = as_int(n_squares, "SumOfSquares: n_squares", minimum=1)
        self.degree = as_int(degree, "SumOfSquares: degree", minimum=0)
        self.scale = as_float(scale, "SumOfSquares: scale", low=0.0, low_open=True)
        self.floor = as_float(floor, "SumOfSquares: floor", low=0.0, high=1.0, low_open=True,
                              high_open=True)
        self.n_params = 1 + self.n_squares * (self.degree + 1)

    def _args(self):
        return self.n_squares, self.degree, self.scale, self.floor

    def _forward_and_vjp(self, t, xi):
        y, ld, pieces = sos_forward(t, xi, *self._args())

        def back(gy, gld):
            return sos_pullback(pieces, gy, gld, self.degree, self.scale)
        return y, ld, back

    def _solve(self, y, xi):
        flat = xi.reshape(-1, 1, self.n_params)                      # one row per entry

        def func(t, idx):
            v, ld, _ = sos_forward(t[:, None], flat[idx], *self._args())
            return v[:, 0], np.exp(ld[:, 0])
        return solve_monotone(func, y, name="SumOfSquares.inverse").x

    def identity_xi(self, shape):
        xi = np.zeros(tuple(shape) + (self.n_params,))
        xi[..., 1] = np.sqrt(1.0 - self.floor)
        return xi

    def __repr__(self):
        return (f"SumOfSquares(n_squares={self.n_squares}, degree={self.degree}, "
                f"scale={self.scale}, floor={self.floor})")
