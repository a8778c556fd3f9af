r"""Section 2 of notes 000: one-layer flows, forward and backward modeling.

* :class:`Planar` -- :math:`x = u + \hat\rho\tanh(w^\top u + b)` with a numerical inverse;
* :class:`Radial` -- :math:`x = u + \beta(u - z_0)/(\alpha + \|u - z_0\|)` with a closed-form inverse;
* the linear flows live in :mod:`nfref.linear`;
* :mod:`.modeling` -- eq. (7) and the forward trick eq. (8), the mean log-likelihood's gradient;
* :mod:`.backward` -- backward modeling with the Gaussian partial-CDF map of section 1;
* :mod:`.fitting` -- maximum-likelihood fits (Adam, L-BFGS) and the 2-D examples;
* :mod:`.inverse_study` -- the planar inverse's accuracy over many parameter draws.
"""

from .planar import Planar, solve_tanh_equation
from .radial import Radial
from .modeling import (inverse_jacobian, log_likelihood_eq7, log_likelihood_eq8,
                       mean_log_likelihood_and_grad, off_image_fraction)
from .backward import (backward_log_likelihood, conditional_log_likelihood, fit_backward_gaussian,
                       gaussian_mle)
from .fitting import example_datasets, fit_flow, fit_one_layer_models

__all__ = ["Planar", "Radial", "solve_tanh_equation", "inverse_jacobian", "log_likelihood_eq7",
           "log_likelihood_eq8", "mean_log_likelihood_and_grad", "off_image_fraction",
           "backward_log_likelihood", "conditional_log_likelihood", "fit_backward_gaussian",
           "gaussian_mle", "fit_flow", "example_datasets", "fit_one_layer_models"]
