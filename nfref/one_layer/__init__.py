r"""Section 2 of notes 000: one-layer flows, forward and backward modeling.

* :class:`Planar` -- :math:`x = u + \hat\rho\tanh(w^\top u + b)` with a numerical inverse;
* :class:`Radial` -- :math:`x = u + \beta(u - z_0)/(\alpha + \|u - z_0\|)` with a closed-form inverse;
* :mod:`.linear` -- elementwise affine, ``P L U`` and general linear flows;
* :mod:`.modeling` -- eq. (7) and the forward trick eq. (8), the mean log-likelihood's gradient;
* :mod:`.backward` -- backward modeling with the Gaussian partial-CDF map of section 1;
"""

from nfref.one_layer.planar import Planar, solve_tanh_equation
from nfref.one_layer.radial import Radial
from nfref.one_layer.modeling import (inverse_jacobian, log_likelihood_eq7, log_likelihood_eq8,
                       mean_log_likelihood_and_grad, off_image_fraction)
from nfref.one_layer.backward import (backward_log_likelihood, conditional_log_likelihood, fit_backward_gaussian,
                       gaussian_mle)
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear

__all__ = ["Planar", "Radial", "solve_tanh_equation", "inverse_jacobian", "log_likelihood_eq7",
           "log_likelihood_eq8", "mean_log_likelihood_and_grad", "off_image_fraction",
           "backward_log_likelihood", "conditional_log_likelihood", "fit_backward_gaussian",
           "gaussian_mle", "ElementwiseAffine", "PLULinear", "Linear"]
