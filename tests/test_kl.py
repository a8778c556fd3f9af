import io

import numpy as np
import pytest

from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.kl import forward_kl, gaussian_kl, reverse_kl_and_grad
from nfref.one_layer.linear import ElementwiseAffine, Linear
from nfref.optim import Adam, fit


def test_gaussian_kl_is_zero_for_equal_and_positive_otherwise(rng):
    S = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert gaussian_kl([0, 1], S, [0, 1], S) == pytest.approx(0.0, abs=1e-14)
    assert gaussian_kl([0, 1], S, [1, 1], np.eye(2)) > 0


def test_forward_kl_estimate_matches_closed_form(rng):
    from scipy import stats
    t = Linear([[1.5, 0.0], [0.4, 0.7]], [0.5, -0.5])
    flow = Flow(StandardNormal(2), t)
    m, S = np.array([0.0, 0.0]), np.eye(2)
    x = rng.multivariate_normal(m, S, size=200_000)
    target = stats.multivariate_normal(m, S).logpdf
    est = forward_kl(flow, x, target)
    A = t.params["weight"]
    exact = gaussian_kl(m, S, t.params["bias"], A @ A.T)
    se = np.std(target(x) - flow.logpdf(x), ddof=1) / np.sqrt(len(x))
    assert abs(est - exact) < 5 * se


def test_reverse_kl_fit_finds_a_diagonal_gaussian_target():
    m, s = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    log_t = lambda x: -0.5 * np.sum(((x - m) / s) ** 2, axis=1)     # noqa: E731
    grad_t = lambda x: -(x - m) / s ** 2                            # noqa: E731
    flow = Flow(StandardNormal(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    rng = np.random.default_rng(0)
    fit(lambda: reverse_kl_and_grad(flow, log_t, grad_t, 256, rng), flow.params,
        Adam(lr=0.05), n_steps=600, stream=io.StringIO())
    np.testing.assert_allclose(flow.transform.params["shift"], m, atol=0.05)
    np.testing.assert_allclose(np.exp(flow.transform.params["log_scale"]), s, rtol=0.05)


def test_reverse_kl_refuses_a_bad_target():
    flow = Flow(DiagonalNormal([0.0], [0.0]), ElementwiseAffine([0.0], [0.0]))
    with pytest.raises(ValueError, match="log_target"):
        reverse_kl_and_grad(flow, lambda x: np.full(len(x), np.nan), lambda x: 0 * x, 8, 0)
    with pytest.raises(ValueError, match="log_target"):
        reverse_kl_and_grad(flow, lambda x: x, lambda x: 0 * x, 8, 0)   # shape (n, 1)


def test_kl_functions_refuse_bad_input():
    from nfref.kl import elbo
    S = np.eye(2)
    for args, word in ((([0.0, 1.0], S, [0.0], S), "m1"),
                       (([0.0, 1.0], np.eye(3), [0.0, 0.0], S), "S0"),
                       (([0.0, 1.0], S, [0.0, 0.0], np.diag([1.0, -1.0])), "S1"),
                       (([0.0, np.nan], S, [0.0, 0.0], S), "m0")):
        with pytest.raises(ValueError, match=word):
            gaussian_kl(*args)
    flow = Flow(StandardNormal(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    x = np.zeros((5, 2))
    # a target returning (n, 1) used to broadcast against (n,) into an (n, n) mean
    with pytest.raises(ValueError, match="target_logpdf"):
        forward_kl(flow, x, lambda x: np.zeros((len(x), 1)))
    with pytest.raises(ValueError, match="log_joint"):
        elbo(flow, lambda z: np.zeros((len(z), 1)), n=8, random_state=0)
    with pytest.raises(ValueError, match="grad_log_target"):
        reverse_kl_and_grad(flow, lambda x: np.zeros(len(x)),
                            lambda x: np.full(x.shape, np.nan), 8, 0)
    for bad_n in (0, -1, 2.5):          # an empty sample gave a NaN loss
        with pytest.raises(ValueError, match="sample size"):
            reverse_kl_and_grad(flow, lambda x: np.zeros(len(x)), lambda x: 0 * x, bad_n, 0)
        with pytest.raises(ValueError, match="sample size"):
            elbo(flow, lambda z: np.zeros(len(z)), n=bad_n, random_state=0)
    with pytest.raises(ValueError, match="sign"):
        elbo(flow, lambda z: np.zeros(len(z)), n=8, random_state=0, sign=2)
