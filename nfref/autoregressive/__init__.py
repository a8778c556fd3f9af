r"""Section 4 of notes 000: autoregressive and transformer flows.

* :mod:`.made` -- the masked conditioner (MADE, Germain et al., 2015);
* :mod:`.maf` -- MAF and IAF, eq. (10) (Papamakarios et al., 2017; Kingma et al., 2016);
* :mod:`.coupling` -- coupling layers (RealNVP, Dinh et al., 2017) and fixed permutations;
* :mod:`.transformers` -- section 4.1: the monotone maps :math:`\zeta(t;\xi)` (affine,
  rational-quadratic spline, integral-based with its quadrature, sum-of-squares, inverted).
"""

from nfref.autoregressive.made import MADE
from nfref.autoregressive.maf import IAF, MAF, maf_stack
from nfref.autoregressive.coupling import Coupling, Permute, coupling_stack

__all__ = ["MADE", "MAF", "IAF", "maf_stack", "Coupling", "Permute", "coupling_stack"]
