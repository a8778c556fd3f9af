"""The conformance kit: test vectors of every registered case and a black-box checker.

Another implementation of a flow (any framework, wrapped to take and return NumPy arrays)
is compared with nfref's vectors and checked for self-consistency by :func:`check`; the
vectors themselves are JSON files any language reads (schema: ``docs/vectors.md``),
written by ``python -m nfref vectors`` and read by :func:`load`.

This is a report-side package: it imports the registry and :mod:`nfref.gradcheck`; no
library module imports it.
"""

from nfref.conformance.check import CheckRow, ConformanceResult, Implementation, check
from nfref.conformance.vectors import load, load_index, registered_cases

__all__ = ["check", "Implementation", "ConformanceResult", "CheckRow", "load", "load_index",
           "registered_cases"]
