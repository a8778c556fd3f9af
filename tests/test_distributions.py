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


# ---------------------------------------------------------------- support, extremes, cotangents
def test_nll_off_the_support_names_the_points_like_mean_log_likelihood():
    from nfref.one_layer.modeling import mean_log_likelihood_and_grad
    base, t = UniformCube(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0])
    x = [[0.5, 0.5], [2.0, 0.5], [0.2, 0.3], [0.1, -1.0]]
    with pytest.raises(ValueError, match=r"2 of 4 points lie outside the image of the unit "
                                         r"cube, rows \[1, 3\]") as flow_err:
        Flow(base, t).nll_and_grad(x)
    with pytest.raises(ValueError, match=r"rows \[1, 3\]") as one_layer_err:
        mean_log_likelihood_and_grad(base, t, x)
    # one rule: the same message after the name of the function
    assert str(flow_err.value).split(": ", 1)[1] == str(one_layer_err.value).split(": ", 1)[1]
    loss, _ = Flow(base, t).nll_and_grad([[0.5, 0.5]])              # inside: fine
    assert loss == 0.0


@pytest.mark.parametrize("log_scale", [-800.0, 800.0, -700.5, np.inf])
def test_diagonal_normal_refuses_log_scales_beyond_float64(log_scale):
    with pytest.raises(ValueError, match="log_scale"):
        DiagonalNormal([0.0], [log_scale])
    base = DiagonalNormal([0.0], [0.0])
    base.params["log_scale"][...] = log_scale                       # written in place
    flow = Flow(base, ElementwiseAffine([0.0], [0.0]))
    for call in (lambda: base.logpdf([[0.0]]), lambda: base.rvs(2, 0),
                 lambda: flow.logpdf([[0.0]]), lambda: flow.nll_and_grad([[0.0]])):
        with pytest.raises(ValueError, match="log_scale"):
            call()


def test_diagonal_normal_at_the_largest_accepted_log_scales_is_exact():
    lo, hi = DiagonalNormal([0.0], [-700.0]), DiagonalNormal([0.0], [700.0])
    assert lo.logpdf([[0.0]])[0] == pytest.approx(700.0 - 0.5 * np.log(2 * np.pi), rel=1e-15)
    assert lo.logpdf([[1e-300]])[0] == pytest.approx(
        -0.5 * (1e-300 * np.exp(700.0)) ** 2 + 700.0 - 0.5 * np.log(2 * np.pi), rel=1e-13)
    assert lo.logpdf([[1.0]])[0] == -np.inf                  # below the float64 range, not NaN
    x = hi.rvs(4, random_state=0)
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(x[:, 0] / np.exp(700.0),
                               np.random.default_rng(0).standard_normal((4, 1))[:, 0], rtol=1e-15)


@pytest.mark.parametrize("base", [StandardNormal(2), DiagonalNormal([0.0, 1.0], [0.5, -0.5]),
                                  UniformCube(2)])
@pytest.mark.parametrize("g, word", [
    ([np.nan], "g"), ([np.inf], "g"), ([1.0, 2.0], r"shape \(1,\)"), (["a"], "real"),
    ([1 + 2j], "complex"), (np.ones((1, 1)), r"shape \(1,\)"),
])
def test_logpdf_vjp_checks_its_cotangent(base, g, word):
    with pytest.raises(ValueError, match=word):
        base.logpdf_vjp(np.full((1, 2), 0.5), g)


def test_uniform_cube_vjp_is_zero_inside_and_refuses_points_outside():
    gx, gp = UniformCube(2).logpdf_vjp([[0.5, 0.5], [0.1, 0.9]], [2.0, -3.0])
    np.testing.assert_array_equal(gx, np.zeros((2, 2)))
    assert gp == {}
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        UniformCube(2).logpdf_vjp([[0.5, 0.5], [1.5, 0.5]], [1.0, 1.0])


@pytest.mark.parametrize("make", [
    lambda: DiagonalNormal([1j], [0.0]), lambda: DiagonalNormal([0.0], [0.5j]),
    lambda: DiagonalNormal(["a"], [0.0]), lambda: DiagonalNormal([0.0, 1.0], [0.0]),
    lambda: DiagonalNormal([], []), lambda: StandardNormal(2).logpdf([[1 + 5j, 0.0]]),
])
def test_complex_and_malformed_arguments_are_refused(make):
    with pytest.raises(ValueError, match="loc|log_scale|complex|x"):
        make()


@pytest.mark.parametrize("size", [None, np.inf, np.nan, 2.5, [2], True, -1, 0, "3"])
def test_rvs_refuses_every_wrong_size(size):
    with pytest.raises(ValueError, match="size"):
        StandardNormal(2).rvs(size, random_state=0)
    with pytest.raises(ValueError, match="size"):
        Flow(StandardNormal(2), ElementwiseAffine([0.0, 0.0], [0.0, 0.0])).rvs(size, 0)


def test_flow_refuses_parts_that_are_not_a_base_and_a_transform():
    with pytest.raises(ValueError, match="base"):
        Flow("normal", ElementwiseAffine([0.0], [0.0]))
    with pytest.raises(ValueError, match="transform"):
        Flow(StandardNormal(1), lambda u: u)
