r"""Transformers: univariate increasing maps :math:`\zeta(t; \xi)` for autoregressive
and coupling flows (notes 000, section 4). See :mod:`nfref.transformers.base` for the
interface and the generic inverse gradient."""

from .base import Transformer
from .affine import Affine, BoundedAffine

__all__ = ["Transformer", "Affine", "BoundedAffine"]
