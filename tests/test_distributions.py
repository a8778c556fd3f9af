import numpy as np
import pytest
from scipy import stats

from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_gradient
from nfref.one_layer.linear import ElementwiseAffine, PLULinear


def test_bases_match_scipy(rng):
    x = rng.normal(size=(20, 3))
    np.testing.assert_allclose(StandardNormal(3).logpdf(x),
                               stats.multivariate_normal(np.zeros(3)).logpdf(x), rtol=0, atol=1e-12)
    loc, ls = rng.normal(size=3), rng.normal(size=3)
    np.testing.assert_allclose(DiagonalNormal(loc, ls).logpdf(x),
                               stats.norm(loc, np.exp(ls)).logpdf(x).sum(1), atol=1e-12)
    np.testing.assert_array_equal(UniformCube(2).logpdf([[0.5, 0.5], [1.5, 0.5], [0.0, 1.0]]),
                                  [0.0, -np.inf, 0.0])


def test_uniform_base_gives_minus_inf_not_nan():
    flow = Flow(UniformCube(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    lp = flow.logpdf([[2.0, 0.5], [0.5, 0.5]])
    assert lp[0] == -np.inf and lp[1] == 0.0
    assert not np.isnan(flow.pdf([[2.0, 0.5]])).any()


def test_diagonal_normal_vjp(rng):
    base = DiagonalNormal(rng.normal(size=2), rng.normal(size=2))
    x, g = rng.normal(size=(5, 2)), rng.normal(size=5)
    gx, gp = base.logpdf_vjp(x, g)
    assert check_gradient(lambda v: float(g @ base.logpdf(v)), gx, x).error < 1e-8

    def f(p):
        return float(g @ DiagonalNormal(p["loc"], p["log_scale"]).logpdf(x))
    assert check_gradient(f, gp, {k: v.copy() for k, v in base.params.items()}).error < 1e-8


def test_rvs_is_reproducible_and_uses_no_global_state(rng):
    flow = Flow(StandardNormal(2), PLULinear.random(2, rng))
    a = flow.rvs(4, random_state=7)
    np.random.seed(0)
    b = flow.rvs(4, random_state=7)
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(flow.rvs(3, g1), flow.rvs(3, g2))
    assert a.shape == (4, 2)


def test_flow_sample_moments_match_the_pushforward(rng):
    t = PLULinear.random(2, rng)
    flow = Flow(StandardNormal(2), t)
    x = flow.rvs(200_000, random_state=1)
    A, b = t.matrix, t.params["bias"]
    np.testing.assert_allclose(x.mean(0), b, atol=5 * np.sqrt(np.diag(A @ A.T) / 2e5).max())
    np.testing.assert_allclose(np.cov(x.T), A @ A.T, rtol=0.02, atol=0.02)


@pytest.mark.parametrize("bad, match", [
    (np.zeros(2), r"shape \(n, 2\)"), (np.zeros((3, 3)), r"shape \(n, 2\)"),
    (np.array([[np.nan, 0.0]]), "finite"), (np.array([[np.inf, 0.0]]), "finite"),
])
def test_bad_input_is_refused(bad, match):
    flow = Flow(StandardNormal(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    with pytest.raises(ValueError, match=match):
        flow.logpdf(bad)
    with pytest.raises(ValueError, match=match):
        flow.nll_and_grad(bad)


def test_mismatched_dimensions_and_bad_size():
    with pytest.raises(ValueError, match="dimension"):
        Flow(StandardNormal(3), ElementwiseAffine([0.0, 0.0], [0.0, 0.0]))
    with pytest.raises(ValueError, match="positive integer"):
        StandardNormal(2).rvs(0)
    with pytest.raises(ValueError, match="random_state"):
        StandardNormal(2).rvs(3, random_state="seed")
