"""MAF and IAF: triangular Jacobians, cheap log-determinants, which direction is parallel,
the d = 1 case, a Flow's likelihood gradient, and a fit that reaches the exact entropy."""

import numpy as np
import pytest

from nfref.autoregressive.maf import IAF, MAF, lower_triangular_inverse, maf_stack
from nfref.distributions import Flow, StandardNormal
from nfref.gradcheck import check_gradient, check_param_gradient, check_vjp
from nfref.optim import fit_lbfgs
from nfref.autoregressive.transformers import UMNN, Affine


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
def test_jacobian_is_triangular_in_the_made_order(cls, order, rng):
    t = cls.random(4, rng, hidden_sizes=(8, 8), order=order)
    u = rng.standard_normal((5, 4))
    jac = t.jacobian(u)                                        # J[n, i, j] = dx_i / du_j
    p = t.made.order
    jp = jac[:, p][:, :, p]
    assert np.all(np.triu(jp, 1) == 0)                         # lower triangular (nfref)
    notes = np.swapaxes(jp, 1, 2)                              # notes: [J]_ij = dphi_j/du_i
    assert np.all(np.tril(notes, -1) == 0)                     # upper triangular (notes)
    assert np.min(np.abs(np.tril(jp, -1)[:, 1:, :1])) > 0      # not diagonal: test can fail
    _, logdet = t.forward(u)
    diag = np.log(np.diagonal(jac, axis1=1, axis2=2)).sum(1)
    assert np.max(np.abs(logdet - diag)) <= 1e-12
    assert np.max(np.abs(logdet - np.linalg.slogdet(jac)[1])) <= 1e-10


def _count_passes(t):
    """Wrap the MADE's parallel pass, its sequential pass (and the steps of that one) and
    every transformer hook, counting calls."""
    calls = {"made": 0, "sequential": 0, "steps": 0, "transformer": 0}
    made, tr = t.made, t.transformer
    forward, sequential = made.forward, made.sequential

    def counting_forward(x, net):
        calls["made"] += 1
        return forward(x, net)

    def counting_sequential(net, n, step):
        calls["sequential"] += 1

        def counting_step(p, xi):
            calls["steps"] += 1
            return step(p, xi)
        return sequential(net, n, counting_step)
    made.forward, made.sequential = counting_forward, counting_sequential
    depth = [0]                                                # a hook calling a hook
    for hook in ("_forward_and_vjp", "_inverse_and_vjp", "_forward", "_inverse"):
        inner = getattr(tr, hook)

        def counting_hook(*args, _inner=inner):
            calls["transformer"] += depth[0] == 0
            depth[0] += 1
            try:
                return _inner(*args)
            finally:
                depth[0] -= 1
        setattr(tr, hook, counting_hook)
    return calls


@pytest.mark.parametrize("cls,parallel", [(MAF, "inverse"), (IAF, "forward")])
@pytest.mark.parametrize("with_pullback", [False, True])
def test_one_pass_one_way_d_passes_the_other(cls, parallel, with_pullback, rng):
    # parallel: one MADE pass and one transformer pass (its pullback reuses both);
    # sequential: d steps of one MADE evaluation and one transformer call on one column, and
    # for the pullback one more transformer pass at the final point, but no MADE pass.
    d = 5
    t = cls.random(d, rng, transformer=Affine())
    calls = _count_passes(t)
    u = rng.standard_normal((4, d))
    run = {"forward": t.forward_and_vjp if with_pullback else t.forward,
           "inverse": t.inverse_and_vjp if with_pullback else t.inverse}
    sequential = "forward" if parallel == "inverse" else "inverse"
    out = run[parallel](u)
    if with_pullback:
        out[2](rng.standard_normal((4, d)), rng.standard_normal(4))
    assert calls == {"made": 1, "sequential": 0, "steps": 0, "transformer": 1}
    for k in calls:
        calls[k] = 0
    out = run[sequential](u)
    if with_pullback:
        out[2](rng.standard_normal((4, d)), rng.standard_normal(4))
    assert calls == {"made": 0, "sequential": 1, "steps": d, "transformer": d + with_pullback}


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_pullback_of_one_pass_against_finite_differences(cls, direction, activation, rng):
    t = cls.random(4, rng, hidden_sizes=(8, 8), order="random", activation=activation)
    u = rng.standard_normal((6, 4))
    point = u if direction == "forward" else t.forward(u)[0]
    res = check_vjp(t, point, direction)
    assert res.passed, str(res)
    # the pullback of the pass, by hand: the gradient of sum(g * out) + sum(gl * logdet)
    g, gl = rng.standard_normal((6, 4)), rng.standard_normal(6)
    run = t.forward_and_vjp if direction == "forward" else t.inverse_and_vjp
    _, _, pullback = run(point)
    g_in, g_par = pullback(g, gl)
    value = t.forward if direction == "forward" else t.inverse

    def loss_input(v):
        out, ld = value(v)
        return float(np.sum(g * out) + np.sum(gl * ld))
    res = check_gradient(loss_input, g_in, point.copy())
    assert res.passed, str(res)
    res = check_param_gradient(lambda: loss_input(point), t.params, g_par)
    assert res.passed, str(res)


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_no_state_survives_between_calls(cls, direction, rng):
    # a pullback holds the arrays of its own pass: a second pass at other points, with other
    # parameter values, leaves the first pullback's gradient unchanged, and equal to a pullback
    # of a fresh pass at the first point with the first parameters
    t = cls.random(3, rng, hidden_sizes=(6, 6))
    run = t.forward_and_vjp if direction == "forward" else t.inverse_and_vjp
    u1, u2 = rng.standard_normal((2, 5, 3))
    g, gl = rng.standard_normal((5, 3)), rng.standard_normal(5)
    first = {k: v.copy() for k, v in t.params.items()}
    out1, ld1, pullback = run(u1)
    g_in, g_par = pullback(g, gl)
    t.set_params({k: v + 0.1 * rng.standard_normal(v.shape) for k, v in first.items()})
    out2, _, pullback2 = run(u2)
    pullback2(g, gl)
    again_in, again_par = pullback(g, gl)
    np.testing.assert_array_equal(again_in, g_in)
    for k in g_par:
        np.testing.assert_array_equal(again_par[k], g_par[k])
    assert np.max(np.abs(out2 - out1)) > 0.1                   # the second pass differs
    t.set_params(first)
    out3, ld3, pullback3 = run(u1)
    np.testing.assert_array_equal(out3, out1)
    np.testing.assert_array_equal(ld3, ld1)
    fresh_in, fresh_par = pullback3(g, gl)
    np.testing.assert_array_equal(fresh_in, g_in)
    for k in g_par:
        np.testing.assert_array_equal(fresh_par[k], g_par[k])


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_numerical_inverse_asks_the_transformer(cls, rng):
    assert cls.random(2, rng, transformer=Affine()).numerical_inverse is False
    assert cls.random(2, rng, transformer=UMNN(2, 8)).numerical_inverse is True
    t = cls.random(2, rng)
    with pytest.raises(AttributeError):
        t.numerical_inverse = True                             # derived, read-only


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_dim_one_is_the_transformer_with_constant_parameters(cls, rng):
    t = cls.random(1, rng, hidden_sizes=(5,))
    xi = t.conditioner(np.zeros((1, 1)))[0, 0]                  # (mu, alpha)
    u = rng.standard_normal((6, 1))
    x, logdet = t.forward(u)
    np.testing.assert_allclose(x, xi[0] + np.exp(xi[1]) * u, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(logdet, np.full(6, xi[1]), rtol=1e-14)


def test_lower_triangular_inverse_against_numpy(rng):
    order = rng.permutation(4)
    K = np.tril(rng.standard_normal((3, 4, 4)), -1) + np.eye(4) * 2.0
    inv_perm = np.argsort(order)
    K = K[:, inv_perm][:, :, inv_perm]                         # lower triangular in `order`
    inv = lower_triangular_inverse(K, order)
    np.testing.assert_allclose(inv, np.linalg.inv(K), rtol=1e-12, atol=1e-12)
    ip = inv[:, order][:, :, order]
    assert np.all(np.triu(ip, 1) == 0)                         # exact zeros kept


def test_maf_likelihood_gradient_through_a_stack(rng):
    flow = Flow(StandardNormal(3), maf_stack(3, n_layers=3, hidden_sizes=(6,), random_state=rng,
                                             output_scale=1.0))
    x = rng.standard_normal((20, 3))
    _, grads = flow.nll_and_grad(x)
    res = check_param_gradient(lambda: flow.nll_and_grad(x)[0], flow.params, grads)
    assert res.passed, str(res)


def test_maf_fits_a_correlated_gaussian_to_its_entropy(rng):
    # A Gaussian is an affine autoregressive map of a standard normal (its Cholesky factor),
    # so one affine MAF layer can represent it up to the conditioner's approximation of the
    # linear mean x_1 -> mu_2(x_1). Score: mean -log q minus mean -log p on held-out data,
    # an estimate of KL(p || q) >= 0.
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    chol = np.linalg.cholesky(cov)
    train = rng.standard_normal((2000, 2)) @ chol.T
    test = rng.standard_normal((4000, 2)) @ chol.T
    maf = MAF(2, Affine(), hidden_sizes=(8,), random_state=rng)
    flow = Flow(StandardNormal(2), maf)
    fit_lbfgs(lambda: flow.nll_and_grad(train), flow.params, maxiter=60, verbose=False)
    exact = -np.mean(-0.5 * np.einsum("ni,ij,nj->n", test, np.linalg.inv(cov), test)
                     - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(cov)))
    gap = -np.mean(flow.logpdf(test)) - exact
    assert abs(gap) <= 0.02, f"held-out NLL minus exact: {gap:.4f}"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Transformer"):
        MAF(2, transformer="affine")
    with pytest.raises(ValueError, match="order"):
        IAF(3, order="diagonal")
    with pytest.raises(ValueError, match="dim"):
        MAF(0)
    for cls in (MAF, IAF):
        with pytest.raises(ValueError, match="activation"):
            cls(2, activation="sigmoid")
        with pytest.raises(ValueError, match="activation"):
            cls.random(2, 0, activation=None)
        with pytest.raises(ValueError, match="activation"):
            maf_stack(2, 2, (4,), cls=cls, activation="Tanh")


def test_maf_sampling_pullback_never_solves_the_transformer_inverse(rng):
    """MAF's sampling direction applies zeta itself; its pullback needs the inverse pass at
    the sample, whose solution the sampling already gave: no solver runs."""
    solves = []

    class CountingUMNN(UMNN):
        def _solve(self, y, xi):
            solves.append(y.shape)
            return super()._solve(y, xi)

    t = MAF.random(3, rng, transformer=CountingUMNN(2, 24), hidden_sizes=(8,), output_scale=0.5)
    u = rng.standard_normal((6, 3))
    x, _, pullback = t.forward_and_vjp(u)
    pullback(rng.standard_normal((6, 3)), rng.standard_normal(6))
    assert solves == []
    assert check_vjp(t, u, "forward").passed


# ---------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("cls", [MAF, IAF])
def test_flow_constructors_refuse_bad_integer_and_real_arguments(cls):
    for bad in (None, 2.5, -1, 0, [2], np.nan, True):
        with pytest.raises(ValueError, match="dim: expected an integer"):
            cls.random(bad)
    with pytest.raises(ValueError, match="hidden_sizes entry: expected an integer"):
        cls.random(2, 0, hidden_sizes=(2.5,))
    for name in ("output_scale", "bias_scale"):
        for bad in (np.nan, -1.0, np.inf, "1"):
            with pytest.raises(ValueError, match=name):
                cls.random(2, 0, **{name: bad})


def test_triangular_helpers_refuse_a_zero_diagonal_and_an_overflowing_solution():
    from nfref.numerics import lower_solve, tril_inverse, tril_solve
    J = np.array([[[1.0, 0.0], [2.0, 0.0]]])
    for call, name in ((lambda: tril_inverse(J), "tril_inverse"),
                       (lambda: tril_solve(J, np.ones((1, 2))), "tril_solve"),
                       (lambda: tril_solve(J, np.ones((1, 2)), transpose=True), "tril_solve"),
                       (lambda: lower_solve(J[0], np.ones((3, 2))), "lower_solve")):
        with pytest.raises(ValueError, match=f"{name}: expected .* nonzero diagonal.*singular"):
            call()
    tiny = np.array([[1e-300, 0.0], [1e300, 1e-300]])
    with np.errstate(over="ignore"):
        with pytest.raises(ValueError, match="lower_solve: the solution overflows"):
            lower_solve(tiny, np.ones((1, 2)))
