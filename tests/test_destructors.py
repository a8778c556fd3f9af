import numpy as np
import pytest
from scipy import stats

from nfref.destructors import MarginalGaussianization, fit_rbig
from nfref.one_layer.linear import Linear


def test_marginal_gaussianization_standardizes_its_training_data(rng):
    x = rng.gamma(2.0, size=(3000, 2))                    # skewed marginals
    mg = MarginalGaussianization.fit(x, max_centers=3000, random_state=0)
    u = mg.inverse(x)[0]
    assert min(stats.kstest(u[:, j], "norm").pvalue for j in range(2)) > 0.01
    assert stats.kstest((x[:, 0] - x[:, 0].mean()) / x[:, 0].std(), "norm").pvalue < 1e-6


def test_far_points_stay_finite_both_ways(rng):
    mg = MarginalGaussianization.fit(rng.normal(size=(500, 1)), random_state=0)
    u, ld = mg.inverse(np.array([[-1e3], [1e3], [40.0]]))
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(ld))
    assert u[0, 0] < -30 and u[1, 0] > 30
    x, _ = mg.forward(np.array([[-30.0], [30.0]]))
    np.testing.assert_allclose(mg.inverse(x)[0], [[-30.0], [30.0]], atol=1e-8)


def test_forward_is_one_solve_and_its_pullbacks_are_exact(rng):
    from nfref.gradcheck import check_vjp
    solves = []

    class Counting(MarginalGaussianization):
        def _solve(self, u):
            solves.append(1)
            return super()._solve(u)

    mg = Counting.fit(rng.gamma(2.0, size=(400, 2)), max_centers=200, random_state=0)
    u = rng.standard_normal((30, 2)) * 2
    x, ld, pullback = mg.forward_and_vjp(u)
    gx, gl = rng.standard_normal((30, 2)), rng.standard_normal(30)
    gu, gp = pullback(gx, gl)
    gu2, _ = pullback(gx, gl)
    assert len(solves) == 1 and gp == {}                      # one solve; the pullback reuses it
    np.testing.assert_array_equal(gu, gu2)
    # the solve is converged: G(x) = u to rounding, and the inverse is its exact inverse
    u_back, ld_inv = mg.inverse(x)
    assert np.max(np.abs(u_back - u)) <= 1e-12
    np.testing.assert_allclose(ld_inv, -ld, rtol=1e-12, atol=1e-12)
    assert mg.numerical_inverse and "numerical_inverse" not in vars(mg)
    for direction in ("forward", "inverse"):
        res = check_vjp(mg, u[:8], direction, bound=1e-6)
        assert res.passed, str(res)
    # each point's result does not depend on the rest of the batch
    for i in (0, 7, 29):
        np.testing.assert_allclose(mg.forward(u[i:i + 1])[0][0], x[i], rtol=1e-13, atol=1e-13)


def test_fit_rbig_alternates_rotations_and_marginals(rng):
    layers = fit_rbig(rng.normal(size=(300, 2)), n_rounds=3, max_centers=100, random_state=0)
    assert len(layers) == 6
    # generative order: the last rotation acts first on u, the first marginal step last
    assert all(isinstance(l, Linear) for l in layers[0::2])          # noqa: E741
    assert all(isinstance(l, MarginalGaussianization) for l in layers[1::2])  # noqa: E741
    for rot in layers[0::2]:
        R = rot.params["weight"]
        np.testing.assert_allclose(R @ R.T, np.eye(2), atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(centers=[[0.0, 1.0]], bandwidth=[-1.0]), "positive"),
    (dict(centers=[[0.0, 1.0]], bandwidth=[1.0, 1.0, 1.0]), "bandwidth"),
    (dict(centers=[[0.0, 1.0]], bandwidth=[1.0], weights=[[0.2, 0.2]]), "weights"),
])
def test_bad_construction_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MarginalGaussianization(**kwargs)


def test_bad_fit_arguments_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        fit_rbig(np.zeros(5))
    with pytest.raises(ValueError, match="rotation"):
        fit_rbig(np.zeros((5, 2)), rotation="ica")
    with pytest.raises(ValueError, match="finite"):
        MarginalGaussianization.fit(np.array([[np.nan], [1.0]]))
    # n_rounds = 0 returned no layers; max_centers = 0 raised ZeroDivisionError
    for kwargs, word in ((dict(n_rounds=0), "n_rounds"), (dict(n_rounds=2.5), "n_rounds"),
                         (dict(max_centers=0), "max_centers")):
        with pytest.raises(ValueError, match=word):
            fit_rbig(np.random.default_rng(0).normal(size=(20, 2)), **kwargs)


def test_the_layer_owns_copies_of_its_mixtures():
    centers, bandwidth = np.array([[0.0, 1.0, 2.0]]), np.array([0.5])
    weights = np.array([[0.2, 0.3, 0.5]])
    mg = MarginalGaussianization(centers, bandwidth, weights)
    u = np.array([[0.3], [-1.2]])
    before = mg.forward(u)
    centers[...] = 1e6                                              # the caller's arrays
    bandwidth[...] = -1.0
    weights[...] = 7.0
    after = mg.forward(u)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


@pytest.mark.parametrize("kwargs, word", [
    (dict(max_centers=2.5), "max_centers"), (dict(max_centers=None), "max_centers"),
    (dict(max_centers=True), "max_centers"), (dict(n_rounds=np.nan), "n_rounds"),
    (dict(n_rounds=[2]), "n_rounds"), (dict(rotation=["pca"]), "rotation"),
    (dict(random_state=True), "random_state"),
])
def test_fit_rbig_refuses_every_wrong_kind_of_setting(kwargs, word):
    with pytest.raises(ValueError, match=word):
        fit_rbig(np.random.default_rng(0).normal(size=(20, 2)), **kwargs)


@pytest.mark.parametrize("kwargs, word", [
    (dict(centers=[[0.0, 1j]], bandwidth=[1.0]), "centers"),
    (dict(centers=np.zeros((1, 2, 2)), bandwidth=[1.0]), "centers"),
    (dict(centers=[[0.0, 1.0]], bandwidth=["a"]), "bandwidth"),
    (dict(centers=[[0.0, 1.0]], bandwidth=[1.0], weights=[[0.5, np.nan]]), "weights"),
])
def test_construction_refuses_complex_and_malformed_arrays(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MarginalGaussianization(**kwargs)
    with pytest.raises(ValueError, match="defensive"):
        MarginalGaussianization.fit(np.random.default_rng(0).normal(size=(20, 1)), defensive=1.0)
