"""GaussianCDF: the partial CDFs of N(mu, Sigma) (notes 000 sec. 1) against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from nfref.distributions import Flow, UniformCube
from nfref.inverse_cdf import GaussianCDF


def test_flow_logpdf_is_the_gaussian_logpdf(rng):
    for d in (1, 2, 4):
        t = GaussianCDF.random(d, rng)
        z = rng.standard_normal((50, d)) * 3
        ref = stats.multivariate_normal(t.mean_vector(), t.covariance()).logpdf(z).reshape(-1)
        got = Flow(UniformCube(d), t).logpdf(z)
        assert np.max(np.abs(got - ref)) <= 1e-10 * np.max(np.abs(ref))


def test_from_mean_cov_round_trips_the_covariance(rng):
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + 0.1 * np.eye(3)
    t = GaussianCDF.from_mean_cov([1.0, 2.0, 3.0], cov)
    assert np.max(np.abs(t.covariance() - cov)) <= 1e-13 * np.max(np.abs(cov))
    np.testing.assert_array_equal(t.mean_vector(), [1.0, 2.0, 3.0])


def test_conditional_cholesky_equals_schur(rng):
    t = GaussianCDF.random(5, rng)
    z = rng.standard_normal((20, 5))
    m1, s1 = t.conditional(z)
    m2, s2 = t.conditional_schur(z)
    assert np.max(np.abs(m1 - m2)) <= 1e-12 and np.max(np.abs(s1 - s2)) <= 1e-12


def test_bad_covariance_is_refused():
    with pytest.raises(ValueError, match="positive definite"):
        GaussianCDF.from_mean_cov([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        GaussianCDF.from_mean_cov([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"shape \(d, d\)"):
        GaussianCDF.from_mean_cov([0.0, 0.0], np.eye(3))


def test_u_outside_the_open_cube_is_refused():
    t = GaussianCDF.from_mean_cov([0.0, 0.0], np.eye(2))
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"open unit cube \(0, 1\)"):
            t.forward(np.array([[0.5, bad]]))


def test_tails_to_thirty_standard_deviations():
    # log|det J_G| is computed from eps, never from log(w): exact out to |z| = 30.
    t = GaussianCDF.from_mean_cov([0.0], [[1.0]])
    z = np.linspace(-30, 30, 61)[:, None]
    ref = stats.norm.logpdf(z[:, 0])
    assert np.max(np.abs(t.logpdf(z) - ref) / np.abs(ref)) <= 1e-14
    logw, log1mw = t.log_partial_cdf(z)
    assert np.max(np.abs(logw[:, 0] - stats.norm.logcdf(z[:, 0]))) <= 1e-12 * 450
    assert np.max(np.abs(log1mw[:, 0] - stats.norm.logsf(z[:, 0]))) <= 1e-12 * 450
    lower = z[z[:, 0] < 0]                                 # Q(G(z)) in the lower tail
    back = t.forward(t.partial_cdf(lower))[0]
    assert np.max(np.abs(back - lower) / np.abs(lower)) <= 1e-12
