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

and the inverse direction is the same formula with :math:`Y` and :math:`Z` swapped. It is
the composition of the two laws' own pullbacks: the pass runs :math:`G_Y` at :math:`y` and
:math:`Q_Z` at :math:`(w, 1 - w)`, each forming its :math:`J_G` and
:math:`\nabla\log p` once; the pullback is :math:`Q_Z`'s (one back substitution with
:math:`J_{G_Z}(z)^\top`) followed by :math:`G_Y`'s (a product with :math:`J_{G_Y}(y)^\top`),
both fed the same :math:`g_\ell`. The source and target stay fixed: gradients with respect to
their parameters are not returned.

Points so far in a tail that :math:`G_Y(y)` or :math:`1 - G_Y(y)` underflows to 0 have no
image (:math:`Q_Z` is not defined on the faces of the cube) and are refused with a
``ValueError`` by the pass itself.
"""

import numpy as np

from nfref.transform import Transform
from nfref.inverse_cdf._base import InverseCDFTransform
from nfref.numerics import tril_inverse

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

    def __repr__(self):
        return f"Morph({self.source!r} -> {self.target!r})"

    @property
    def numerical_inverse(self):
        """True when ``Q`` of the source or of the target is a numerical solve."""
        return self.source.numerical_inverse or self.target.numerical_inverse

    def _refuse_faces(self, law, w, w_bar, direction):
        """Refuse rows where ``G(v)`` or ``1 - G(v)`` rounds to a face of the cube."""
        bad = np.any((w <= 0.0) | (w_bar <= 0.0), axis=1)
        if bad.any():
            which = "source" if law is self.source else "target"
            raise ValueError(f"Morph.{direction}: the partial CDF of the {which} "
                             "or its complement underflows to 0 in float64 for "
                             f"{int(bad.sum())} rows (e.g. row "
                             f"{int(np.argmax(bad))}); expected points less far in its tails")

    # One direction is the G pass of one law and the Q pass of the other, fed with the pair
    # (w, 1 - w); the pullback runs the Q pullback, then the G pullback, on the same
    # log-determinant cotangent (logdet = log p_first(a) + [-log p_second(b)]).
    def _compose_and_vjp(self, first, second, a, direction):
        w, w_bar, logp_a, back_g = first._inverse_pair_and_vjp(a)
        self._refuse_faces(first, w, w_bar, direction)
        b, logdet_q, back_q = second._forward_pair_and_vjp(w, w_bar)

        def back(gb, gl):
            gw, _ = back_q(gb, gl)           # J_{G_2}^{-T}(gb - gl grad log p_2)
            ga, _ = back_g(gw, gl)           # J_{G_1}^T gw + gl grad log p_1
            return ga, {}
        return b, logp_a + logdet_q, back

    def _compose(self, first, second, a, direction):
        w, w_bar, logp_a, _ = first._G_pass(a)
        self._refuse_faces(first, w, w_bar, direction)
        b, logp_b, _ = second._Q_pass(w, w_bar)
        return b, logp_a - logp_b

    def _forward_and_vjp(self, y):
        return self._compose_and_vjp(self.source, self.target, y, "forward")

    def _inverse_and_vjp(self, z):
        return self._compose_and_vjp(self.target, self.source, z, "inverse")

    def _forward(self, y):
        return self._compose(self.source, self.target, y, "forward")

    def _inverse(self, z):
        return self._compose(self.target, self.source, z, "inverse")

    def _jacobian(self, y):
        w, w_bar, _, pieces_y = self.source._G_pass(y)
        self._refuse_faces(self.source, w, w_bar, "jacobian")
        z, _, pieces_z = self.target._Q_pass(w, w_bar)
        return (tril_inverse(self.target._jacobian_G_from(z, pieces_z))
                @ self.source._jacobian_G_from(y, pieces_y))


def morph(y, source, target):
    r"""Apply :math:`\phi_{Y\to Z} = Q_Z\circ G_Y` to the rows of ``y``.

    Returns
    -------
    z : ndarray, shape (n, d)
    logdet : ndarray, shape (n,)
        :math:`\log p_Y(y) - \log p_Z(z)`.
    """
    return Morph(source, target).forward(y)
