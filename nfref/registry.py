"""The registry of contract cases: every transform nfref ships, with random parameters.

The contract suite (``tests/test_contract.py``) runs every check of DESIGN.md on every
case here, and other implementations can use the same cases as fixtures: build a case,
read ``transform.params``, feed ``inputs`` and compare ``forward``/``inverse``/VJPs.

A module joins the suite by calling :func:`register_case` at import time; the
registry imports every module of the package before it answers, so nothing else
needs to be edited.

Example
-------
>>> import numpy as np
>>> from nfref.registry import contract_cases
>>> case = contract_cases()["elementwise_affine"]
>>> t = case.make(2, np.random.default_rng(0))
>>> u = case.inputs(np.random.default_rng(1), 4, 2)
>>> x, logdet = t.forward(u)
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["ContractCase", "register_case", "contract_cases"]

_CASES = {}


def _normal_inputs(rng, n, d):
    return rng.standard_normal((n, d))


def _unit_cube_inputs(rng, n, d):
    return rng.uniform(0.02, 0.98, size=(n, d))


@dataclass(frozen=True)
class ContractCase:
    """One registered transform family for the contract suite.

    Attributes
    ----------
    name : str
        Unique name, used as the pytest id.
    make : callable ``(d, rng) -> Transform``
        Builds an instance with random parameters of dimension ``d``.
    dims : tuple of int
        Dimensions the suite tries.
    base : {"normal", "uniform"}
        Where forward inputs live: all of R^d (standard normal base) or the unit cube.
    inputs : callable ``(rng, n, d) -> ndarray``
        Draws forward inputs in the transform's domain.
    roundtrip_tol : float
        Bound on ``|inverse(forward(u)) - u|``: 1e-10 for analytic inverses, 1e-8 for
        numerical ones (DESIGN.md).
    """

    name: str
    make: Callable
    dims: tuple = (1, 2, 3, 5)
    base: str = "normal"
    inputs: Callable = field(default=None)
    roundtrip_tol: float = 1e-10

    def draw_inputs(self, rng, n, d):
        """Forward inputs for this case: ``inputs`` if given, else drawn from the base."""
        if self.inputs is not None:
            return self.inputs(rng, n, d)
        return _unit_cube_inputs(rng, n, d) if self.base == "uniform" else _normal_inputs(rng, n, d)


def register_case(name, make, **kwargs):
    """Add a transform family to the contract registry (see :class:`ContractCase`)."""
    if name in _CASES and _CASES[name].make is not make:
        raise ValueError(f"register_case: a case named {name!r} is already registered")
    _CASES[name] = ContractCase(name=name, make=make, **kwargs)
    return _CASES[name]


def _import_all():
    import nfref
    for mod in pkgutil.walk_packages(nfref.__path__, "nfref."):
        if mod.name.split(".")[-1] in ("__main__",):
            continue
        importlib.import_module(mod.name)


def contract_cases():
    """All registered cases, by name (imports every nfref module first)."""
    _import_all()
    return dict(sorted(_CASES.items()))


def example(name, d, seed=0, n=8):
    """A ready example of a case: ``(transform, u)`` with fixed seeds, for fixtures."""
    case = contract_cases()[name]
    rng = np.random.default_rng(seed)
    return case.make(d, rng), case.draw_inputs(rng, n, d)
