r"""Transformers: univariate increasing maps :math:`\zeta(t; \xi)` for autoregressive
and coupling flows (notes 000, section 4). See :mod:`nfref.transformers.base` for the
interface and the generic inverse gradient.

=============================  =====================================================
:class:`Affine`                :math:`\mu + e^{\alpha} t` (MAF, IAF, RealNVP)
:class:`BoundedAffine`         the same with :math:`\alpha = s\tanh(r/s)`
:class:`UMNN`                  :math:`\int_0^t g(s;\xi)\,ds + \beta`, ``integral.py``
:class:`SumOfSquares`          sum-of-squares polynomial, ``sos.py``
:class:`RationalQuadraticSpline`  monotone rational-quadratic spline, ``spline.py``
=============================  =====================================================
"""

from .base import Transformer
from .affine import Affine, BoundedAffine
from .integral import UMNN
from .sos import SumOfSquares
from .spline import RationalQuadraticSpline

__all__ = ["Transformer", "Affine", "BoundedAffine", "UMNN", "SumOfSquares",
           "RationalQuadraticSpline"]
