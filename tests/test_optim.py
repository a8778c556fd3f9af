import io

import numpy as np
import pytest

from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.one_layer.linear import ElementwiseAffine, Linear
from nfref.optim import Adam, GradientDescent, fit, fit_lbfgs
from nfref.transform import flatten_params, unflatten_params


def test_flatten_unflatten_round_trip(rng):
    p = {"a": rng.normal(size=(2, 3)), "b": rng.normal(size=4)}
    v = flatten_params(p)
    assert v.shape == (10,)
    q = unflatten_params(v, p)
    for k in p:
        np.testing.assert_array_equal(q[k], p[k])


def test_lbfgs_recovers_the_gaussian_mle(rng):
    # A linear flow with a standard normal base is N(b, A A^T): its MLE has b = mean and
    # A A^T = the (biased) sample covariance.
    x = rng.multivariate_normal([1.0, -2.0], [[2.0, 0.6], [0.6, 0.5]], size=500)
    flow = Flow(StandardNormal(2), Linear(np.eye(2), np.zeros(2)))
    out = io.StringIO()
    fit_lbfgs(lambda: flow.nll_and_grad(x), flow.params, stream=out)
    A, b = flow.transform.params["weight"], flow.transform.params["bias"]
    np.testing.assert_allclose(b, x.mean(0), atol=1e-6)
    np.testing.assert_allclose(A @ A.T, np.cov(x.T, bias=True), atol=1e-6)
    assert "L-BFGS" in out.getvalue()


def test_adam_and_gd_decrease_the_loss_and_print_progress(rng):
    x = rng.normal(3.0, 2.0, size=(400, 1))
    for opt in (Adam(lr=0.05), GradientDescent(lr=0.1)):
        flow = Flow(DiagonalNormal([0.0], [0.0]), ElementwiseAffine([0.0], [0.0]))
        out = io.StringIO()
        hist = fit(lambda: flow.nll_and_grad(x), flow.params, opt, n_steps=300, stream=out)
        assert hist[-1] < hist[0] - 0.5
        assert "step    300/300" in out.getvalue()
        assert abs(flow.rvs(20000, random_state=0).mean() - x.mean()) < 0.1


# ---------------------------------------------------------------- nothing non-finite is written
@pytest.mark.parametrize("make, word", [
    (lambda: Adam(lr=np.nan), "lr"), (lambda: Adam(lr=0.0), "lr"), (lambda: Adam(lr=-1e-3), "lr"),
    (lambda: Adam(betas=(1, 1)), r"betas\[0\]"), (lambda: Adam(betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: Adam(betas=(-0.1, 0.9)), r"betas\[0\]"), (lambda: Adam(betas=0.9), "betas"),
    (lambda: Adam(eps=0.0), "eps"), (lambda: Adam(eps=np.inf), "eps"),
    (lambda: GradientDescent(lr=np.inf), "lr"), (lambda: GradientDescent(lr="0.1"), "lr"),
    (lambda: GradientDescent(lr=1j), "lr"),
])
def test_bad_optimizer_settings_are_refused_at_construction(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_a_step_that_would_overflow_writes_nothing():
    p = {"a": np.array([1e308, 0.0]), "b": np.array([1.0])}
    before = {k: v.copy() for k, v in p.items()}
    with pytest.raises(ValueError, match="non-finite"):
        GradientDescent(lr=1.0).step(p, {"a": np.array([-1e308, 1.0]), "b": np.array([1.0])})
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    opt = Adam(lr=0.1)
    opt.step(p, {"a": np.ones(2), "b": np.ones(1)})
    state = {k: v.copy() for k, v in p.items()}, dict(opt.m), dict(opt.v), opt.t
    with pytest.raises(ValueError, match="overflow"):        # g^2 overflows the second moment
        opt.step(p, {"a": np.array([1e200, 0.0]), "b": np.ones(1)})
    for k in p:
        np.testing.assert_array_equal(p[k], state[0][k])
    assert opt.t == state[3] and all(np.array_equal(opt.m[k], state[1][k]) for k in p)


@pytest.mark.parametrize("grads, word", [
    ({"a": np.ones(2)}, "missing"), ({"a": np.ones(2), "b": np.ones(3)}, "shape"),
    ({"a": np.ones(2), "b": np.array([np.nan])}, "finite"), ({"a": np.ones(2), "b": "x"}, "real"),
    ({"a": np.ones(2), "b": np.array([1j])}, "complex"),
])
def test_step_refuses_bad_gradients_before_writing(grads, word):
    p = {"a": np.zeros(2), "b": np.zeros(1)}
    for opt in (Adam(), GradientDescent()):
        with pytest.raises(ValueError, match=word):
            opt.step(p, grads)
        assert np.all(p["a"] == 0) and np.all(p["b"] == 0)


@pytest.mark.parametrize("n_steps", [-1, 2.5, None, np.inf, np.nan, [2], True, "3"])
def test_fit_refuses_bad_n_steps(n_steps):
    p = {"a": np.zeros(1)}
    with pytest.raises(ValueError, match="n_steps"):
        fit(lambda: (0.0, {"a": np.zeros(1)}), p, n_steps=n_steps, verbose=False)


@pytest.mark.parametrize("grads, word", [
    ({}, "missing"), ({"a": np.zeros(3)}, "shape"), ({"a": np.array([np.inf])}, "finite"),
])
def test_fit_refuses_bad_gradients_with_the_step(grads, word):
    p = {"a": np.zeros(1)}
    with pytest.raises(ValueError, match=rf"step 0.*{word}"):
        fit(lambda: (0.0, grads), p, n_steps=3, verbose=False)
    assert p["a"][0] == 0.0


def test_fit_stops_with_the_parameters_at_their_last_finite_values():
    p = {"a": np.array([0.0])}
    seen = []

    def objective():                      # finite for three steps, then a NaN loss
        seen.append(p["a"].copy())
        loss = (p["a"][0] - 1.0) ** 2 if len(seen) <= 3 else np.nan
        return loss, {"a": 2 * (p["a"] - 1.0)}
    with pytest.raises(ValueError, match=r"step 3.*not finite"):
        fit(objective, p, GradientDescent(lr=0.1), n_steps=10, verbose=False)
    np.testing.assert_array_equal(p["a"], seen[-1])       # the last evaluated, finite values
    assert p["a"][0] == pytest.approx(1 - 0.8 ** 3, abs=1e-15)   # a <- a - 0.2 (a - 1)


def _nan_beyond_3(p):
    def objective():                      # NaN beyond a = 3, minimum of the finite part at 3
        a = p["a"][0]
        return (np.nan if a > 3 else (a - 5.0) ** 2), {"a": np.array([2 * (a - 5.0)])}
    return objective


def test_fit_lbfgs_never_returns_a_nan_loss():
    p = {"a": np.array([0.0])}
    res = fit_lbfgs(_nan_beyond_3(p), p, verbose=False)
    assert np.isfinite(res.fun) and res.fun == pytest.approx((p["a"][0] - 5.0) ** 2, rel=0)
    np.testing.assert_array_equal(p["a"], res.x)
    assert p["a"][0] <= 3.0
    q = {"a": np.array([4.0])}                            # NaN at the start: refused
    with pytest.raises(ValueError, match="not finite"):
        fit_lbfgs(_nan_beyond_3(q), q, verbose=False)
    assert q["a"][0] == 4.0
    with pytest.raises(ValueError, match="maxiter"):
        fit_lbfgs(_nan_beyond_3(q), q, maxiter=2.5, verbose=False)


def test_fit_lbfgs_restores_the_best_point_when_the_objective_raises():
    p = {"a": np.array([0.0])}
    calls = []

    def objective():
        calls.append(p["a"][0])
        if len(calls) > 2:
            raise RuntimeError("model exploded")
        return (p["a"][0] - 5.0) ** 2, {"a": 2 * (p["a"] - 5.0)}
    with pytest.raises(RuntimeError):
        fit_lbfgs(objective, p, verbose=False)
    best = min(calls[:2], key=lambda a: (a - 5.0) ** 2)
    assert p["a"][0] == best


def test_fit_lbfgs_backs_off_from_parameters_the_model_refuses():
    p = {"a": np.array([0.0])}

    def objective():                      # the model refuses a > 3 (as nfref's layers do)
        a = p["a"][0]
        if a > 3:
            raise ValueError("a: expected a <= 3")
        return (a - 5.0) ** 2, {"a": np.array([2 * (a - 5.0)])}
    res = fit_lbfgs(objective, p, verbose=False)
    assert res.n_refused >= 1 and np.isfinite(res.fun) and p["a"][0] <= 3.0
    assert res.fun == (p["a"][0] - 5.0) ** 2
