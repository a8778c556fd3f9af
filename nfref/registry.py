"""The registry: one table of every transform and transformer nfref ships, with random parameters.

The contract suites (``tests/test_contract.py`` for transforms, ``tests/test_transformers.py``
for transformers) run every check of ``docs/contract.md`` (bounds in :data:`nfref.gradcheck.CONTRACT`) on every row here, and other
implementations can use the same rows as fixtures: build a case with a fixed seed, read its
parameters, feed its inputs and compare ``forward``, ``inverse``, the Jacobian and both VJPs.

This module imports the library; no library module imports it. A new transform is its module
plus one row of :data:`CASES` (and, for a transformer, one row of :data:`TRANSFORMERS`, which
also puts it into a MAF, an IAF and a coupling layer, and into a mixed chain). :data:`FLOWS`
puts rows of :data:`CASES` into a ``Flow`` with each base. The conformance vectors
(``python -m nfref vectors``, :mod:`nfref.conformance`) cover every row of the three tables.

Example
-------
>>> from nfref.registry import example
>>> t, u = example("elementwise_affine", d=2, seed=0)
>>> x, logdet = t.forward(u)
>>> x.shape, logdet.shape
((8, 2), (8,))
"""

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nfref.autoregressive import IAF, MAF, Coupling, Permute
from nfref.autoregressive.transformers import (Affine, BoundedAffine, Inverted,
                                               RationalQuadraticSpline, SumOfSquares, UMNN)
from nfref.destructors import MarginalGaussianization
from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, Morph, banana
from nfref.k_layers import Chain
from nfref.one_layer import Planar, Radial
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear

__all__ = ["ContractCase", "TransformerCase", "FlowCase", "CASES", "TRANSFORMERS", "FLOWS",
           "contract_cases", "transformer_cases", "flow_cases", "case_seed", "example"]


def case_seed(name, d=0):
    """A seed from a stable hash of the case name and dimension (the same on every machine)."""
    digest = hashlib.sha256(f"{name}|d={d}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@dataclass(frozen=True)
class ContractCase:
    """One row of the transform table.

    Attributes
    ----------
    name : str
        Unique name, used as the pytest id.
    make : callable ``(d, rng) -> Transform``
        Builds an instance with random parameters of dimension ``d``.
    dims : tuple of int
        Dimensions the suite tries.
    base : {"normal", "uniform"}
        Where forward inputs live: all of R^d (standard normal draws) or the open unit cube.
    roundtrip_tol : float
        Bound on ``|inverse(forward(u)) - u|``: 1e-10 for closed-form inverses, 1e-8 where one
        direction is a numerical solve.
    density_grid : int
        Points per axis of the density check's trapezoidal grid in 2-D (its bound stays 1e-3).
    """

    name: str
    make: Callable
    dims: tuple = (1, 2, 3, 5)
    base: str = "normal"
    roundtrip_tol: float = 1e-10
    density_grid: int = 401

    def draw_inputs(self, rng, n, d):
        """Forward inputs in the transform's domain, shape ``(n, d)``."""
        if self.base == "uniform":
            return rng.uniform(0.02, 0.98, size=(n, d))
        return rng.standard_normal((n, d))


@dataclass(frozen=True)
class TransformerCase:
    """One row of the transformer table.

    Attributes
    ----------
    name : str
    make : callable ``() -> Transformer``
    xi_scale : float
        Conditioner outputs for the transformer suite are ``identity_xi + N(0, xi_scale^2)``;
        the flows built around it draw their conditioner's last layer at this scale.
    t_scale : float
        Inputs ``t`` are ``N(0, t_scale^2)`` (wide enough to reach a spline's tails).
    dims : tuple of int
        Dimensions of the MAF, IAF and coupling rows built around it.
    roundtrip_tol : float
    """

    name: str
    make: Callable
    xi_scale: float = 1.0
    t_scale: float = 2.0
    dims: tuple = (1, 2, 3, 5)
    roundtrip_tol: float = 1e-10


def _sos():
    # floor 0.5 and scale 8: the density check integrates on a 401 x 401 grid over the image
    # of [-8, 8]^2, which resolves neither the narrow spikes a small floor allows (density up
    # to 1/floor times the base's) nor the wide image of a quintic with scale 4.
    return SumOfSquares(n_squares=2, degree=2, scale=8.0, floor=0.5)


#: Every transformer, by name. ``xi_scale`` is kept moderate for the integral-based ones,
#: whose steep integrands make finite differences at step 1e-5 lose digits.
TRANSFORMERS = {c.name: c for c in [
    TransformerCase("affine", Affine),
    TransformerCase("bounded_affine", lambda: BoundedAffine(2.0)),
    TransformerCase("spline", lambda: RationalQuadraticSpline(4, 3.0), t_scale=3.0),
    TransformerCase("spline_wide", lambda: RationalQuadraticSpline(5, 2.5), t_scale=3.0),
    TransformerCase("umnn", lambda: UMNN(2, 16), xi_scale=0.5, dims=(1, 2, 3),
                    roundtrip_tol=1e-8),
    TransformerCase("sos", _sos, xi_scale=0.5, dims=(1, 2, 3), roundtrip_tol=1e-8),
    TransformerCase("inverted_umnn", lambda: Inverted(UMNN(2, 16)), xi_scale=0.5,
                    dims=(1, 2, 3), roundtrip_tol=1e-8),
    TransformerCase("inverted_spline", lambda: Inverted(RationalQuadraticSpline(4, 3.0)),
                    t_scale=3.0),
]}


def _flow(cls, transformer, hidden=(8,), **kwargs):
    def make(d, rng):
        return cls.random(d, rng, transformer=transformer(), hidden_sizes=hidden, **kwargs)
    return make


def _planar_raw(d, rng):
    return Planar.random(d, rng, reparameterize=False)


def _banana(with_ppf):
    def make(d, rng):
        b = rng.uniform(0.3, 1.0) * rng.choice([-1.0, 1.0])
        return banana(b, rng.uniform(0.5, 1.0), d, with_ppf)
    return make


def _normal_to_mixture(d, rng):
    return Morph(GaussianCDF(np.zeros(d), np.zeros((d, d))), GaussianMixtureCDF.random(d, rng))


def _linear_chain(d, rng):
    return Chain([ElementwiseAffine.random(d, rng), PLULinear.random(d, rng),
                  Linear.random(d, rng)])


def _nested_chain(d, rng):
    inner = Chain([PLULinear.random(d, rng), ElementwiseAffine.random(d, rng)])
    deeper = Chain([Chain([ElementwiseAffine.random(d, rng)]), PLULinear.random(d, rng)])
    return Chain([ElementwiseAffine.random(d, rng), inner, deeper])


def _tame(make, d, rng, tries=20):
    """A layer redrawn (up to ``tries`` times) until ``|log|det J|| < 2.5`` on a probe sample
    and the surface of ``[-8, 8]^d`` maps into ``[-12, 12]^d``.

    A nearly singular random layer (a planar layer with ``w^T rho`` near -1, say) curves so
    sharply that finite differences at step 1e-5 lose their accuracy, and layers that stretch
    the tails make the density check's quadrature box too wide for its grid; both are the
    layer's own business, tested by its own row, not the chain's.
    """
    probe = rng.standard_normal((64, d))                           # (64, d)
    surface = 8.0 * probe / np.max(np.abs(probe), axis=1, keepdims=True)
    for _ in range(tries):
        layer = make(d, rng)
        if (np.max(np.abs(layer.forward(probe)[1])) < 2.5
                and np.max(np.abs(layer.forward(surface)[0])) < 12.0):
            break
    return layer


def _standardized(layers, d, rng):
    """Each layer followed by an elementwise affine map that standardizes its output on a
    probe sample (data-dependent initialization in the manner of Glow's actnorm, Kingma and
    Dhariwal 2018, sec. 3.1), so every layer sees inputs of the scale its own row draws."""
    probe = rng.standard_normal((256, d))                          # (256, d)
    out = []
    for layer in layers:
        y = layer.forward(probe)[0]
        mean, std = y.mean(0), y.std(0)
        bridge = ElementwiseAffine(-mean / std, -np.log(std))
        probe = bridge.forward(y)[0]
        out += [layer, bridge]
    return out


def _mixed_chain(kinds, nested=False):
    """A chain of the layers ``kinds`` (names of rows of :data:`CASES`), each tamed and
    standardized; ``nested`` makes it a chain of two-layer chains."""
    def make(d, rng):
        layers = [_tame(CASES[k].make, d, rng) for k in kinds]
        flat = _standardized(layers, d, rng)
        if nested:
            return Chain([Chain(flat[i:i + 2]) for i in range(0, len(flat), 2)])
        return Chain(flat)
    return make


_ROWS = [
    ContractCase("elementwise_affine", ElementwiseAffine.random),
    ContractCase("plu_linear", PLULinear.random),
    ContractCase("linear", Linear.random),
    ContractCase("planar", Planar.random, roundtrip_tol=1e-8),
    ContractCase("planar_raw", _planar_raw, roundtrip_tol=1e-8),
    ContractCase("radial", Radial.random),
    ContractCase("permute", lambda d, rng: Permute.random(d, rng)),
    ContractCase("marginal_gaussianization", MarginalGaussianization.random),
    ContractCase("gaussian_cdf", lambda d, rng: GaussianCDF.random(d, rng), base="uniform"),
    ContractCase("gaussian_mixture_cdf", lambda d, rng: GaussianMixtureCDF.random(d, rng),
                 dims=(1, 2, 3), base="uniform", roundtrip_tol=1e-8),
    ContractCase("conditional_cdf_banana", _banana(True), dims=(1, 2, 3), base="uniform"),
    ContractCase("conditional_cdf_banana_numerical", _banana(False), dims=(1, 2, 3),
                 base="uniform", roundtrip_tol=1e-8),
    ContractCase("morph_normal_to_mixture", _normal_to_mixture, dims=(1, 2, 3),
                 roundtrip_tol=1e-8),
    # conditioner variants of the affine MAF, IAF and coupling layers
    ContractCase("maf_affine_h8x8_reversed", _flow(MAF, Affine, (8, 8), order="reversed")),
    ContractCase("maf_affine_h16_random", _flow(MAF, Affine, (16,), order="random")),
    # ReLU conditioners grow linearly: at output_scale 1 the log-scale of a random draw
    # stretches the image past what the density check's 401-point grid resolves
    ContractCase("maf_affine_relu_h8", _flow(MAF, Affine, (8,), activation="relu",
                                             output_scale=0.5)),
    ContractCase("iaf_affine_h8x8_reversed", _flow(IAF, Affine, (8, 8), order="reversed")),
    ContractCase("iaf_affine_h16_random", _flow(IAF, Affine, (16,), order="random")),
    ContractCase("coupling_affine_h8x8_flip", _flow(Coupling, Affine, (8, 8), flip=True)),
    ContractCase("coupling_affine_relu_h8", _flow(Coupling, Affine, (8,), activation="relu",
                                                  output_scale=0.5)),
]
# every transformer in each of MAF, IAF and Coupling
for _t in TRANSFORMERS.values():
    for _cls in (MAF, IAF, Coupling):
        _ROWS.append(ContractCase(f"{_cls.__name__.lower()}_{_t.name}",
                                  _flow(_cls, _t.make, output_scale=_t.xi_scale),
                                  dims=_t.dims, roundtrip_tol=_t.roundtrip_tol))

#: Every transform row, by name.
CASES = {c.name: c for c in _ROWS}

# chains: linear, nested, and chains that mix every layer type (spline, UMNN and SOS
# included), spread over a few chains to keep each small
_MIXES = [
    ("planar", "maf_spline", "coupling_umnn", "plu_linear"),
    ("radial", "iaf_sos", "coupling_spline", "permute"),
    ("marginal_gaussianization", "maf_affine_h8x8_reversed", "iaf_spline", "linear"),
    ("morph_normal_to_mixture", "coupling_sos", "maf_inverted_umnn", "planar_raw"),
]
CASES.update({c.name: c for c in [
    ContractCase("chain_linear", _linear_chain),
    ContractCase("chain_nested", _nested_chain, dims=(1, 2, 3)),
    # eight layers fold the density more sharply than one: the density check's grid is the
    # one that resolves each chain in 2-D (chain_mixed_1 integrates to 0.9979 at 401 points
    # per axis, 1.0005 at 801, 0.99998 at 1601; chain_mixed_0, _2 and _3 to 0.99997, 1.00003
    # and 1.0000 at 401, where the UMNN inverses of chain_mixed_0 cost 15 s, 56 s at 801)
    *[ContractCase(f"chain_mixed_{i}", _mixed_chain(kinds, nested=i % 2 == 1), dims=(2, 3),
                   roundtrip_tol=1e-8, density_grid=grid)
      for i, (kinds, grid) in enumerate(zip(_MIXES, (401, 801, 401, 401)))],
]})



@dataclass(frozen=True)
class FlowCase:
    """One row of the flow table: a base and a transform row of :data:`CASES`.

    ``make(d, rng)`` builds the transform from its row first, then the base (for
    ``"diagonal_normal"``, ``loc ~ N(0, 0.5^2)`` and ``log_scale ~ N(0, 0.3^2)``);
    ``draw_data(flow, rng, n)`` draws data points as ``flow.transform.forward`` of the
    transform row's base inputs. The dimensions are the transform row's.
    """

    name: str
    base: str
    transform: str

    @property
    def dims(self):
        return CASES[self.transform].dims

    def make(self, d, rng):
        transform = CASES[self.transform].make(d, rng)
        if self.base == "standard_normal":
            base = StandardNormal(d)
        elif self.base == "diagonal_normal":
            base = DiagonalNormal(rng.normal(0.0, 0.5, d), rng.normal(0.0, 0.3, d))
        elif self.base == "uniform_cube":
            base = UniformCube(d)
        else:
            raise ValueError(f"FlowCase {self.name!r}: unknown base {self.base!r}")
        return Flow(base, transform)

    def draw_data(self, flow, rng, n):
        """Data points ``(n, d)``: the transform applied to its row's base inputs."""
        return flow.transform.forward(CASES[self.transform].draw_inputs(rng, n, flow.dim))[0]


#: ``Flow`` with each base, by name (the uniform cube with an inverse CDF, whose forward
#: map starts from the cube).
FLOWS = {c.name: c for c in [
    FlowCase("flow_standard_normal_maf_spline", "standard_normal", "maf_spline"),
    FlowCase("flow_diagonal_normal_planar", "diagonal_normal", "planar"),
    FlowCase("flow_uniform_cube_gaussian_cdf", "uniform_cube", "gaussian_cdf"),
]}


def flow_cases():
    """Every flow row, by name (a copy of :data:`FLOWS`)."""
    return dict(FLOWS)


def contract_cases():
    """Every transform row, by name (a copy of :data:`CASES`)."""
    return dict(CASES)


def transformer_cases():
    """Every transformer row, by name (a copy of :data:`TRANSFORMERS`)."""
    return dict(TRANSFORMERS)


def example(name, d, seed=0, n=8):
    """A ready example of a row: ``(transform, u)`` with fixed seeds, for fixtures.

    Raises ``ValueError`` for an unknown name or a dimension the row does not support.
    """
    if name not in CASES:
        raise ValueError(f"example: unknown case {name!r}; expected one of {sorted(CASES)}")
    case = CASES[name]
    if d not in case.dims:
        raise ValueError(f"example: case {name!r} supports d in {case.dims}, got {d!r}")
    rng = np.random.default_rng(seed)
    return case.make(d, rng), case.draw_inputs(rng, n, d)
