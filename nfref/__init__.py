"""nfref: a plain-NumPy, float64 reference implementation of normalizing flows.

The package follows a short set of course notes (Y.-C. Chen, "A short introduction on
normalizing flow", 2024, and three companion notes). Every transform follows the
contract of :mod:`nfref.transform` (one pass per direction, with its pullback); every
derivative is written by hand and checked with :mod:`nfref.gradcheck`; every identity of
the notes is a claim of the report run by ``python -m nfref`` (:mod:`nfref.report`, which
imports the library and is never imported by it).
"""

from nfref.autoregressive import IAF, MAF, Coupling
from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.inverse_cdf import GaussianCDF
from nfref.k_layers import Chain
from nfref.one_layer import ElementwiseAffine, Linear, PLULinear, Planar, Radial
from nfref.transform import Transform, flatten_params, unflatten_params

__version__ = "0.1.0"

__all__ = ["Transform", "flatten_params", "unflatten_params", "Flow", "UniformCube",
           "StandardNormal", "DiagonalNormal", "ElementwiseAffine", "PLULinear", "Linear",
           "GaussianCDF", "Planar", "Radial", "Chain", "MAF", "IAF", "Coupling"]
