"""Chain of K layers (notes 000 sec. 3): order, shared parameters, eq. (9), backpropagation."""

import numpy as np
import pytest

from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.gradcheck import check_gradient
from nfref.k_layers import Chain, log_likelihood_eq9
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.optim import Adam


def _layers(d, K, rng):
    kinds = (ElementwiseAffine, PLULinear, Linear)
    return [kinds[k % 3].random(d, rng) for k in range(K)]


def test_sampling_order_layer_one_acts_first(rng):
    layers = _layers(3, 3, rng)
    chain = Chain(layers)
    u = rng.standard_normal((20, 3))
    y = u
    for layer in layers:                       # Y_k = phi_k(Y_{k-1})
        y = layer.forward(y)[0]
    np.testing.assert_allclose(chain.forward(u)[0], y, rtol=1e-13, atol=1e-13)
    # eq. (6) as printed, phi_1(phi_2(phi_3(u))), is a different map for these layers
    z = u
    for layer in reversed(layers):
        z = layer.forward(z)[0]
    assert np.max(np.abs(z - y)) > 1e-2


def test_params_share_the_layers_arrays(rng):
    layers = _layers(2, 3, rng)
    chain = Chain(layers)
    assert list(chain.params)[:2] == ["0.shift", "0.log_scale"]
    assert all(np.shares_memory(chain.params[f"{k}.{name}"], arr)
               for k, layer in enumerate(layers) for name, arr in layer.params.items())
    before = layers[1].params["bias"].copy()
    grads = {k: np.ones_like(v) for k, v in chain.params.items()}
    Adam(lr=0.1).step(chain.params, grads)
    assert np.allclose(layers[1].params["bias"], before - 0.1)
    outer = Chain([chain, ElementwiseAffine.random(2, rng)])
    assert np.shares_memory(outer.params["0.1.bias"], layers[1].params["bias"])


def test_slice_is_a_chain_of_the_same_layers(rng):
    chain = Chain(_layers(2, 4, rng))
    head = chain[:2]
    assert isinstance(head, Chain) and len(head) == 2 and head[1] is chain[1]
    u = rng.standard_normal((5, 2))
    np.testing.assert_allclose(chain[2:].forward(head.forward(u)[0])[0], chain.forward(u)[0],
                               rtol=1e-13, atol=1e-13)


def test_bad_construction_is_refused(rng):
    with pytest.raises(ValueError, match="at least one layer"):
        Chain([])
    with pytest.raises(ValueError, match="sequence of Transforms"):
        Chain(ElementwiseAffine.random(2, rng))
    with pytest.raises(ValueError, match="sequence of Transforms"):
        Chain(None)
    with pytest.raises(ValueError, match="same dimension"):
        Chain([ElementwiseAffine.random(2, rng), ElementwiseAffine.random(3, rng)])
    with pytest.raises(ValueError, match="expected a Transform"):
        Chain([ElementwiseAffine.random(2, rng), np.eye(2)])
    layer = ElementwiseAffine.random(2, rng)
    with pytest.raises(ValueError, match="appear once"):
        Chain([layer, layer])


@pytest.mark.filterwarnings("ignore:overflow")
def test_overflow_inside_the_chain_names_the_layer():
    big = ElementwiseAffine([0.0], [400.0])
    chain = Chain([big, ElementwiseAffine([0.0], [400.0]), ElementwiseAffine([0.0], [400.0])])
    with pytest.raises(ValueError, match="non-finite values at layer 1"):
        chain.forward(np.array([[1.0]]))


def test_eq9_equals_the_flow_logpdf(rng):
    d = 3
    chain = Chain(_layers(d, 6, rng))
    base = DiagonalNormal(rng.normal(size=d), 0.3 * rng.normal(size=d))
    flow = Flow(base, chain)
    x = flow.rvs(200, random_state=1)
    loglik, ys, terms = log_likelihood_eq9(base, chain, x)
    assert len(ys) == 7 and terms.shape == (6, 200)
    np.testing.assert_array_equal(ys[-1], x)
    assert np.max(np.abs(loglik - flow.logpdf(x))) <= 1e-10
    # the Y_k of the inverse pass are the sampling procedure's Y_k
    fwd, _ = chain.forward_pass(ys[0])
    assert max(np.max(np.abs(a - b)) for a, b in zip(fwd, ys)) <= 1e-10


def test_eq9_term_k_depends_only_on_theta_k_to_K(rng):
    d, K = 2, 5
    # non-linear dependence on Y needs a Jacobian that varies with Y: linear layers have
    # constant log-determinants, so the check perturbs the shifts/biases through Y_{k-1}
    # and the log-scales through the term itself.
    chain = Chain(_layers(d, K, rng))
    x = rng.standard_normal((30, d))
    ys0, t0 = chain.eq9_terms(x)
    for j in range(K):
        for name, arr in chain.layers[j].params.items():
            saved = arr.copy()
            arr += 0.1 * rng.standard_normal(arr.shape)
            ys1, t1 = chain.eq9_terms(x)
            arr[...] = saved
            for k in range(K):                 # term k + 1 uses Y_k = ys[k]
                if j < k:
                    assert np.max(np.abs(t1[k] - t0[k])) == 0.0
                    assert np.max(np.abs(ys1[k] - ys0[k])) == 0.0


@pytest.mark.parametrize("K", [1, 4, 16])
def test_nll_gradient_through_K_layers(rng, K):
    d = 2
    chain = Chain(_layers(d, K, rng))
    flow = Flow(DiagonalNormal(rng.normal(size=d), 0.2 * rng.normal(size=d)), chain)
    x = flow.rvs(20, random_state=2) + 0.1 * rng.standard_normal((20, d))
    _, grads = flow.nll_and_grad(x)
    params = flow.params
    assert set(grads) == {"base.loc", "base.log_scale"} | {f"transform.{k}" for k in chain.params}

    def loss(p):
        saved = {k: v.copy() for k, v in params.items()}
        for k, v in p.items():
            params[k][...] = v
        try:
            return -float(np.mean(flow.logpdf(x)))
        finally:
            for k, v in saved.items():
                params[k][...] = v
    res = check_gradient(loss, grads, {k: v.copy() for k, v in params.items()}, bound=1e-6)
    assert res.passed, str(res)


def test_vjp_runs_each_layer_pass_and_pullback_once(rng):
    calls = []

    class Counting(ElementwiseAffine):
        def _forward_and_vjp(self, u):
            x, ld, back = super()._forward_and_vjp(u)
            calls.append("pass")
            return x, ld, lambda gx, gl: (calls.append("vjp"), back(gx, gl))[1]

        def _inverse_and_vjp(self, x):
            u, ld, back = super()._inverse_and_vjp(x)
            calls.append("ipass")
            return u, ld, lambda gu, gl: (calls.append("ivjp"), back(gu, gl))[1]

    chain = Chain([Counting.random(2, rng) for _ in range(8)])
    u = rng.standard_normal((10, 2))
    chain.forward_vjp(u, np.ones((10, 2)), np.ones(10))
    assert calls.count("pass") == 8 and calls.count("vjp") == 8
    chain.inverse_vjp(u, np.ones((10, 2)), np.ones(10))
    assert calls.count("ipass") == 8 and calls.count("ivjp") == 8
    assert len(calls) == 32


def test_change_of_variables_along_both_passes(rng):
    chain = Chain(_layers(2, 3, rng))
    flow = Flow(StandardNormal(2), chain)
    x = flow.rvs(20000, random_state=3)
    # -log p_X(phi(u)) = -log p_U(u) + log|det J_phi(u)|, per point: the left side goes
    # through the inverse pass, the right side through the forward pass
    u = StandardNormal(2).rvs(20000, random_state=3)
    _, ld = chain.forward(u)
    lhs = -flow.logpdf(x)
    rhs = -StandardNormal(2).logpdf(u) + ld
    assert np.max(np.abs(lhs - rhs)) <= 1e-10


def test_nll_and_grad_runs_each_layer_inverse_once(rng):
    """One training step is one inverse pass per layer: each layer's ``_inverse_and_vjp``
    runs once, no other inverse runs, and the gradient is the finite-difference one."""
    from nfref.gradcheck import check_param_gradient
    from nfref.one_layer import Planar, Radial

    layers = [Planar.random(2, rng, scale=0.5), Radial.random(2, rng),
              PLULinear.random(2, rng), Planar.random(2, rng, scale=0.5)]
    calls = []
    for k, layer in enumerate(layers):
        for hook in ("_inverse_and_vjp", "_inverse", "_solve_inverse"):
            def counted(*args, _f=getattr(layer, hook), _k=k, _hook=hook):
                calls.append((_k, _hook))
                return _f(*args)
            setattr(layer, hook, counted)
    flow = Flow(DiagonalNormal(rng.normal(size=2), 0.2 * rng.normal(size=2)), Chain(layers))
    x = flow.rvs(50, random_state=4)
    calls.clear()
    loss, grads = flow.nll_and_grad(x)
    passes = [c for c in calls if c[1] == "_inverse_and_vjp"]
    assert sorted(passes) == [(k, "_inverse_and_vjp") for k in range(4)]
    assert not [c for c in calls if c[1] == "_inverse"]
    assert sorted(c[0] for c in calls if c[1] == "_solve_inverse") in ([], [0, 3])
    assert abs(loss + np.mean(flow.logpdf(x))) <= 1e-12
    assert check_param_gradient(lambda: -np.mean(flow.logpdf(x)), flow.params, grads).passed


def test_passes_validate_their_input(rng):
    chain = Chain(_layers(2, 2, rng))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        chain.forward_pass(np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        chain.inverse_pass(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="finite"):
        chain.eq9_terms(np.array([[np.nan, 0.0]]))


def test_every_layer_type_in_one_chain(rng):
    """Every layer of the registry's mixed chains at once (the contract suite runs them as
    four smaller chains): every transform class and every transformer inside a flow."""
    from nfref.gradcheck import check_logdet, check_roundtrip, relative_error
    from nfref.registry import CASES
    from nfref.transform import flatten_params

    parts = [CASES[f"chain_mixed_{i}"].make(2, rng) for i in range(4)]
    chain = Chain([layer for part in parts for layer in part.layers])
    leaves = [leaf for layer in chain.layers
              for leaf in (layer.layers if isinstance(layer, Chain) else [layer])]
    kinds = {type(layer).__name__ for layer in leaves}
    transformers = {type(getattr(layer, "transformer", None)).__name__ for layer in leaves}
    assert {"ElementwiseAffine", "PLULinear", "Linear", "Planar", "Radial", "MAF", "IAF",
            "Coupling", "Permute", "MarginalGaussianization", "Morph"} <= kinds
    assert {"RationalQuadraticSpline", "UMNN", "SumOfSquares", "Inverted", "Affine"} <= transformers
    u = rng.standard_normal((9, 2))
    assert check_roundtrip(chain, u, bound=1e-8).passed
    assert check_logdet(chain, u, bound=1e-10).passed
    # both VJPs along three random directions of all parameters at once, and of the input
    gx, gl = rng.standard_normal((9, 2)), rng.standard_normal(9)
    x = chain.forward(u)[0]
    params = chain.params
    for apply, vjp, point in ((chain.forward, chain.forward_vjp, u),
                              (chain.inverse, chain.inverse_vjp, x)):
        g_in, g_par = vjp(point, gx, gl)
        flat = flatten_params(g_par)
        ana, num = [], []
        for _ in range(3):
            dv, dp = rng.standard_normal(point.shape), rng.standard_normal(flat.size)
            dp /= np.linalg.norm(dp)
            dv /= np.linalg.norm(dv)
            saved = flatten_params(params)

            def f(t):
                i = 0
                for v in params.values():
                    v[...] = (saved[i:i + v.size] + t * dp[i:i + v.size]).reshape(v.shape)
                    i += v.size
                out, ld = apply(point + t * dv)
                return float(np.sum(gx * out) + np.sum(gl * ld))
            h = 1e-4
            num.append((f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h))
            f(0.0)                                        # restore the parameters
            ana.append(np.sum(g_in * dv) + np.sum(flat * dp))
        assert relative_error(np.array(ana), np.array(num)) <= 1e-6


def test_passes_refuse_complex_points_and_change_nothing(rng):
    chain = Chain([ElementwiseAffine.random(2, rng), PLULinear.random(2, rng)])
    before = {k: v.copy() for k, v in chain.params.items()}
    z = np.array([[1.0 + 5j, 0.0]])
    for call in (chain.forward_pass, chain.inverse_pass, chain.eq9_terms, chain.forward):
        with pytest.raises(ValueError, match="complex"):
            call(z)
    assert all(np.array_equal(chain.params[k], before[k]) for k in before)
    with pytest.raises(ValueError, match="complex"):
        log_likelihood_eq9(StandardNormal(2), chain, z)
