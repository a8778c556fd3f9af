r"""Morphing one distribution into another (notes 000, section 1.2).

With :math:`G_Y` the partial CDFs of :math:`Y` (eq. (1)) and :math:`Q_Z` the inverse CDF of
:math:`Z` (eq. (5)),

.. math:: \phi_{Y\to Z} = Q_Z \circ G_Y, \qquad \phi_{Y\to Z}(Y) \overset{d}{=} Z

(the notes print :math:`\overset{a}{=}`; it is the same equality in distribution as in
eq. (5)). Both factors are lower triangular, so is their product:

.. math::
    J_\phi(y) = J_{Q_Z}(w)\,J_{G_Y}(y) = J_{G_Z}(z)^{-1} J_{G_Y}(y), \qquad
    \log|\det J_\phi(y)| = \log p_Y(y) - \log p_Z(\phi(y)),

with :math:`w = G_Y(y)`, :math:`z = \phi(y)`. The inverse is
:math:`\phi_{Z\to Y} = Q_Y\circ G_Z`.

Input gradients (both maps are fixed; the morph has no parameters of its own). Forward,
:math:`\ell(y) = \log p_Y(y) - \log p_Z(\phi(y))`:

.. math::
    \nabla_y\big(g_z^\top z + g_\ell\,\ell\big) = J_{G_Y}(y)^\top J_{G_Z}(z)^{-\top}
    \big(g_z - g_\ell\nabla\log p_Z(z)\big) + g_\ell\,\nabla\log p_Y(y),

and the inverse direction is the same formula with :math:`Y` and :math:`Z` swapped.
"""

import numpy as np

from nfref._validation import as_rng
from nfref.transform import Transform
from nfref.inverse_cdf._base import InverseCDFTransform, tril_inverse, tril_solve
from nfref.inverse_cdf.gaussian import GaussianCDF
from nfref.inverse_cdf.mixture import GaussianMixtureCDF

__all__ = ["Morph", "morph"]


class Morph(Transform):
    r"""The morphing map :math:`\phi_{Y\to Z} = Q_Z\circ G_Y` as a Transform (forward
    :math:`Y \to Z`, inverse :math:`Z \to Y`).

    Parameters
    ----------
    source, target : InverseCDFTransform
        The inverse CDFs of :math:`Y` and :math:`Z` (same dimension); kept fixed.

    Examples
    --------
    >>> import numpy as np
    >>> from nfref.inverse_cdf import GaussianCDF
    >>> y_law = GaussianCDF.from_mean_cov([0.0], [[1.0]])
    >>> z_law = GaussianCDF.from_mean_cov([3.0], [[4.0]])
    >>> Morph(y_law, z_law).forward(np.array([[1.0]]))[0]
    array([[5.]])
    """

    def __init__(self, source, target):
        for name, t in (("source", source), ("target", target)):
            if not isinstance(t, InverseCDFTransform):
                raise ValueError(f"Morph: expected {name} to be an inverse CDF (GaussianCDF, "
                                 f"GaussianMixtureCDF, ConditionalCDF), got {type(t).__name__}")
        if source.dim != target.dim:
            raise ValueError(f"Morph: source has dimension {source.dim}, target {target.dim}")
        super().__init__(source.dim)
        self.source, self.target = source, target
        self.numerical_inverse = source.numerical_inverse or target.numerical_inverse

    def __repr__(self):
        return f"Morph({self.source!r} -> {self.target!r})"

    def _to_cube(self, law, v, direction):
        """``G(v)``, refusing rows that round to the faces of the cube."""
        w, w_bar, logp = law._G_pair(v)
        bad = np.any((w <= 0.0) | (w_bar <= 0.0), axis=1)
        if bad.any():
            which = "source" if law is self.source else "target"
            raise ValueError(f"Morph.{direction}: the partial CDF of the {which} "
                             "or its complement underflows to 0 in float64 for "
                             f"{int(bad.sum())} rows (e.g. row "
                             f"{int(np.argmax(bad))}); expected points less far in its tails")
        return w, w_bar, logp

    def _check_forward_domain(self, y):
        self._to_cube(self.source, y, "forward")

    def _check_inverse_domain(self, z):
        self._to_cube(self.target, z, "inverse")

    def _forward(self, y):
        w, w_bar, logp_y = self.source._G_pair(y)
        z, logp_z = self.target._Q_pair(w, w_bar)
        return z, logp_y - logp_z

    def _inverse(self, z):
        w, w_bar, logp_z = self.target._G_pair(z)
        y, logp_y = self.source._Q_pair(w, w_bar)
        return y, logp_z - logp_y

    def _jacobian(self, y):
        z, _ = self._forward(y)
        return tril_inverse(self.target._jacobian_G(z)) @ self.source._jacobian_G(y)

    @staticmethod
    def _vjp(first, second, a, b, ga, gl):
        """Gradient w.r.t. ``a`` of ``ga . b + gl (log p_1(a) - log p_2(b))``, ``b = Q_2(G_1(a))``."""
        v = ga - gl[:, None] * second._grad_logpdf(b)                    # (n, d)
        s = tril_solve(second._jacobian_G(b), v, transpose=True)         # J_{G_2}^{-T} v
        return (np.einsum("nji,nj->ni", first._jacobian_G(a), s)
                + gl[:, None] * first._grad_logpdf(a))

    def _forward_vjp(self, y, gz, gl):
        z, _ = self._forward(y)
        return self._vjp(self.source, self.target, y, z, gz, gl), {}

    def _inverse_vjp(self, z, gy, gl):
        y, _ = self._inverse(z)
        return self._vjp(self.target, self.source, z, y, gy, gl), {}


def morph(y, source, target):
    r"""Apply :math:`\phi_{Y\to Z} = Q_Z\circ G_Y` to the rows of ``y``.

    Returns
    -------
    z : ndarray, shape (n, d)
    logdet : ndarray, shape (n,)
        :math:`\log p_Y(y) - \log p_Z(z)`.
    """
    return Morph(source, target).forward(y)
