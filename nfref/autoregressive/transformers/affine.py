r"""Affine transformers :math:`\zeta(t; \mu, \alpha) = \mu + e^{\alpha} t` (notes 000, sec. 4).

The affine transformer is the one of MAF (Papamakarios et al., 2017, eq. (2)), IAF
(Kingma et al., 2016, eq. (10)) and RealNVP (Dinh et al., 2017, eq. (6)); with it the
notes' transformer flow is an affine autoregressive flow.

Forward. :math:`y = \mu + e^{\alpha} t`, :math:`\lambda = \log\zeta' = \alpha`. With
upstream :math:`g_y, g_\lambda`:

.. math::
    \nabla_t = g_y e^{\alpha}, \qquad \nabla_\mu = g_y, \qquad
    \nabla_\alpha = g_y e^{\alpha} t + g_\lambda.

Inverse. :math:`t = (y - \mu) e^{-\alpha}`, :math:`\lambda = \alpha` (forward sign), so
with upstream :math:`g_t, g_\lambda`:

.. math::
    \nabla_y = g_t e^{-\alpha}, \qquad \nabla_\mu = -g_t e^{-\alpha}, \qquad
    \nabla_\alpha = -g_t\, t + g_\lambda,

which is what the generic implicit rule of :mod:`nfref.autoregressive.transformers.base` gives, written
out (the inverse is closed-form, so the pullback needs no second forward pass).

Bounded scale. :class:`BoundedAffine` uses :math:`\alpha = s\tanh(r/s)` with a fixed
bound :math:`s`, so :math:`|\alpha| < s` and the scale stays in :math:`(e^{-s}, e^{s})`
(a soft clamp as in Dinh et al., 2017, sec. 4.1, who use :math:`\tanh` on the scale);
:math:`\partial\alpha/\partial r = 1 - \tanh^2(r/s)` multiplies the gradient above.
"""

import numpy as np

from nfref._validation import as_float
from nfref.autoregressive.transformers.base import Transformer

__all__ = ["Affine", "BoundedAffine"]


class Affine(Transformer):
    r"""Affine transformer :math:`y = \mu + e^{\alpha} t`, :math:`\xi = (\mu, \alpha)`.

    ``xi[..., 0]`` is the shift :math:`\mu`, ``xi[..., 1]`` the log-scale :math:`\alpha`;
    ``xi = 0`` is the identity.

    Examples
    --------
    >>> import numpy as np
    >>> y, ld = Affine().forward(np.ones((1, 1)), np.array([[[1.0, np.log(2.0)]]]))
    >>> float(y[0, 0]), float(np.exp(ld[0, 0]))
    (3.0, 2.0)
    """

    n_params = 2

    def _log_scale(self, raw):
        """:math:`\\alpha` and :math:`d\\alpha/d\\,raw` from the second parameter."""
        return raw, None

    def _forward_and_vjp(self, t, xi):
        alpha, dalpha = self._log_scale(xi[..., 1])                     # (n, d)
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: the base refuses inf
            scale = np.exp(alpha)
            y = xi[..., 0] + scale * t

        def back(gy, gld):
            gt = gy * scale                                             # (n, d)
            galpha = gt * t + gld
            if dalpha is not None:
                galpha = galpha * dalpha
            return gt, np.stack([gy, galpha], axis=-1)
        return y, alpha, back

    def _inverse_and_vjp(self, y, xi):
        alpha, dalpha = self._log_scale(xi[..., 1])                     # (n, d)
        with np.errstate(over="ignore", invalid="ignore"):
            inv_scale = np.exp(-alpha)
            t = (y - xi[..., 0]) * inv_scale

        def back(gt, gld):
            gy = gt * inv_scale                                         # (n, d)
            galpha = -gt * t + gld
            if dalpha is not None:
                galpha = galpha * dalpha
            return gy, np.stack([-gy, galpha], axis=-1)
        return t, alpha, back


class BoundedAffine(Affine):
    r"""Affine transformer with a bounded log-scale :math:`\alpha = s\tanh(r/s)`.

    :math:`y = \mu + e^{s\tanh(r/s)} t`, :math:`\xi = (\mu, r)`; near :math:`r = 0`,
    :math:`\alpha \approx r`, and :math:`|\alpha| < s` always.

    Parameters
    ----------
    scale_bound : float
        The bound :math:`s > 0` on :math:`|\alpha|` (default 3).
    """

    def __init__(self, scale_bound=3.0):
        self.scale_bound = as_float(scale_bound, "BoundedAffine: scale_bound", low=0.0,
                                    low_open=True)

    def _log_scale(self, raw):
        th = np.tanh(raw / self.scale_bound)
        return self.scale_bound * th, 1.0 - th * th

    def __repr__(self):
        return f"BoundedAffine(scale_bound={self.scale_bound})"
