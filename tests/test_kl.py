import io

import numpy as np
import pytest

from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.kl import elbo, forward_kl, gaussian_kl, reverse_kl_and_grad
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


def test_forward_kl_refuses_samples_off_the_models_support():
    from nfref.distributions import UniformCube
    flow = Flow(UniformCube(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    x = np.array([[0.5, 0.5], [1.5, 0.5], [0.2, 0.2]])
    with pytest.raises(ValueError, match=r"1 of 3 samples lie outside the model's support.*"
                                         r"rows \[1\]"):
        forward_kl(flow, x, lambda v: np.zeros(len(v)))
    assert forward_kl(flow, x[[0, 2]], lambda v: np.zeros(len(v))) == 0.0


@pytest.mark.parametrize("call, word", [
    (lambda f: forward_kl(f, np.zeros((2, 2)), "not callable"), "target_logpdf"),
    (lambda f: forward_kl("flow", np.zeros((2, 2)), lambda v: v[:, 0]), "flow"),
    (lambda f: elbo(f, lambda z: np.zeros(len(z)), n=8, random_state=0, sign=True), "sign"),
    (lambda f: elbo(f, lambda z: np.zeros(len(z)), n=None, random_state=0), "sample size"),
    (lambda f: reverse_kl_and_grad(f, lambda x: np.zeros(len(x)), None, 8, 0),
     "grad_log_target"),
    (lambda f: reverse_kl_and_grad(f, lambda x: np.zeros(len(x)) + 1j, lambda x: 0 * x, 8, 0),
     "log_target"),
    (lambda f: gaussian_kl([1j, 0.0], np.eye(2), [0.0, 0.0], np.eye(2)), "m0"),
    (lambda f: gaussian_kl([0.0, 0.0], np.eye(2), [0.0, 0.0], [["a", "b"], ["c", "d"]]), "S1"),
])
def test_kl_functions_name_the_bad_argument(call, word):
    flow = Flow(StandardNormal(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    with pytest.raises(ValueError, match=word):
        call(flow)


def test_module_docstring_cites_the_reverse_kl_and_tells_the_two_apart():
    import nfref.kl as kl
    assert "Papamakarios et al., 2021" in kl.__doc__ and "sec. 2.3" in kl.__doc__
    assert "D_{KL}(p^*_z \\,\\|\\, p_z)" in kl.__doc__           # notes 001's base-space form


def test_reverse_kl_checks_the_base_parameters_it_samples_with():
    flow = Flow(DiagonalNormal([0.0], [0.0]), ElementwiseAffine([0.0], [0.0]))
    flow.base.params["log_scale"][...] = 800.0                      # written in place
    with pytest.raises(ValueError, match="log_scale"):
        reverse_kl_and_grad(flow, lambda x: np.zeros(len(x)), lambda x: 0 * x, 8, 0)
