"""nfref: a plain-NumPy, float64 reference implementation of normalizing flows.

The package follows the notes in ``shared/seeds`` (Chen, "A short introduction on
normalizing flow", 2024, and three companion notes). Every transform follows the
contract of :mod:`nfref.transform`; every derivative is written by hand and checked
with :mod:`nfref.gradcheck`; every identity of the notes is a claim of the report
run by ``python -m nfref``.
"""

from nfref.autoregressive.maf import IAF, MAF
from nfref.autoregressive.coupling import Coupling
from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.inverse_cdf import GaussianCDF
from nfref.k_layers import Chain
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.one_layer import Planar, Radial
from nfref.transform import Transform, flatten_params, unflatten_params

__version__ = "0.1.0"

__all__ = ["Transform", "flatten_params", "unflatten_params", "Flow", "UniformCube",
           "StandardNormal", "DiagonalNormal", "ElementwiseAffine", "PLULinear", "Linear",
           "GaussianCDF", "Planar", "Radial", "Chain", "MAF", "IAF", "Coupling"]
