r"""Notes 000, section 1: the multivariate inverse CDF.

The partial CDFs :math:`G_j(z) = F_j(z_j \mid z_{<j})` (eq. (1)) map a continuous random
vector to the uniform distribution on the unit cube (eq. (2)); their inverse
:math:`Q` (eqs. (3)-(5)) generates it from uniforms; :math:`\phi_{Y\to Z} = Q_Z\circ G_Y`
morphs one distribution into another (section 1.2).

Every class here is a :class:`~nfref.transform.Transform` whose *forward* map is
:math:`Q` (unit cube to :math:`\mathbb{R}^d`) and whose *inverse* map is :math:`G`, so
``Flow(UniformCube(d), t).logpdf(z) = log p_Z(z)``; ``Morph`` goes from ``Y`` to ``Z``.

=============================  ============================================================
:class:`GaussianCDF`           :math:`N(\mu, \Sigma)`, closed form, learnable ``mean``/``chol_raw``
:class:`GaussianMixtureCDF`    a Gaussian mixture, any dimension; :math:`Q` by root finding
:class:`ConditionalCDF`        any law given by its conditionals (:class:`Conditional`);
                               :func:`banana` is the worked example
:class:`Morph`, :func:`morph`  :math:`Q_Z \circ G_Y` with its Jacobian and log-determinant
=============================  ============================================================

A numerical :math:`Q` is solved by :func:`nfref.numerics.solve_monotone`; the triangular
solves behind :math:`J_Q = J_G^{-1}` are :func:`nfref.numerics.tril_solve` and
:func:`nfref.numerics.tril_inverse`.

The fixed laws used by the claims, figures and notebook, with samplers that do not use
:math:`Q`, are in :mod:`nfref.inverse_cdf.examples`.
"""

from nfref.inverse_cdf._base import InverseCDFTransform
from nfref.inverse_cdf.conditional import Conditional, ConditionalCDF, banana
from nfref.inverse_cdf.gaussian import GaussianCDF
from nfref.inverse_cdf.mixture import GaussianMixtureCDF
from nfref.inverse_cdf.morph import Morph, morph

__all__ = ["InverseCDFTransform", "GaussianCDF", "GaussianMixtureCDF", "Conditional",
           "ConditionalCDF", "banana", "Morph", "morph"]
