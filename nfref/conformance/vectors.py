r"""Test vectors: generate, write, read (the schema is ``docs/vectors.md``).

One JSON file per (case, dimension) and an ``index.json``, for every row of
:data:`nfref.registry.CASES` (transforms), :data:`nfref.registry.TRANSFORMERS` and
:data:`nfref.registry.FLOWS`, at every dimension the row lists. Everything is drawn from
``numpy.random.default_rng(case_seed(name, d))``: the case's parameters (its row's
``make``), then the inputs, then the cotangents, so the same nfref gives the same files.

Float encoding: every float64 is written as Python's ``repr`` (``json.dumps`` uses it),
the shortest decimal string that reads back to the same double (at most 17 significant
digits), so any correct decimal-to-double reader recovers every bit. No NaN or infinity is
ever written (``allow_nan=False``). An array is ``{"dtype", "shape", "data"}`` with
``data`` flat in row-major (C) order.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

import nfref
from nfref.autoregressive import IAF, MAF, Coupling, Permute
from nfref.autoregressive.transformers import (Affine, BoundedAffine, Inverted,
                                               RationalQuadraticSpline, SumOfSquares, UMNN)
from nfref.autoregressive.transformers.quadrature import clenshaw_curtis_unit
from nfref.destructors import MarginalGaussianization
from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, Morph
from nfref.inverse_cdf._base import InverseCDFTransform
from nfref.inverse_cdf.conditional import ConditionalCDF
from nfref.k_layers import Chain
from nfref.one_layer import Planar, Radial
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.registry import CASES, FLOWS, TRANSFORMERS, case_seed

__all__ = ["SCHEMA_VERSION", "N_POINTS", "VECTOR_DIR", "registered_cases", "build",
           "generate", "write", "load", "load_index", "encode", "decode", "dumps",
           "file_name"]

SCHEMA_VERSION = 1
#: Points per (case, dimension): few, so the set stays small.
N_POINTS = 4
#: The committed set, shipped with the package.
VECTOR_DIR = Path(__file__).resolve().parent / "vectors"


# ---------------------------------------------------------------------- encoding
def encode(value):
    """A JSON-ready copy of ``value``: arrays become ``{"dtype", "shape", "data"}``,
    NumPy scalars Python numbers; dicts and lists are encoded recursively."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return {"dtype": "bool", "shape": list(value.shape),
                    "data": [bool(v) for v in value.ravel()]}
        if np.issubdtype(value.dtype, np.integer):
            return {"dtype": "int64", "shape": list(value.shape),
                    "data": [int(v) for v in value.ravel()]}
        a = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            bad = a.size - np.count_nonzero(np.isfinite(a))
            raise ValueError(f"encode: expected finite floats, got {bad} non-finite entries")
        return {"dtype": "float64", "shape": list(a.shape), "data": [float(v) for v in a.ravel()]}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"encode: expected a finite float, got {v!r}")
        return v
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"encode: cannot encode a {type(value).__name__}")


_DTYPES = {"float64": np.float64, "int64": np.int64, "bool": bool}


def decode(value):
    """The inverse of :func:`encode`: array objects become ndarrays (the same bits)."""
    if isinstance(value, dict):
        if set(value) == {"dtype", "shape", "data"}:
            return np.array(value["data"], dtype=_DTYPES[value["dtype"]]).reshape(value["shape"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def dumps(doc):
    """The file text of a document: ``json.dumps`` (``repr`` floats, no NaN), sorted keys,
    no spaces, one trailing newline."""
    return json.dumps(encode(doc), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def file_name(name, d):
    """``<case>__d<d>.json``."""
    return f"{name}__d{d}.json"


# ---------------------------------------------------------------------- the cases
def registered_cases():
    """Every registered case: ``name -> (kind, dims)`` with kind ``"transform"``,
    ``"transformer"`` or ``"flow"``."""
    out = {}
    for kind, table in (("transform", CASES), ("transformer", TRANSFORMERS), ("flow", FLOWS)):
        for name, case in table.items():
            if name in out:
                raise ValueError(f"registered_cases: the name {name!r} is in two tables")
            out[name] = (kind, tuple(case.dims))
    return out


def _roundtrip_tol(name, kind):
    if kind == "flow":
        return CASES[FLOWS[name].transform].roundtrip_tol
    return (CASES if kind == "transform" else TRANSFORMERS)[name].roundtrip_tol


# ---------------------------------------------------------------------- descriptions
def describe_transformer(tr):
    """The hyperparameters of a transformer (``config.transformer`` of a file)."""
    out = {"class": type(tr).__name__, "n_params": int(tr.n_params)}
    if isinstance(tr, RationalQuadraticSpline):
        out.update(n_bins=tr.n_bins, bound=tr.bound, min_width=tr.min_width,
                   min_height=tr.min_height, min_derivative=tr.min_derivative)
    elif isinstance(tr, UMNN):
        nodes, weights = clenshaw_curtis_unit(tr.n_intervals)
        out.update(n_hidden=tr.n_hidden, n_intervals=tr.n_intervals, nodes=nodes,
                   weights=weights)
    elif isinstance(tr, SumOfSquares):
        out.update(n_squares=tr.n_squares, degree=tr.degree, scale=tr.scale, floor=tr.floor)
    elif isinstance(tr, BoundedAffine):
        out.update(scale_bound=tr.scale_bound)
    elif isinstance(tr, Inverted):
        out.update(inner=describe_transformer(tr.inner))
    elif not isinstance(tr, Affine):
        raise ValueError(f"describe_transformer: no description for {type(tr).__name__}")
    return out


def _off_diagonal(d):
    return ~np.eye(d, dtype=bool)


def _zeros_autoregressive(degrees):
    m0 = np.asarray(degrees)
    return m0[None, :] > m0[:, None]                       # J[l, j] = 0 when m0(j) > m0(l)


def describe(t):
    """``(config, constrained)`` of a transform: its fixed structure and the constrained
    values derived from its raw parameters (docs/vectors.md, section 2)."""
    if isinstance(t, Planar):
        rho_hat, c, _ = t.constrained()
        return {"reparameterize": t.reparameterize}, {"rho_hat": rho_hat, "c": float(c)}
    if isinstance(t, Radial):
        return {}, {"alpha": t.alpha, "beta": t.beta}
    if isinstance(t, ElementwiseAffine):
        return {"jacobian_zeros": _off_diagonal(t.dim)}, {}
    if isinstance(t, Linear):
        return {}, {}
    if isinstance(t, PLULinear):
        P, L, U = t.factors()
        return {"perm": t.perm}, {"L": L, "U": U, "matrix": P @ L @ U}
    if isinstance(t, Permute):
        return {"perm": t.perm, "jacobian_zeros": np.eye(t.dim)[t.perm] == 0}, {}
    if isinstance(t, MarginalGaussianization):
        return {"centers": t.centers, "bandwidth": t.bandwidth,
                "log_weights": t.log_weights, "jacobian_zeros": _off_diagonal(t.dim)}, {}
    upper = np.triu(np.ones((t.dim, t.dim), dtype=bool), 1)     # lower-triangular maps
    if isinstance(t, GaussianCDF):
        return {"jacobian_zeros": upper}, {"L": t.cholesky()}
    if isinstance(t, GaussianMixtureCDF):
        return ({"weights": t.weights, "means": t.means, "covs": t.covs,
                 "jacobian_zeros": upper}, {"chol": t.chol})
    if isinstance(t, ConditionalCDF):
        if not hasattr(t, "b"):
            raise ValueError(f"describe: no description for {t!r}")
        return {"law": "banana", "b": t.b, "s": t.s,
                "quantile": "numerical" if t.numerical_inverse else "closed form",
                "jacobian_zeros": upper}, {}
    if isinstance(t, Morph):
        return {"source": _layer(t.source, with_values=True),
                "target": _layer(t.target, with_values=True), "jacobian_zeros": upper}, {}
    if isinstance(t, (MAF, IAF)):
        made = t.made
        return ({"transformer": describe_transformer(t.transformer),
                 "hidden_sizes": list(made.hidden_sizes), "activation": made.activation,
                 "degrees": list(made.degrees), "masks": [m.astype(np.int64) for m in made.masks],
                 "order": made.order, "jacobian_zeros": _zeros_autoregressive(made.degrees[0])},
                {})
    if isinstance(t, Coupling):
        d = t.dim
        zeros = ~np.eye(d, dtype=bool)
        zeros[np.ix_(t.trans_idx, t.cond_idx)] = False     # x_B depends on u_A
        return ({"transformer": describe_transformer(t.transformer),
                 "hidden_sizes": list(t.hidden_sizes), "activation": t.activation,
                 "flip": t.flip, "cond_idx": t.cond_idx, "trans_idx": t.trans_idx,
                 "jacobian_zeros": zeros}, {})
    if isinstance(t, Chain):
        return {"layers": [_layer(layer) for layer in t.layers]}, {}
    raise ValueError(f"describe: no description for {type(t).__name__}")


def _layer(t, with_values=False):
    """A layer of a chain (or a law of a morph): class, config, parameter names (and, for
    the fixed laws of a morph, their parameter values)."""
    config, constrained = describe(t)
    out = {"class": type(t).__name__, "config": config, "params": list(t.params)}
    if with_values:
        out["param_values"] = {k: v.copy() for k, v in t.params.items()}
        out["constrained"] = constrained
    return out


def _conditioner_xi(t, u, x):
    """The conditioner's output ``xi`` of the forward pass (MAF reads ``x``, IAF ``u``,
    coupling ``u_A``), and, for a spline, its knots."""
    if isinstance(t, MAF):
        xi = t.conditioner(x)
    elif isinstance(t, IAF):
        xi = t.conditioner(u)
    else:
        xi = t._conditioner(u[:, t.cond_idx])[0]
    out = {"xi": xi}
    out.update(_spline_knots(t.transformer, xi))
    return out


def _spline_knots(tr, xi):
    tr = tr.inner if isinstance(tr, Inverted) else tr
    if not isinstance(tr, RationalQuadraticSpline):
        return {}
    xk, yk, delta = tr.knots(xi)
    return {"knots_x": xk, "knots_y": yk, "derivatives": delta}


# ---------------------------------------------------------------------- building
def _header(name, kind, d, seed, cls):
    return {"schema_version": SCHEMA_VERSION, "nfref_version": nfref.__version__,
            "case": name, "kind": kind, "dim": d, "seed": seed, "n": N_POINTS, "class": cls,
            "roundtrip_tol": _roundtrip_tol(name, kind)}


def _build_transform(name, d):
    case = CASES[name]
    seed = case_seed(name, d)
    rng = np.random.default_rng(seed)
    t = case.make(d, rng)
    u = case.draw_inputs(rng, N_POINTS, d)
    gx, gl = rng.standard_normal((N_POINTS, d)), rng.standard_normal(N_POINTS)
    gu, gl_inv = rng.standard_normal((N_POINTS, d)), rng.standard_normal(N_POINTS)
    doc = _header(name, "transform", d, seed, type(t).__name__)
    config, constrained = describe(t)
    x, logdet, fwd = t.forward_and_vjp(u)
    u_inv, logdet_inv, inv = t.inverse_and_vjp(x)
    if isinstance(t, (MAF, IAF, Coupling)):
        constrained = {**constrained, **_conditioner_xi(t, u, x)}
    g_u, g_par = fwd(gx, gl)
    g_x, g_par_inv = inv(gu, gl_inv)
    doc.update(base=case.base, numerical_inverse=bool(t.numerical_inverse), config=config,
               params={k: v.copy() for k, v in t.params.items()}, constrained=constrained,
               forward={"u": u, "x": x, "logdet": logdet},
               inverse={"x": x, "u": u_inv, "logdet": logdet_inv},
               jacobian=t.jacobian(u), inverse_jacobian=t.inverse_jacobian(x),
               forward_vjp={"gx": gx, "gl": gl, "gu": g_u, "gparams": g_par},
               inverse_vjp={"gu": gu, "gl": gl_inv, "gx": g_x, "gparams": g_par_inv})
    if isinstance(t, InverseCDFTransform):
        doc["inverse_cdf"] = {"Q": x, "G": u_inv, "J_G": t.partial_cdf_jacobian(x)}
    return doc


def _build_transformer(name, d):
    case = TRANSFORMERS[name]
    seed = case_seed(name, d)
    rng = np.random.default_rng(seed)
    tr = case.make()
    shape = (N_POINTS, d)
    xi = tr.identity_xi(shape) + case.xi_scale * rng.standard_normal(shape + (tr.n_params,))
    t = case.t_scale * rng.standard_normal(shape)
    gy, gld = rng.standard_normal(shape), rng.standard_normal(shape)
    gt, gld_inv = rng.standard_normal(shape), rng.standard_normal(shape)
    y, ld, fwd = tr.forward_and_vjp(t, xi)
    t_inv, ld_inv, inv = tr.inverse_and_vjp(y, xi)
    g_t, g_xi = fwd(gy, gld)
    g_y, g_xi_inv = inv(gt, gld_inv)
    doc = _header(name, "transformer", d, seed, type(tr).__name__)
    doc.update(base="normal", numerical_inverse=bool(tr.numerical_inverse),
               config={"transformer": describe_transformer(tr), "xi_scale": case.xi_scale,
                       "t_scale": case.t_scale},
               params={"xi": xi}, constrained=_spline_knots(tr, xi),
               forward={"u": t, "x": y, "logdet": ld},
               inverse={"x": y, "u": t_inv, "logdet": ld_inv},
               derivative=np.exp(ld),
               forward_vjp={"gx": gy, "gl": gld, "gu": g_t, "gparams": {"xi": g_xi}},
               inverse_vjp={"gu": gt, "gl": gld_inv, "gx": g_y, "gparams": {"xi": g_xi_inv}})
    return doc


def _build_flow(name, d):
    case = FLOWS[name]
    seed = case_seed(name, d)
    rng = np.random.default_rng(seed)
    flow = case.make(d, rng)
    x = case.draw_data(flow, rng, N_POINTS)
    u, logdet_inv = flow.transform.inverse(x)
    nll, grad = flow.nll_and_grad(x)
    config, _ = describe(flow.transform)
    doc = _header(name, "flow", d, seed, "Flow")
    doc.update(base=case.base, numerical_inverse=bool(flow.transform.numerical_inverse),
               config={"base": case.base, "transform_case": case.transform,
                       "transform_class": type(flow.transform).__name__,
                       "transform": config},
               params={k: v.copy() for k, v in flow.params.items()},
               x=x, inverse={"x": x, "u": u, "logdet": logdet_inv},
               base_logpdf=flow.base.logpdf(u), logpdf=flow.logpdf(x), nll=nll,
               nll_grad=grad)
    return doc


def build(name, d):
    """The document of one (case, dimension), as Python objects with NumPy arrays.

    Raises ``ValueError`` for an unknown case (listing the known ones) or a dimension
    the case does not support.
    """
    cases = registered_cases()
    if name not in cases:
        raise ValueError(f"unknown case {name!r}; expected one of: {', '.join(sorted(cases))}")
    kind, dims = cases[name]
    if d not in dims:
        raise ValueError(f"case {name!r} supports d in {dims}, got {d!r}")
    return {"transform": _build_transform, "transformer": _build_transformer,
            "flow": _build_flow}[kind](name, d)


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generate(names=None):
    """``(index, texts)``: the index document and ``{file name: file text}`` for the cases
    ``names`` (default: every registered case)."""
    cases = registered_cases()
    chosen = sorted(cases) if names is None else list(names)
    texts, entries = {}, {}
    for name in chosen:
        kind, dims = cases[name]
        files = {}
        for d in dims:
            doc = build(name, d)
            text = dumps(doc)
            fname = file_name(name, d)
            texts[fname] = text
            files[str(d)] = {"file": fname, "sha256": _sha256(text)}
        entries[name] = {"kind": kind, "class": doc["class"], "dims": list(dims),
                         "files": files}
    index = {"schema_version": SCHEMA_VERSION, "nfref_version": nfref.__version__,
             "n_points": N_POINTS,
             "float_encoding": "JSON numbers written by Python's repr(float): the shortest "
                               "decimal that reads back to the same float64 (at most 17 "
                               "significant digits); no NaN or infinity",
             "registered_cases": sorted(cases), "cases": entries}
    return index, texts


def write(out_dir=None):
    """Write every file and ``index.json`` into ``out_dir`` (default: the package's
    committed set), removing stale ``*.json`` files there; returns the index."""
    out = Path(VECTOR_DIR if out_dir is None else out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index, texts = generate()
    keep = set(texts) | {"index.json"}
    for old in out.glob("*.json"):
        if old.name not in keep:
            old.unlink()
    for fname, text in texts.items():
        (out / fname).write_text(text, encoding="utf-8")
    (out / "index.json").write_text(json.dumps(index, sort_keys=True, indent=1) + "\n",
                                    encoding="utf-8")
    return index


def load_index(directory=None):
    """The index of a vector set (default: the committed one)."""
    path = Path(VECTOR_DIR if directory is None else directory) / "index.json"
    if not path.is_file():
        raise ValueError(f"load_index: no index.json in {path.parent} (write one with "
                         "'python -m nfref vectors --out DIR')")
    return json.loads(path.read_text(encoding="utf-8"))


def load(name, d, directory=None, verify=True):
    """The document of one (case, dimension), arrays decoded to NumPy.

    Raises ``ValueError`` for an unknown case (listing the known ones), a dimension the
    case does not have, or (``verify``) a file whose SHA-256 differs from the index's.
    """
    directory = Path(VECTOR_DIR if directory is None else directory)
    index = load_index(directory)
    cases = index["cases"]
    if name not in cases:
        raise ValueError(f"unknown case {name!r}; expected one of: {', '.join(sorted(cases))}")
    files = cases[name]["files"]
    if str(d) not in files:
        raise ValueError(f"case {name!r} has vectors for d in "
                         f"{[int(k) for k in files]}, got {d!r}")
    entry = files[str(d)]
    text = (directory / entry["file"]).read_text(encoding="utf-8")
    if verify and _sha256(text) != entry["sha256"]:
        raise ValueError(f"load: {entry['file']} does not match the SHA-256 of index.json "
                         "(edited or partly written; regenerate the set)")
    return decode(json.loads(text))
