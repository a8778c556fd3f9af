r"""Section 2 of notes 000: one-layer flows, forward modeling, the forward trick.

* :class:`Planar` -- :math:`x = u + \hat\rho\tanh(w^\top u + b)` with a numerical inverse;
* :class:`Radial` -- :math:`x = u + \beta(u - z_0)/(\alpha + \|u - z_0\|)` with a closed-form inverse;
* the linear flows live in :mod:`nfref.linear`.
"""

from .planar import Planar, solve_tanh_equation
from .radial import Radial

__all__ = ["Planar", "Radial", "solve_tanh_equation"]
