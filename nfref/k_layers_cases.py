"""Contract cases of :class:`~nfref.k_layers.Chain`: linear chains, nested chains, and chains of
every registered transform type (notes 000, section 3; DESIGN.md, "Checks every transform passes").

The chains of every type are built lazily, inside ``make``, from
:func:`nfref.registry.contract_cases` (skipping the cases whose base is the uniform cube), so
this module needs no list of the other modules and they need not know about it.
"""

import numpy as np

from .k_layers import Chain
from .registry import register_case
from .transform import Transform

__all__ = ["every_type_chain", "N_PARTS"]


def _linear_chain(d, rng):
    from .linear import ElementwiseAffine, Linear, PLULinear
    return Chain([ElementwiseAffine.random(d, rng), PLULinear.random(d, rng),
                  Linear.random(d, rng)])


def _nested_chain(d, rng):
    from .linear import ElementwiseAffine, PLULinear
    inner = Chain([PLULinear.random(d, rng), ElementwiseAffine.random(d, rng)])
    deeper = Chain([Chain([ElementwiseAffine.random(d, rng)]), PLULinear.random(d, rng)])
    return Chain([ElementwiseAffine.random(d, rng), inner, deeper])


def _one_case_per_type(d, rng, keep=None):
    """One registered non-chain case per transform class (the one with the fewest parameters),
    normal base, supporting dimension ``d``, in the order of the class names; ``keep(cls)`` selects
    among them. Looked up lazily, when a chain case is built.

    Each layer is redrawn (up to 20 times) until ``|log|det J||`` stays below 2.5 on a probe
    sample and the layer maps the surface of ``[-8, 8]^d`` into ``[-12, 12]^d``. A nearly
    singular random layer (a planar layer with ``w^T rho`` close to -1, say) has curvature so
    sharp that the suite's finite differences at step 1e-4 lose their accuracy, and layers that
    stretch the tails make the suite's quadrature box too wide for its grid; both are the
    layer's own business, tested by its own case, not the chain's.
    """
    probe = rng.standard_normal((64, d))                           # (64, d)
    surface = 8.0 * probe / np.max(np.abs(probe), axis=1, keepdims=True)
    layers = []
    for case, cls in _chosen_cases(d):
        if keep is not None and not keep(cls):
            continue
        for _ in range(20):
            layer = case.make(d, rng)
            try:
                tame = (np.max(np.abs(layer.forward(probe)[1])) < 2.5
                        and np.max(np.abs(layer.forward(surface)[0])) < 12.0)
            except ValueError:                                     # outside a restricted domain
                tame = True
            if tame:
                break
        layers.append(layer)
    return layers


_CHOSEN = {}


def _chosen_cases(d):
    """Per transform class, the registered case with the fewest parameters (sorted by class
    name); found once per dimension, since class and parameter count do not depend on the draw."""
    if d not in _CHOSEN:
        from .registry import contract_cases
        rng, best = np.random.default_rng(0), {}
        for name, case in contract_cases().items():
            if name.startswith("chain") or case.base == "uniform" or d not in case.dims:
                continue
            layer = case.make(d, rng)
            key = type(layer).__name__
            if key not in best or layer.n_params < best[key][2]:
                best[key] = (case, type(layer), layer.n_params)
        _CHOSEN[d] = [best[key][:2] for key in sorted(best)]
    return _CHOSEN[d]


def _restricted(cls):
    return (cls._check_forward_domain is not Transform._check_forward_domain
            or cls._check_inverse_domain is not Transform._check_inverse_domain)


def _standardizing_pairs(layers, d, rng):
    """``[(layer, bridge), ...]``: each layer followed by an elementwise affine map that
    standardizes its output on a probe sample (data-dependent initialization in the manner of
    Glow's actnorm, Kingma and Dhariwal 2018, sec. 3.1), so that every layer sees inputs of
    the scale its own contract case draws, whatever came before it."""
    from .linear import ElementwiseAffine
    probe = rng.standard_normal((256, d))                          # (256, d)
    pairs = []
    for layer in layers:
        y = layer.forward(probe)[0]
        mean, std = y.mean(0), y.std(0)
        bridge = ElementwiseAffine(-mean / std, -np.log(std))
        probe = bridge.forward(y)[0]
        pairs.append((layer, bridge))
    return pairs


N_PARTS = 4


def every_type_chain(d, rng, part=None, nested=False):
    """A chain of one layer of every registered (normal-base) transform type, each followed by
    its standardizing bridge.

    ``part`` in ``0..N_PARTS-1`` keeps every ``N_PARTS``-th type among those without a
    restricted numerical domain; ``part="restricted"`` keeps the types that override a domain
    check (they meet the base's inputs directly and only affine maps after them, as in their
    own contract case; in the middle of a chain, the suite's quadrature box would reach beyond
    their domain). ``nested`` makes a chain of two-layer chains ``Chain([layer, bridge])``.
    """
    if part == "restricted":
        layers = _one_case_per_type(d, rng, _restricted)
    elif part is not None:
        free = [cls for _, cls in _chosen_cases(d) if not _restricted(cls)]
        mine = set(free[part::N_PARTS] or free[:1])
        layers = _one_case_per_type(d, rng, mine.__contains__)
    else:
        layers = _one_case_per_type(d, rng)
    layers = layers or _one_case_per_type(d, rng)[:1]
    pairs = _standardizing_pairs(layers, d, rng)
    if nested:
        return Chain([Chain(list(pair)) for pair in pairs])
    return Chain([t for pair in pairs for t in pair])


def _part(p):
    def make(d, rng):
        return every_type_chain(d, rng, part=p, nested=p % 2 == 1)
    return make


register_case("chain_linear", _linear_chain)
register_case("chain_nested", _nested_chain, dims=(1, 2, 3))
# every registered type, spread over N_PARTS chains (odd parts nested) to keep each contract
# case small, plus the restricted-domain types; tests/test_k_layers.py runs all in one chain.
for _p in range(N_PARTS):
    register_case(f"chain_every_type_part{_p}", _part(_p), dims=(2, 3), roundtrip_tol=1e-8)
register_case("chain_every_type_restricted",
              lambda d, rng: every_type_chain(d, rng, part="restricted"), dims=(2, 3),
              roundtrip_tol=1e-8)
