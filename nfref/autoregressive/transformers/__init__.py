r"""Transformers: univariate increasing maps :math:`\zeta(t; \xi)` for autoregressive
and coupling flows (notes 000, section 4). See :mod:`nfref.autoregressive.transformers.base` for the
interface and the generic inverse gradient.

================================  =====================================================
:class:`Affine`                   :math:`\mu + e^{\alpha} t` (MAF, IAF, RealNVP)
:class:`BoundedAffine`            the same with :math:`\alpha = s\tanh(r/s)`
:class:`UMNN`                     :math:`\int_0^t g(s;\xi)\,ds + \beta`, ``integral.py``
:class:`SumOfSquares`             sum-of-squares polynomial, ``sos.py``
:class:`RationalQuadraticSpline`  monotone rational-quadratic spline, ``spline.py``
:class:`Inverted`                 :math:`\zeta^{-1}` of any of these, ``inverted.py``
================================  =====================================================
"""

from nfref.autoregressive.transformers.base import Transformer
from nfref.autoregressive.transformers.affine import Affine, BoundedAffine
from nfref.autoregressive.transformers.integral import UMNN
from nfref.autoregressive.transformers.sos import SumOfSquares
from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
from nfref.autoregressive.transformers.inverted import Inverted

__all__ = ["Transformer", "Affine", "BoundedAffine", "UMNN", "SumOfSquares",
           "RationalQuadraticSpline", "Inverted"]
