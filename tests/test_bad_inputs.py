"""Every public entry point refuses bad input with a ``ValueError`` that names the argument and
says what was expected, and changes nothing when it refuses.

Two halves:

* generated from :mod:`nfref.registry`: every transform of ``CASES`` (every method that takes
  points, both pullbacks, the VJP wrappers, ``set_params``) and every transformer of
  ``TRANSFORMERS``, so a new row joins the suite without an edit here;
* a table of the other public entry points (transform constructors, distributions, datasets,
  kl, destructors, optim, plotting, gradcheck, inverse_cdf, k_layers, one_layer modeling).

The bad inputs: non-finite values, complex numbers, strings, ``None``, ragged lists, object
arrays, wrong shapes (no batch axis, wrong dimension, an extra axis, an empty batch), and for
integer-like arguments every wrong kind (``None``, inf, NaN, 2.5, ``[2]``, ``True``, -1, a
string, a complex number). Each probe checks that the error is a ``ValueError``, that its
message names the argument and contains "expected", and that the arguments and the
parameters are unchanged afterwards (compared with copies taken before the call).
"""

import functools
import re

import numpy as np
import pytest

from nfref.registry import CASES, TRANSFORMERS, example

INT_BAD = [None, np.inf, np.nan, 2.5, [2], True, -1, "3", 1j]
REAL_BAD = [None, np.nan, np.inf, "0.1", 1j, [0.1], True]
SEED_BAD = [True, -1, 2.5, "seed", [0], np.nan]


# ---------------------------------------------------------------------------- the check
def _snapshot(obj):
    """Deep copies of the arrays inside ``obj`` (an array, a dict or list of them, or an
    object with ``params``)."""
    if hasattr(obj, "params") and isinstance(obj.params, dict):
        return _snapshot(obj.params)
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_snapshot(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and (np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
                     if a.dtype.kind != "O" else all(x is y for x, y in zip(a.ravel(), b.ravel()))))
    return True


def _names(msg, names):
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", msg)
               for n in names)


def refused(call, names, *watched):
    """``call()`` raises ``ValueError`` whose message names one of ``names`` and says what was
    expected; every object of ``watched`` is unchanged."""
    before = [_snapshot(w) for w in watched]
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "expected" in msg, f"the message does not say what was expected: {msg}"
    assert _names(msg, names), f"the message names none of {names}: {msg}"
    for w, b in zip(watched, before):
        assert _same(_snapshot(w), b), "a refused call changed its argument or parameters"


def refused_all(probes):
    """Run :func:`refused` on every ``(kind, call, names, watched)`` of ``probes`` and fail
    with the list of every kind that was not refused properly (not just the first)."""
    failures = []
    for kind, call, names, watched in probes:
        try:
            refused(call, names, *watched)
        except (AssertionError, pytest.fail.Exception) as exc:
            failures.append(f"{kind}: {str(exc).splitlines()[0]}")
        except Exception as exc:                              # the wrong exception type
            failures.append(f"{kind}: raised {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} of {len(probes)} probes failed:\n" + "\n".join(failures)


def _point_kinds(good):
    """Bad versions of the good batch ``good`` (n, d): (id, value)."""
    n, d = good.shape
    kinds = []
    for label, value in (("nan", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
        a = good.copy()
        a[n // 2, d - 1] = value
        kinds.append((label, a))
    kinds += [
        ("complex", good + 1j),
        ("complex-zero-imag", good.astype(complex)),
        ("strings", np.full((n, d), "a")),
        ("none", None),
        ("ragged", [list(good[0]), list(good[0]) + [0.5]]),
        ("object", np.array([{}] * n, dtype=object)),
        ("wrong-dim", np.concatenate([good, good[:, :1]], axis=1)),
        ("no-batch-axis", good[0].copy()),
        ("extra-axis", good[None].copy()),
        ("empty-batch", good[:0].copy()),
    ]
    return kinds


POINT_KINDS = [k for k, _ in _point_kinds(np.zeros((3, 2)))]


def _cotangent_kinds(shape):
    """Bad cotangents for an expected ``shape``: (id, value)."""
    ones = np.ones(shape)
    if len(shape) > 1 and shape[-1] > 1:
        wrong = ones[..., :-1]
    else:
        wrong = np.ones(shape[:-1] + (shape[-1] + 1,))
    kinds = []
    a = ones.copy()
    a.flat[0] = np.nan
    kinds += [("nan", a), ("complex", ones * (1 + 1j)), ("strings", np.full(shape, "a")),
              ("wrong-shape", wrong), ("extra-axis", ones[None].copy()),
              ("ragged", [[1.0], [1.0, 2.0]])]
    return kinds


COTANGENT_KINDS = [k for k, _ in _cotangent_kinds((3, 2))]


# ---------------------------------------------------------------------------- transforms
def _dim(case):
    return 2 if 2 in case.dims else case.dims[0]


@functools.lru_cache(maxsize=None)
def _transform(name):
    case = CASES[name]
    t, u = example(name, _dim(case), seed=3, n=4)
    x = t.forward(u)[0]
    return t, u, x


@functools.lru_cache(maxsize=None)
def _pullback(name, direction):
    """The pullback of one pass (a pullback may be called any number of times)."""
    t, u, x = _transform(name)
    return t.forward_and_vjp(u)[2] if direction == "forward" else t.inverse_and_vjp(x)[2]


POINT_METHODS = {            # method -> (argument name, which good batch, call)
    "forward": ("u", "u", lambda t, a, good: t.forward(a)),
    "inverse": ("x", "x", lambda t, a, good: t.inverse(a)),
    "jacobian": ("u", "u", lambda t, a, good: t.jacobian(a)),
    "inverse_jacobian": ("x", "x", lambda t, a, good: t.inverse_jacobian(a)),
    "forward_and_vjp": ("u", "u", lambda t, a, good: t.forward_and_vjp(a)),
    "inverse_and_vjp": ("x", "x", lambda t, a, good: t.inverse_and_vjp(a)),
    "forward_vjp": ("u", "u", lambda t, a, good: t.forward_vjp(a, np.ones_like(good),
                                                               np.ones(len(good)))),
    "inverse_vjp": ("x", "x", lambda t, a, good: t.inverse_vjp(a, np.ones_like(good),
                                                               np.ones(len(good)))),
}


@pytest.mark.parametrize("method", sorted(POINT_METHODS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_refuses_bad_points(name, method):
    t, u, x = _transform(name)
    arg, which, call = POINT_METHODS[method]
    good = u if which == "u" else x
    refused_all([(kind, functools.partial(call, t, bad, good), [arg], (t, bad, good))
                 for kind, bad in _point_kinds(good)])


@pytest.mark.parametrize("how", ["pullback", "vjp"])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_transform_refuses_bad_cotangents(name, direction, how):
    t, u, x = _transform(name)
    point = u if direction == "forward" else x
    n, d = point.shape
    value_name = "gx" if direction == "forward" else "gu"
    if how == "pullback":
        call = _pullback(name, direction)
    else:
        vjp = t.forward_vjp if direction == "forward" else t.inverse_vjp
        call = functools.partial(vjp, point)
    probes = []
    for slot, shape, arg in (("value", (n, d), value_name), ("logdet", (n,), "gl")):
        for kind, bad in _cotangent_kinds(shape):
            g = (bad, np.ones(n)) if slot == "value" else (np.ones((n, d)), bad)
            probes.append((f"{arg}:{kind}", functools.partial(call, *g), [arg], (t, bad, point)))
    refused_all(probes)


def _set_params_kinds(t):
    key = next(iter(t.params))
    p = t.params[key]
    bad_nan = p.copy()
    bad_nan.flat[0] = np.nan
    return key, [
        ("nan", {key: bad_nan}), ("complex", {key: p + 1j}),
        ("strings", {key: np.full(p.shape, "a")}), ("wrong-shape", {key: np.ones(p.size + 1)}),
        ("none", {key: None}), ("unknown-key", {"no such parameter": p.copy()}),
        ("not-a-dict", [p.copy()]),
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_set_params_refuses_and_writes_nothing(name):
    t, u, _ = _transform(name)
    if t.params:
        key, kinds = _set_params_kinds(t)
    else:                                       # permutations, fixed laws: no key is known
        key, kinds = "no such parameter", [("unknown-key", {"no such parameter": np.zeros(1)}),
                                           ("not-a-dict", [np.zeros(1)])]
    refused_all([(kind, functools.partial(t.set_params, bad), ["set_params", key, "params"],
                  (t, bad)) for kind, bad in kinds])
    # and the transform still works with its old parameters
    assert np.all(np.isfinite(t.forward(u)[0]))


# ---------------------------------------------------------------------------- transformers
@functools.lru_cache(maxsize=None)
def _transformer(name):
    tr = TRANSFORMERS[name].make()
    rng = np.random.default_rng(5)
    t = rng.standard_normal((3, 2))
    xi = tr.identity_xi(t.shape) + 0.1 * rng.standard_normal(t.shape + (tr.n_params,))
    y = tr.forward(t, xi)[0]
    return tr, t, xi, y


TRANSFORMER_METHODS = {       # method -> (first argument's name, which batch, call)
    "forward": ("t", "t", lambda tr, a, xi, good: tr.forward(a, xi)),
    "inverse": ("y", "y", lambda tr, a, xi, good: tr.inverse(a, xi)),
    "derivative": ("t", "t", lambda tr, a, xi, good: tr.derivative(a, xi)),
    "forward_and_vjp": ("t", "t", lambda tr, a, xi, good: tr.forward_and_vjp(a, xi)),
    "inverse_and_vjp": ("y", "y", lambda tr, a, xi, good: tr.inverse_and_vjp(a, xi)),
    "forward_vjp": ("t", "t", lambda tr, a, xi, good: tr.forward_vjp(
        a, xi, np.ones(good.shape), np.ones(good.shape))),
    "inverse_vjp": ("y", "y", lambda tr, a, xi, good: tr.inverse_vjp(
        a, xi, np.ones(good.shape), np.ones(good.shape))),
}


def _xi_kinds(xi):
    n, d, k = xi.shape
    kinds = []
    for label, value in (("nan", np.nan), ("inf", np.inf)):
        a = xi.copy()
        a[0, 0, 0] = value
        kinds.append((label, a))
    kinds += [("complex", xi + 1j), ("strings", np.full(xi.shape, "a")), ("none", None),
              ("wrong-k", np.concatenate([xi, xi[..., :1]], axis=2)),
              ("no-k-axis", xi[..., 0].copy()), ("ragged", [[[0.0] * k], [[0.0] * (k + 1)]])]
    return kinds


XI_KINDS = [k for k, _ in _xi_kinds(np.zeros((3, 2, 2)))]


@pytest.mark.parametrize("method", sorted(TRANSFORMER_METHODS))
@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformer_refuses_bad_points(name, method):
    tr, t, xi, y = _transformer(name)
    arg, which, call = TRANSFORMER_METHODS[method]
    good = t if which == "t" else y
    # with a wrong batch the message may name xi's shape instead (the pair disagrees)
    refused_all([(kind, functools.partial(call, tr, bad, xi, good), [arg, "xi"],
                  (bad, good, xi))
                 for kind, bad in _point_kinds(good)])


@pytest.mark.parametrize("method", sorted(TRANSFORMER_METHODS))
@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformer_refuses_bad_conditioner_outputs(name, method):
    tr, t, xi, y = _transformer(name)
    arg, which, call = TRANSFORMER_METHODS[method]
    good = t if which == "t" else y
    refused_all([(kind, functools.partial(call, tr, good, bad, good), ["xi"], (bad, good, xi))
                 for kind, bad in _xi_kinds(xi)])


@pytest.mark.parametrize("how", ["pullback", "vjp"])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_transformer_refuses_bad_cotangents(name, direction, how):
    tr, t, xi, y = _transformer(name)
    point = t if direction == "forward" else y
    if how == "pullback":
        run = tr.forward_and_vjp if direction == "forward" else tr.inverse_and_vjp
        call = run(point, xi)[2]
    else:
        vjp = tr.forward_vjp if direction == "forward" else tr.inverse_vjp
        call = functools.partial(vjp, point, xi)
    ones = np.ones(point.shape)
    value_name = "gy" if direction == "forward" else "gt"
    probes = []
    for slot, arg in (("value", value_name), ("logderiv", "gld")):
        for kind, bad in _cotangent_kinds(point.shape):
            g = (bad, ones) if slot == "value" else (ones, bad)
            probes.append((f"{arg}:{kind}", functools.partial(call, *g), [arg],
                           (bad, point, xi)))
    refused_all(probes)


# ---------------------------------------------------------------------------- the table
def _table():
    """``(id, call, names, watched)`` for every other public entry point."""
    from nfref import destructors, gradcheck, kl, optim, plotting
    from nfref.autoregressive import IAF, MAF, Coupling, Permute
    from nfref.autoregressive.transformers import (BoundedAffine, Inverted,
                                                   RationalQuadraticSpline, SumOfSquares, UMNN)
    from nfref.datasets import TOYS, TwoMoons, make_toy, sample_two_moons
    from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
    from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, banana
    from nfref.inverse_cdf.examples import example_gaussian, marginal_cdf, sample_direct
    from nfref.k_layers import Chain, log_likelihood_eq9
    from nfref.one_layer import (Planar, Radial, fit_backward_gaussian, gaussian_mle,
                                 log_likelihood_eq7, log_likelihood_eq8,
                                 mean_log_likelihood_and_grad)
    from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
    from nfref.transform import flatten_params, unflatten_params

    rows = []

    def add(ident, call, names, *watched):
        rows.append(pytest.param(call, names, watched, id=ident))

    good2 = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    cube2 = np.array([[0.3, 0.2], [0.1, 0.4], [0.5, 0.7]])

    # --- integer-like arguments of every wrong kind
    ints = {
        "StandardNormal(dim)": (lambda v: StandardNormal(v), ["dim"], 0),
        "UniformCube(dim)": (lambda v: UniformCube(v), ["dim"], 0),
        "StandardNormal.rvs(size)": (lambda v: StandardNormal(2).rvs(v, 0), ["size"], 0),
        "DiagonalNormal.rvs(size)": (lambda v: DiagonalNormal([0.0], [0.0]).rvs(v, 0),
                                     ["size"], 0),
        "Flow.rvs(size)": (lambda v: Flow(StandardNormal(2), ElementwiseAffine.random(2, 0))
                           .rvs(v, 0), ["size"], 0),
        "Toy.entropy(n)": (lambda v: TwoMoons().entropy(n=v), ["n"], 0),
        "TwoMoons(n_nodes)": (lambda v: TwoMoons(n_nodes=v), ["n_nodes"], 0),
        "sample_two_moons(n)": (lambda v: sample_two_moons(v, 0), ["n"], 0),
        "kl.reverse_kl_and_grad(n)": (
            lambda v: kl.reverse_kl_and_grad(Flow(StandardNormal(1), ElementwiseAffine([0.], [0.])),
                                             lambda x: np.zeros(len(x)), lambda x: 0 * x, v, 0),
            ["n"], 0),
        "kl.elbo(n)": (lambda v: kl.elbo(Flow(StandardNormal(1), ElementwiseAffine([0.], [0.])),
                                         lambda x: np.zeros(len(x)), n=v, random_state=0),
                       ["n"], 0),
        "MarginalGaussianization.fit(max_centers)": (
            lambda v: destructors.MarginalGaussianization.fit(good2, max_centers=v),
            ["max_centers"], 0),
        "fit_rbig(n_rounds)": (lambda v: destructors.fit_rbig(good2, n_rounds=v),
                               ["n_rounds"], 0),
        "fit_rbig(max_centers)": (lambda v: destructors.fit_rbig(good2, max_centers=v),
                                  ["max_centers"], 0),
        "optim.fit(n_steps)": (lambda v: optim.fit(lambda: (0.0, {"a": np.zeros(1)}),
                                                   {"a": np.zeros(1)}, n_steps=v, verbose=False),
                               ["n_steps"], None),
        "optim.fit(print_every)": (lambda v: optim.fit(lambda: (0.0, {"a": np.zeros(1)}),
                                                       {"a": np.zeros(1)}, n_steps=2,
                                                       print_every=v, verbose=False),
                                   ["print_every"], 0),
        "optim.fit_lbfgs(maxiter)": (lambda v: optim.fit_lbfgs(
            lambda: (0.0, {"a": np.zeros(1)}), {"a": np.zeros(1)}, maxiter=v, verbose=False),
            ["maxiter"], 0),
        "plotting.density_grid(grid)": (lambda v: plotting.density_grid(
            StandardNormal(2).logpdf, grid=v), ["grid"], 1),
        "plotting.plot_layers(ks)": (lambda v: plotting.plot_layers(
            Flow(StandardNormal(2), Chain([ElementwiseAffine.random(2, 0)])), ks=[v], grid=5,
            n_samples=10), ["ks"], 2),
        "plotting.plot_layers(n_samples)": (lambda v: plotting.plot_layers(
            Flow(StandardNormal(2), Chain([ElementwiseAffine.random(2, 0)])), n_samples=v,
            grid=5), ["n_samples"], 0),
        "plotting.plot_warped_grid(n_lines)": (lambda v: plotting.plot_warped_grid(
            ElementwiseAffine.random(2, 0), n_lines=v), ["n_lines"], 1),
        "plotting.plot_density(levels)": (lambda v: plotting.plot_density(
            StandardNormal(2).logpdf, kind="contour", levels=v, grid=5), ["levels"], 0),
        "gradcheck.check_gradient(n_directions)": (lambda v: gradcheck.check_gradient(
            lambda a: float(a @ a), np.zeros(2), np.zeros(2), n_directions=v), ["n_directions"], 0),
        "gradcheck.integrate_density(n_grid)": (lambda v: gradcheck.integrate_density(
            lambda x: np.zeros(len(x)), 0.0, 1.0, n_grid=v), ["n_grid"], 1),
        "gradcheck.check_normalization(dim)": (lambda v: gradcheck.check_normalization(
            lambda x: np.zeros(len(x)), lambda u: u, dim=v), ["dim"], 0),
        "GaussianCDF.rvs(size)": (lambda v: GaussianCDF.random(2, 0).rvs(v, 0), ["size"], 0),
        "banana(dim)": (lambda v: banana(dim=v), ["dim"], 0),
        "example_gaussian(dim)": (lambda v: example_gaussian(v), ["dim"], 1),
        "sample_direct(size)": (lambda v: sample_direct(example_gaussian(2), v, 0), ["size"], 0),
        "marginal_cdf(j)": (lambda v: marginal_cdf(example_gaussian(2), v), ["j"], None),
        "GaussianMixtureCDF.random(n_components)": (
            lambda v: GaussianMixtureCDF.random(2, 0, n_components=v), ["n_components"], 0),
        "fit_backward_gaussian(n_steps)": (lambda v: fit_backward_gaussian(
            good2, method="adam", n_steps=v), ["n_steps"], 0),
        # transform modules' constructors
        **{f"{cls.__name__}.random(dim)": (lambda v, cls=cls: cls.random(v, 0), ["dim"], 0)
           for cls in (ElementwiseAffine, PLULinear, Linear, Planar, Radial, Permute,
                       destructors.MarginalGaussianization, GaussianCDF, GaussianMixtureCDF)},
        **{f"{cls.__name__}(dim)": (lambda v, cls=cls: cls(v), ["dim"], 0)
           for cls in (MAF, IAF, Coupling)},
        **{f"{cls.__name__}(hidden_sizes)": (lambda v, cls=cls: cls(2, hidden_sizes=(v,)),
                                             ["hidden_sizes", "hidden"], 0)
           for cls in (MAF, IAF, Coupling)},
        "RationalQuadraticSpline(n_bins)": (lambda v: RationalQuadraticSpline(v), ["n_bins"], 0),
        "UMNN(n_hidden)": (lambda v: UMNN(n_hidden=v), ["n_hidden"], 0),
        "UMNN(n_intervals)": (lambda v: UMNN(n_intervals=v), ["n_intervals"], 1),
        "SumOfSquares(n_squares)": (lambda v: SumOfSquares(n_squares=v), ["n_squares"], 0),
        "SumOfSquares(degree)": (lambda v: SumOfSquares(degree=v), ["degree"], None),
    }
    none_is_default = {"TwoMoons(n_nodes)", "optim.fit(print_every)",
                       "gradcheck.integrate_density(n_grid)"}
    for ident, (make, names, extra) in ints.items():
        kinds = [v for v in INT_BAD if not (v is None and ident in none_is_default)]
        kinds += [] if extra is None else [extra]
        for v in kinds:
            add(f"int:{ident}={v!r}", functools.partial(make, v), names)

    # --- real-valued settings
    reals = {
        "Adam(lr)": (lambda v: optim.Adam(lr=v), ["lr"], [0.0, -1.0]),
        "Adam(eps)": (lambda v: optim.Adam(eps=v), ["eps"], [0.0]),
        "Adam(betas[0])": (lambda v: optim.Adam(betas=(v, 0.9)), ["betas[0]", "betas"], [1.0]),
        "Adam(betas[1])": (lambda v: optim.Adam(betas=(0.9, v)), ["betas[1]", "betas"], [1.0]),
        "GradientDescent(lr)": (lambda v: optim.GradientDescent(lr=v), ["lr"], [0.0]),
        "fit_lbfgs(tol)": (lambda v: optim.fit_lbfgs(lambda: (0.0, {"a": np.zeros(1)}),
                                                     {"a": np.zeros(1)}, tol=v, verbose=False),
                           ["tol"], [-1.0]),
        "check_gradient(h)": (lambda v: gradcheck.check_gradient(
            lambda a: float(a @ a), np.zeros(2), np.zeros(2), h=v), ["h"], [0.0, -1e-4]),
        "check_gradient(bound)": (lambda v: gradcheck.check_gradient(
            lambda a: float(a @ a), np.zeros(2), np.zeros(2), bound=v), ["bound"], [-1.0]),
        "numerical_gradient(h)": (lambda v: gradcheck.numerical_gradient(
            lambda a: float(a @ a), np.zeros(2), h=v), ["h"], [0.0]),
        "relative_error(floor)": (lambda v: gradcheck.relative_error(
            np.ones(2), np.ones(2), floor=v), ["floor"], [0.0]),
        "TwoMoons(noise)": (lambda v: TwoMoons(noise=v), ["noise"], [0.0, 1e-7]),
        "MarginalGaussianization.fit(defensive)": (
            lambda v: destructors.MarginalGaussianization.fit(good2, defensive=v),
            ["defensive"], [0.0, 1.0]),
        "banana(s)": (lambda v: banana(s=v), ["s"], [0.0]),
        "plot_training_curve(entropy)": (lambda v: plotting.plot_training_curve(
            [1.0, 0.5], entropy=v), ["entropy"], []),
        "fit_backward_gaussian(lr)": (lambda v: fit_backward_gaussian(
            good2, method="adam", lr=v), ["lr"], [0.0]),
        "BoundedAffine(scale_bound)": (lambda v: BoundedAffine(v), ["scale_bound"], [0.0]),
        "RationalQuadraticSpline(bound)": (lambda v: RationalQuadraticSpline(4, v), ["bound"],
                                           [0.0]),
        "SumOfSquares(scale)": (lambda v: SumOfSquares(scale=v), ["scale"], [0.0]),
    }
    for toy in sorted(TOYS):
        if toy in ("banana",):
            reals[f"{toy}(a)"] = (lambda v, toy=toy: make_toy(toy, a=v), ["a"], [0.0])
        if toy in ("funnel",):
            reals[f"{toy}(scale)"] = (lambda v, toy=toy: make_toy(toy, scale=v), ["scale"], [0.0])
    for ident, (make, names, extra) in reals.items():
        optional = ident == "plot_training_curve(entropy)"        # None: no entropy line
        for v in [x for x in REAL_BAD if not (optional and x is None)] + extra:
            add(f"real:{ident}={v!r}", functools.partial(make, v), names)

    # --- random_state
    seeds = {
        "StandardNormal.rvs": lambda s: StandardNormal(2).rvs(2, s),
        "Toy.rvs": lambda s: TwoMoons().rvs(2, s),
        "reverse_kl_and_grad": lambda s: kl.reverse_kl_and_grad(
            Flow(StandardNormal(1), ElementwiseAffine([0.], [0.])), lambda x: np.zeros(len(x)),
            lambda x: 0 * x, 4, s),
        "fit_rbig": lambda s: destructors.fit_rbig(good2, n_rounds=1, random_state=s),
        "check_gradient": lambda s: gradcheck.check_gradient(
            lambda a: float(a @ a), np.zeros(2), np.zeros(2), random_state=s),
        "GaussianCDF.rvs": lambda s: GaussianCDF.random(2, 0).rvs(2, s),
        **{f"{cls.__name__}.random": (lambda s, cls=cls: cls.random(2, s))
           for cls in (ElementwiseAffine, PLULinear, Planar, Radial, Permute)},
    }
    for ident, make in seeds.items():
        for s in SEED_BAD:
            add(f"seed:{ident}={s!r}", functools.partial(make, s), ["random_state"])

    # --- choices (strings that are not options, and things that are not strings)
    choices = {
        "check_gradient(mode)": (lambda v: gradcheck.check_gradient(
            lambda a: float(a @ a), np.zeros(2), np.zeros(2), mode=v), ["mode"]),
        "check_vjp(direction)": (lambda v: gradcheck.check_vjp(
            ElementwiseAffine.random(2, 0), good2, direction=v), ["direction"]),
        "check_vjp(mode)": (lambda v: gradcheck.check_vjp(
            ElementwiseAffine.random(2, 0), good2, mode=v), ["mode"]),
        "check_normalization(base)": (lambda v: gradcheck.check_normalization(
            lambda x: np.zeros(len(x)), lambda u: u, base=v), ["base"]),
        "fit_rbig(rotation)": (lambda v: destructors.fit_rbig(good2, rotation=v), ["rotation"]),
        "plot_density(kind)": (lambda v: plotting.plot_density(
            StandardNormal(2).logpdf, kind=v, grid=5), ["kind"]),
        "plot_warped_grid(direction)": (lambda v: plotting.plot_warped_grid(
            ElementwiseAffine.random(2, 0), direction=v), ["direction"]),
        "fit_backward_gaussian(method)": (lambda v: fit_backward_gaussian(good2, method=v),
                                          ["method"]),
        "make_toy(name)": (lambda v: make_toy(v), ["make_toy", "name"]),
        "MAF(order)": (lambda v: MAF(2, order=v), ["order"]),
        "MAF(activation)": (lambda v: MAF(2, activation=v), ["activation"]),
    }
    for ident, (make, names) in choices.items():
        for v in ["bogus", None, 1, ["pca"]]:
            add(f"choice:{ident}={v!r}", functools.partial(make, v), names)

    # --- data arrays: the points of every non-transform entry point
    flow = Flow(StandardNormal(2), ElementwiseAffine.random(2, 0))
    cube_flow = Flow(UniformCube(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    chain = Chain([ElementwiseAffine.random(2, 0), PLULinear.random(2, 1)])
    gcdf = GaussianCDF.random(2, 0)
    bases = {"StandardNormal": StandardNormal(2), "UniformCube": UniformCube(2),
             "DiagonalNormal": DiagonalNormal([0.1, -0.2], [0.3, 0.1])}
    points = {}
    for bname, base in bases.items():
        points[f"{bname}.logpdf"] = (functools.partial(base.logpdf), ["x"], good2, base)
        points[f"{bname}.pdf"] = (functools.partial(base.pdf), ["x"], good2, base)
        points[f"{bname}.logpdf_vjp(x)"] = (
            lambda a, base=base: base.logpdf_vjp(a, np.ones(3)), ["x"], cube2, base)
    points.update({
        "Flow.logpdf": (flow.logpdf, ["x"], good2, flow.transform),
        "Flow.pdf": (flow.pdf, ["x"], good2, flow.transform),
        "Flow.nll_and_grad": (flow.nll_and_grad, ["x"], good2, flow.transform),
        "forward_kl(x)": (lambda a: kl.forward_kl(flow, a, lambda v: np.zeros(len(v))), ["x"],
                          good2, flow.transform),
        "MarginalGaussianization.fit(x)": (destructors.MarginalGaussianization.fit, ["x"],
                                           good2, None),
        "fit_rbig(x)": (destructors.fit_rbig, ["x"], good2, None),
        "plot_samples(x)": (plotting.plot_samples, ["x"], good2, None),
        "Chain.forward_pass": (chain.forward_pass, ["u"], good2, chain),
        "Chain.inverse_pass": (chain.inverse_pass, ["x"], good2, chain),
        "Chain.eq9_terms": (chain.eq9_terms, ["x"], good2, chain),
        "log_likelihood_eq9": (lambda a: log_likelihood_eq9(StandardNormal(2), chain, a),
                               ["x"], good2, chain),
        "log_likelihood_eq7": (lambda a: log_likelihood_eq7(StandardNormal(2), chain, a),
                               ["x"], good2, chain),
        "log_likelihood_eq8": (lambda a: log_likelihood_eq8(StandardNormal(2), chain, a),
                               ["x"], good2, chain),
        "mean_log_likelihood_and_grad": (
            lambda a: mean_log_likelihood_and_grad(StandardNormal(2), chain, a), ["x"], good2,
            chain),
        "gaussian_mle": (gaussian_mle, ["x"], good2, None),
        "fit_backward_gaussian(x)": (fit_backward_gaussian, ["x"], good2, None),
        "GaussianCDF.partial_cdf": (gcdf.partial_cdf, ["x"], good2, gcdf),
        "GaussianCDF.partial_cdf_pair": (gcdf.partial_cdf_pair, ["z"], good2, gcdf),
        "GaussianCDF.quantile": (gcdf.quantile, ["u"], cube2, gcdf),
        "GaussianCDF.logpdf": (gcdf.logpdf, ["x"], good2, gcdf),
        "GaussianCDF.grad_logpdf": (gcdf.grad_logpdf, ["z"], good2, gcdf),
        "GaussianCDF.partial_cdf_jacobian": (gcdf.partial_cdf_jacobian, ["z"], good2, gcdf),
        "GaussianCDF.log_partial_cdf": (gcdf.log_partial_cdf, ["z"], good2, gcdf),
        "GaussianCDF.conditional": (gcdf.conditional, ["z"], good2, gcdf),
        "GaussianCDF.conditional_schur": (gcdf.conditional_schur, ["z"], good2, gcdf),
    })
    for toy in sorted(TOYS):
        obj = make_toy(toy)
        if obj.has_logpdf:
            points[f"{toy}.logpdf"] = (obj.logpdf, ["x"], good2, None)
    for ident, (call, names, good, owner) in points.items():
        for kind, bad in _point_kinds(good):
            if ident.startswith(("MarginalGaussianization.fit", "fit_rbig", "gaussian_mle",
                                 "fit_backward_gaussian")) and kind == "wrong-dim":
                continue                      # these learn d from the data: any d >= 1 is fine
            add(f"points:{ident}:{kind}", functools.partial(call, bad), names, bad,
                *([owner] if owner is not None else []))

    # --- cotangents and gradients
    for bname, base in bases.items():
        for kind, bad in _cotangent_kinds((3,)):
            add(f"cotangent:{bname}.logpdf_vjp(g):{kind}",
                functools.partial(base.logpdf_vjp, cube2, bad), ["g"], bad, base)
    for kind, bad in [("missing", {}), ("wrong-shape", {"a": np.zeros(3)}),
                      ("nan", {"a": np.array([np.nan, 0.0])}), ("complex", {"a": np.ones(2) * 1j}),
                      ("strings", {"a": np.array(["a", "b"])}), ("not-a-dict", [np.zeros(2)])]:
        for opt in ("Adam", "GradientDescent"):
            p = {"a": np.zeros(2)}
            add(f"grads:{opt}.step:{kind}",
                functools.partial(lambda o, p, g: getattr(optim, o)().step(p, g), opt, p, bad),
                ["grads", "gradient", "a"], p)
        p = {"a": np.zeros(2)}
        add(f"grads:fit:{kind}",
            functools.partial(lambda p, g: optim.fit(lambda: (0.0, g), p, n_steps=2,
                                                     verbose=False), p, bad),
            ["grads", "gradient", "a"], p)
        p = {"a": np.zeros(2)}
        add(f"grads:fit_lbfgs:{kind}",
            functools.partial(lambda p, g: optim.fit_lbfgs(lambda: (0.0, g), p, verbose=False),
                              p, bad), ["grads", "gradient", "a"], p)
    for kind, loss in [("nan", np.nan), ("inf", np.inf), ("string", "0.5"), ("complex", 1j),
                       ("vector", np.zeros(2)), ("none", None)]:
        p = {"a": np.zeros(2)}
        add(f"loss:fit:{kind}", functools.partial(
            lambda p, v: optim.fit(lambda: (v, {"a": np.zeros(2)}), p, n_steps=2,
                                   verbose=False), p, loss), ["loss"], p)

    # --- constructor arrays (complex, strings, NaN, mismatched shapes)
    def arrays(ident, make, name, good):
        good = np.asarray(good, dtype=float)
        nan = good.copy()
        nan.flat[0] = np.nan
        for kind, bad in [("complex", good + 1j), ("strings", np.full(good.shape, "a")),
                          ("nan", nan), ("none", None), ("extra-axis", good[None, None])]:
            add(f"array:{ident}({name}):{kind}", functools.partial(make, bad), [name], bad)

    arrays("ElementwiseAffine", lambda a: ElementwiseAffine(a, [0.0, 0.0]), "shift", [0., 1.])
    arrays("ElementwiseAffine", lambda a: ElementwiseAffine([0.0, 0.0], a), "log_scale", [0., 1.])
    arrays("Linear", lambda a: Linear(a, [0.0, 0.0]), "weight", np.eye(2))
    arrays("Linear", lambda a: Linear(np.eye(2), a), "bias", [0.0, 0.0])
    arrays("PLULinear", lambda a: PLULinear(a, np.zeros((2, 2)), [0.0, 0.0], [0.0, 0.0]),
           "lower", np.zeros((2, 2)))
    arrays("PLULinear", lambda a: PLULinear(np.zeros((2, 2)), np.zeros((2, 2)), a, [0.0, 0.0]),
           "log_diag", [0.0, 0.0])
    arrays("Planar", lambda a: Planar(a, [0.5, 0.5], [0.0]), "w", [1.0, 0.0])
    arrays("Planar", lambda a: Planar([1.0, 0.0], [0.5, 0.5], a), "b", [0.0])
    arrays("Radial", lambda a: Radial(a, [0.0], [0.0]), "z0", [0.0, 0.0])
    arrays("Radial", lambda a: Radial([0.0, 0.0], a, [0.0]), "alpha_raw", [0.0])
    arrays("Permute", lambda a: Permute(a), "perm", [1, 0])
    arrays("DiagonalNormal", lambda a: DiagonalNormal(a, [0.0, 0.0]), "loc", [0.0, 0.0])
    arrays("DiagonalNormal", lambda a: DiagonalNormal([0.0, 0.0], a), "log_scale", [0.0, 0.0])
    arrays("GaussianCDF", lambda a: GaussianCDF(a, np.zeros((2, 2))), "mean", [0.0, 0.0])
    arrays("GaussianCDF", lambda a: GaussianCDF([0.0, 0.0], a), "chol_raw", np.zeros((2, 2)))
    arrays("GaussianCDF.from_mean_cov", lambda a: GaussianCDF.from_mean_cov([0.0, 0.0], a),
           "cov", np.eye(2))
    arrays("GaussianMixtureCDF", lambda a: GaussianMixtureCDF([1.0], a, np.eye(2)[None]),
           "means", [[0.0, 0.0]])
    arrays("MarginalGaussianization",
           lambda a: destructors.MarginalGaussianization(a, [1.0]), "centers", [[0.0, 1.0]])
    arrays("MarginalGaussianization",
           lambda a: destructors.MarginalGaussianization([[0.0, 1.0]], a), "bandwidth", [1.0])
    arrays("gaussian_kl", lambda a: kl.gaussian_kl(a, np.eye(2), [0.0, 0.0], np.eye(2)), "m0",
           [0.0, 0.0])
    arrays("gaussian_kl", lambda a: kl.gaussian_kl([0.0, 0.0], np.eye(2), [0.0, 0.0], a), "S1",
           np.eye(2))
    arrays("GaussianMixture", lambda a: make_toy("gaussian_mixture", means=a,
                                                 covs=[np.eye(2)]), "means", [[0.0, 0.0]])
    arrays("Rings", lambda a: make_toy("rings", radii=a), "radii", [1.0, 2.0])
    arrays("integrate_density", lambda a: gradcheck.integrate_density(
        lambda x: np.zeros(len(x)), a, [1.0]), "lo", [0.0])
    arrays("density_grid", lambda a: plotting.density_grid(StandardNormal(2).logpdf, bounds=a,
                                                           grid=3), "bounds", [[-1, 1], [-1, 1]])
    arrays("plot_training_curve", lambda a: plotting.plot_training_curve(a), "history",
           [1.0, 0.5, 0.2])
    arrays("unflatten_params", lambda a: unflatten_params(a, {"a": np.zeros(2)}), "vector",
           [0.0, 0.0])
    for kind, bad in [("complex", np.ones(2) * 1j), ("strings", np.array(["a", "b"])),
                      ("none", None)]:
        add(f"array:flatten_params:{kind}", functools.partial(flatten_params, {"a": bad}),
            ["a"], bad)
    add("type:flatten_params", lambda: flatten_params([np.zeros(2)]), ["flatten_params"])
    add("type:unflatten_params(like)", lambda: unflatten_params(np.zeros(2), [np.zeros(2)]),
        ["like"])

    # --- things that are not what was expected
    add("type:Flow(base)", lambda: Flow("normal", ElementwiseAffine([0.], [0.])), ["base"])
    add("type:Flow(transform)", lambda: Flow(StandardNormal(1), "affine"), ["transform"])
    add("type:Chain(layers)", lambda: Chain("abc"), ["Chain", "layer"])
    add("type:forward_kl(flow)", lambda: kl.forward_kl("flow", good2, lambda v: v[:, 0]),
        ["flow"])
    add("type:forward_kl(target)", lambda: kl.forward_kl(flow, good2, 3.0), ["target_logpdf"])
    add("type:fit(objective)", lambda: optim.fit(None, {"a": np.zeros(1)}), ["objective"])
    add("type:fit(params)", lambda: optim.fit(lambda: (0.0, {}), [np.zeros(1)]), ["params", "fit"])
    add("type:fit(optimizer)", lambda: optim.fit(lambda: (0.0, {}), {}, optimizer="adam"),
        ["optimizer"])
    add("type:density_grid(logpdf)", lambda: plotting.density_grid(None), ["logpdf"])
    add("type:plot_layers(base)", lambda: plotting.plot_layers(chain, base="normal"), ["base"])
    add("type:elbo(sign)", lambda: kl.elbo(flow, lambda z: np.zeros(len(z)), n=4,
                                           random_state=0, sign=True), ["sign"])
    add("type:Inverted(inner)", lambda: Inverted("spline"), ["Inverted", "inner", "Transformer"])
    add("type:MAF(transformer)", lambda: MAF(2, transformer="affine"), ["transformer", "MAF"])
    add("type:mean_log_likelihood_and_grad(base)",
        lambda: mean_log_likelihood_and_grad("normal", chain, good2), ["base"])
    add("value:integrate_density(lo > hi)", lambda: gradcheck.integrate_density(
        lambda x: np.zeros(len(x)), 1.0, -1.0), ["lo", "hi"])
    add("value:TwoMoons(noise=1e-7)", lambda: TwoMoons(noise=1e-7), ["noise"])
    add("value:DiagonalNormal(log_scale=-800)", lambda: DiagonalNormal([0.0], [-800.0]),
        ["log_scale"])
    add("value:DiagonalNormal(log_scale=800)", lambda: DiagonalNormal([0.0], [800.0]),
        ["log_scale"])
    add("value:Toy.entropy(n=1)", lambda: TwoMoons().entropy(n=1), ["n"])
    add("value:forward_kl(off support)", lambda: kl.forward_kl(
        cube_flow, [[0.5, 0.5], [2.0, 0.5]], lambda v: np.zeros(len(v))), ["forward_kl"])
    add("value:nll_and_grad(off support)", lambda: cube_flow.nll_and_grad(
        [[0.5, 0.5], [2.0, 0.5]]), ["nll_and_grad"])
    return rows


TABLE = _table()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.parametrize("call, names, watched", TABLE)
def test_entry_point_refuses(call, names, watched):
    refused(call, names, *watched)


def test_suite_size():
    """The suite covers every registry row and the table (a change in size is visible)."""
    assert len(TABLE) > 900
    assert len(CASES) >= 40 and len(TRANSFORMERS) >= 8
