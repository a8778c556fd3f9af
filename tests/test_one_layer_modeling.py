"""Forward modeling (eqs. (7), (8)), the mean log-likelihood's gradient, backward modeling."""

import numpy as np
import pytest

from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_param_gradient
from nfref.one_layer.linear import Linear
from nfref.one_layer import (Planar, Radial, backward_log_likelihood, conditional_log_likelihood,
                             fit_backward_gaussian, gaussian_mle, inverse_jacobian,
                             log_likelihood_eq7, log_likelihood_eq8, mean_log_likelihood_and_grad)
from nfref.report.studies.planar_inverse import planar_inverse_errors

TRANSFORMS = [Linear, Planar, Radial]


@pytest.mark.parametrize("cls", TRANSFORMS)
@pytest.mark.parametrize("base_name", ["normal", "uniform"])
def test_eq7_equals_eq8(rng, cls, base_name):
    d = 3
    t = cls.random(d, rng)
    base = StandardNormal(d) if base_name == "normal" else UniformCube(d)
    x = Flow(base, t).rvs(60, random_state=rng)
    l7, l8 = log_likelihood_eq7(base, t, x), log_likelihood_eq8(base, t, x)
    assert np.max(np.abs(l7 - l8)) <= 1e-10
    assert l8.shape == (60,) and np.all(np.isfinite(l8))
    assert np.max(np.abs(l8 - Flow(base, t).logpdf(x))) <= 1e-12


@pytest.mark.parametrize("cls", TRANSFORMS)
def test_inverse_jacobian_is_the_transforms_own(rng, cls):
    t = cls.random(3, rng)
    u = rng.standard_normal((10, 3))
    x, _ = t.forward(u)
    np.testing.assert_array_equal(inverse_jacobian(t, x), t.inverse_jacobian(x))
    prod = inverse_jacobian(t, x) @ t.jacobian(u)
    assert np.max(np.abs(prod - np.eye(3))) <= 1e-12
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        inverse_jacobian(t, x[0])


def test_import_pulls_in_no_optimizer_plotting_checks_or_report():
    import subprocess
    import sys
    code = ("import sys, nfref, nfref.one_layer, nfref.destructors; "
            "print([m for m in ('scipy.optimize', 'matplotlib', 'nfref.gradcheck', "
            "'nfref.registry', 'nfref.report') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out


def test_uniform_base_off_the_image_is_minus_inf_never_nan(rng):
    t = Planar.random(2, rng)
    base = UniformCube(2)
    x = np.array([[50.0, -50.0], [0.0, 0.0], [-3.0, 7.0]])
    u, _ = t.inverse(x)
    inside = np.all((u >= 0) & (u <= 1), axis=1)
    for f in (log_likelihood_eq7, log_likelihood_eq8):
        ll = f(base, t, x)
        assert not np.any(np.isnan(ll))
        assert np.all(np.isneginf(ll[~inside])) and (~inside).sum() >= 1
    with pytest.raises(ValueError, match="outside the image of the unit cube"):
        mean_log_likelihood_and_grad(base, t, x)


@pytest.mark.parametrize("cls", TRANSFORMS)
def test_mean_log_likelihood_gradient(rng, cls):
    d = 2
    t = cls.random(d, rng)
    base = DiagonalNormal(rng.normal(size=d), 0.3 * rng.normal(size=d))
    x = rng.standard_normal((30, d)) * 1.5
    value, grads = mean_log_likelihood_and_grad(base, t, x)
    flow = Flow(base, t)
    res = check_param_gradient(lambda: np.mean(log_likelihood_eq8(base, t, x)), flow.params,
                               grads, bound=1e-6)
    assert res.passed, str(res)
    nll, g_flow = flow.nll_and_grad(x)
    assert abs(value + nll) <= 1e-12
    assert max(np.max(np.abs(grads[k] + g_flow[k])) for k in grads) <= 1e-10


def test_uniform_base_gradient_inside_the_image(rng):
    t = Radial.random(2, rng)
    base = UniformCube(2)
    x = Flow(base, t).rvs(40, random_state=rng)
    value, grads = mean_log_likelihood_and_grad(base, t, x)
    assert abs(value - np.mean(t.inverse(x)[1])) <= 1e-12        # p_U = 1: only the log-det
    assert set(grads) == {f"transform.{k}" for k in t.params}


def test_backward_log_likelihood_is_the_sum_of_conditionals(rng):
    from nfref.inverse_cdf import GaussianCDF
    from scipy import stats
    psi = GaussianCDF.random(3, rng)
    x = psi.rvs(100, random_state=rng)
    lb = backward_log_likelihood(psi, x)
    assert np.max(np.abs(lb - conditional_log_likelihood(psi, x))) <= 1e-10
    ref = stats.multivariate_normal(psi.mean_vector(), psi.covariance()).logpdf(x)
    assert np.max(np.abs(lb - ref)) <= 1e-10


def test_backward_modeling_recovers_the_gaussian_mle(rng):
    x = rng.multivariate_normal([1.0, -2.0], [[2.0, 0.6], [0.6, 0.5]], size=300)
    psi, _ = fit_backward_gaussian(x)
    mean, cov = gaussian_mle(x)
    assert np.max(np.abs(psi.mean_vector() - mean)) <= 1e-6
    assert np.max(np.abs(psi.covariance() - cov)) <= 1e-6


def test_planar_inverse_study_small(rng):
    r = planar_inverse_errors(n_draws=80, n_points=20, random_state=1)
    ok = ~r["refused"]
    assert ok.sum() >= 60 and np.all(np.isnan(r["roundtrip"][~ok]))
    # the round trip stays within a small factor of what float64 conditioning allows
    assert np.max(r["conditioning"][ok]) <= 4.0
    assert np.max(r["roundtrip"][ok & (r["norm_w"] < 3) & (r["norm_rho_hat"] < 3)]) <= 1e-12


def test_backward_helpers_refuse_bad_data():
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        gaussian_mle(np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        fit_backward_gaussian(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="method"):
        fit_backward_gaussian(np.ones((4, 2)) + np.eye(4, 2), method="sgd")


@pytest.mark.parametrize("kwargs, word", [
    (dict(method="adam", n_steps=2.5), "n_steps"), (dict(method="adam", lr=np.nan), "lr"),
    (dict(method=None), "method"), (dict(tol=-1.0), "tol"),
])
def test_fit_backward_gaussian_refuses_bad_settings(kwargs, word):
    with pytest.raises(ValueError, match=word):
        fit_backward_gaussian(np.random.default_rng(0).normal(size=(10, 2)), **kwargs)


def test_modeling_functions_refuse_a_base_and_transform_that_do_not_fit():
    t = Linear(np.eye(2), np.zeros(2))
    for f in (log_likelihood_eq7, log_likelihood_eq8, mean_log_likelihood_and_grad):
        with pytest.raises(ValueError, match="dimension"):
            f(StandardNormal(3), t, np.zeros((1, 2)))
        with pytest.raises(ValueError, match="base"):
            f("normal", t, np.zeros((1, 2)))
