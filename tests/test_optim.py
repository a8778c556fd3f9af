import io

import numpy as np

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
