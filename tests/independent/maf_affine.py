r"""The affine MAF, written from ``docs/vectors.md`` secs. 2.3 and 2.6 alone.

The affine transformer (Papamakarios, Pavlakou and Murray, 2017, eq. (2)):
:math:`\xi = (\mu, \alpha)`, :math:`y = \mu + e^\alpha t`, :math:`\log\zeta' = \alpha`,
inverse :math:`t = (y - \mu) e^{-\alpha}`. Partial derivatives:
:math:`\partial_t y = e^\alpha`, :math:`\partial_\mu y = 1`, :math:`\partial_\alpha y =
e^\alpha t`, :math:`\partial_t \log\zeta' = 0`, :math:`\partial_\xi\log\zeta' = (0, 1)`.
The flows around it are :mod:`.maf` (MAF and IAF) with the conditioner :mod:`.made`.
"""

import numpy as np

from .maf import IAF, MAF


class AffineTransformer:
    """``y = mu + exp(alpha) t`` with ``xi = (mu, alpha)``."""

    k = 2

    def value(self, t, xi):
        t = np.asarray(t, float)
        return xi[..., 0] + np.exp(xi[..., 1]) * t, xi[..., 1] + 0.0 * t

    def partials(self, t, xi):
        t = np.asarray(t, float)
        mu, alpha = xi[..., 0], xi[..., 1]
        s = np.exp(alpha)
        y = mu + s * t
        y_xi = np.stack([np.ones_like(t), s * t], axis=-1)
        ld_xi = np.stack([np.zeros_like(t), np.ones_like(t)], axis=-1)
        return y, alpha + 0.0 * t, s + 0.0 * t, y_xi, np.zeros_like(t), ld_xi

    def solve(self, y, xi):
        return (np.asarray(y, float) - xi[..., 0]) * np.exp(-xi[..., 1])


class MAFAffine(MAF):
    """Callables of the cases ``maf_affine`` and ``maf_affine_*``."""

    transformers = {"Affine": lambda cfg: AffineTransformer()}


class IAFAffine(IAF):
    """Callables of the cases ``iaf_affine`` and ``iaf_affine_*``."""

    transformers = {"Affine": lambda cfg: AffineTransformer()}
