"""2-D toy densities: reproducible samplers, exact densities that integrate to 1 and match the samples."""

import numpy as np
import pytest
from scipy import stats

from nfref.datasets import (TOYS, Banana, Checkerboard, EightGaussians, Funnel, GaussianMixture,
                            Rings, TwoMoons, TwoSpirals, make_toy, sample_two_moons)
from nfref.gradcheck import integrate_density

EXACT = [name for name, cls in TOYS.items() if cls().has_logpdf]


@pytest.mark.parametrize("name", sorted(TOYS))
def test_sampler_is_reproducible_and_shaped(name):
    toy = make_toy(name)
    a, b = toy.rvs(50, random_state=3), toy.rvs(50, random_state=np.random.default_rng(3))
    assert a.shape == (50, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, toy.rvs(50, random_state=4))
    with pytest.raises(ValueError, match="positive integer"):
        toy.rvs(0)


def test_module_level_samplers():
    np.testing.assert_array_equal(sample_two_moons(10, random_state=1),
                                  TwoMoons().rvs(10, random_state=1))
    with pytest.raises(ValueError, match="unknown toy"):
        make_toy("three_moons")


def test_toy_without_density_says_so():
    toy = TwoSpirals()
    assert not toy.has_logpdf
    with pytest.raises(ValueError, match="no closed-form density"):
        toy.logpdf(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="exact density"):
        toy.entropy()


@pytest.mark.parametrize("make,match", [
    (lambda: Rings(radii=(1.0, np.inf)), "radii"),
    (lambda: Rings(radii=[]), "radii"),
    (lambda: Rings(weights=(1.0, np.nan, 1.0)), "weights"),
    (lambda: Banana(b=np.nan), "b: expected a finite"),
    (lambda: GaussianMixture([[0.0, np.nan]], [np.eye(2)]), "means"),
    (lambda: GaussianMixture(np.zeros((0, 2)), np.zeros((0, 2, 2))), "means"),
    (lambda: TwoMoons(n_nodes=0), "n_nodes"),
])
def test_bad_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        Banana().logpdf(np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        Banana().logpdf(np.array([[0.0, np.nan]]))


def _box(name):
    toy = make_toy(name)
    (a, b), (c, d) = toy.bounds
    wider = {"banana": ((-6.5, 6.5), (-2.5, 26.0)), "two_moons": ((-2.0, 3.0), (-1.5, 2.0))}
    return toy, wider.get(name, ((a - 1, b + 1), (c - 1, d + 1)))


@pytest.mark.parametrize("name", [n for n in EXACT if n not in ("checkerboard", "funnel")])
def test_density_integrates_to_one(name):
    toy, ((a, b), (c, d)) = _box(name)
    n_grid = 201 if name == "two_moons" else 401
    total = integrate_density(toy.logpdf, [a, c], [b, d], n_grid=n_grid)
    assert abs(total - 1.0) <= 1e-3


def test_checkerboard_integrates_to_one():
    # piecewise constant on unit squares: the midpoint rule on an aligned grid is exact
    h = 0.05
    g = np.arange(-3 + h / 2, 3, h)
    mesh = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    assert abs(Checkerboard().pdf(mesh).sum() * h * h - 1.0) <= 1e-12


def test_funnel_integrates_to_one():
    # substitute x2 = exp(x1 / 2) w: the integrand p(x1, e^{x1/2} w) e^{x1/2} is smooth
    toy = Funnel()
    g1, g2 = np.linspace(-9, 9, 401), np.linspace(-9, 9, 401)
    v, w = np.meshgrid(g1, g2, indexing="ij")
    pts = np.stack([v.ravel(), (np.exp(v / 2) * w).ravel()], 1)
    f = (toy.pdf(pts) * np.exp(pts[:, 0] / 2)).reshape(v.shape)
    total = np.trapezoid(np.trapezoid(f, g2, axis=1), g1)
    assert abs(total - 1.0) <= 1e-6


@pytest.mark.parametrize("name", EXACT)
def test_samples_match_the_density(name):
    """Chi-square test of 6 x 6 bins (plus the outside) with masses from the exact density."""
    toy = make_toy(name)
    (a, b), (c, d) = toy.bounds
    n, k, sub = 20000, 6, 40                                     # bins per axis, points per bin
    gx, gy = np.linspace(a, b, k * sub + 1), np.linspace(c, d, k * sub + 1)
    mx, my = 0.5 * (gx[1:] + gx[:-1]), 0.5 * (gy[1:] + gy[:-1])
    pts = np.stack(np.meshgrid(mx, my, indexing="ij"), -1).reshape(-1, 2)
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    mass = (toy.pdf(pts) * cell).reshape(k, sub, k, sub).sum((1, 3)).ravel()   # midpoint rule
    x = toy.rvs(n, random_state=11)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[gx[::sub], gy[::sub]])
    observed = np.append(counts.ravel(), n - counts.sum())
    expected = n * np.append(mass, max(1.0 - mass.sum(), 0.0))
    keep = expected > 5
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    p_value = stats.chi2.sf(chi2, keep.sum() - 1)
    assert observed[~keep].sum() <= 5 * max(expected[~keep].sum(), 1.0)
    assert p_value >= 1e-3, f"{name}: chi2 {chi2:.1f} on {keep.sum() - 1} dof"


def test_two_moons_quadrature_converged():
    x = np.vstack([TwoMoons().rvs(300, 1), np.random.default_rng(2).uniform(-2, 3, (300, 2))])
    assert np.max(np.abs(TwoMoons().logpdf(x) - TwoMoons(n_nodes=1000).logpdf(x))) <= 1e-9


def test_mixture_against_scipy(rng):
    toy = GaussianMixture()
    x = rng.normal(size=(100, 2)) * 2
    dens = sum(w * stats.multivariate_normal(m, c).pdf(x)
               for w, m, c in zip(toy.weights, toy.means, toy.covs))
    assert np.max(np.abs(toy.logpdf(x) - np.log(dens))) <= 1e-12
    e8 = EightGaussians()
    assert np.allclose(np.linalg.norm(e8.means, axis=1), 2.0) and e8.weights.size == 8


def test_banana_against_scipy(rng):
    toy = Banana(a=1.2, b=0.4, sigma=0.5)
    x = rng.normal(size=(100, 2))
    ref = stats.norm(0, 1.2).logpdf(x[:, 0]) + stats.norm(0.4 * (x[:, 0] ** 2 - 1.44),
                                                          0.5).logpdf(x[:, 1])
    assert np.max(np.abs(toy.logpdf(x) - ref)) <= 1e-12


@pytest.mark.parametrize("name", ["banana", "funnel", "checkerboard"])
def test_closed_form_entropy_against_monte_carlo(name):
    toy = make_toy(name)
    exact, se = toy.entropy()
    assert se == 0.0
    lp = toy.logpdf(toy.rvs(100_000, random_state=5))
    mc, mc_se = -lp.mean(), lp.std() / np.sqrt(lp.size)
    assert abs(mc - exact) <= 5 * mc_se + 1e-12


# ---------------------------------------------------------------- far out, tiny noise, small n
def test_far_points_give_minus_inf_never_nan():
    # the exact values are below -1e308: the density rounds to 0, its log to -inf
    lp = TwoMoons().logpdf([[1e155, 0.0], [0.0, -1e200], [0.5, 0.25]])
    assert lp[0] == -np.inf and lp[1] == -np.inf and np.isfinite(lp[2])
    assert TwoMoons().pdf([[1e155, 0.0]])[0] == 0.0
    lf = Funnel().logpdf([[-1000.0, 0.0], [-1000.0, 1.0], [1000.0, 1e300]])
    scale = 1.5                              # at x2 = 0 the neck term vanishes: an exact value
    expected = -0.5 * (1000.0 / scale) ** 2 - np.log(scale) + 500.0 - np.log(2 * np.pi)
    assert lf[0] == pytest.approx(expected, rel=1e-15)
    assert lf[1] == -np.inf and np.isfinite(lf[2])


def test_two_moons_far_value_keeps_its_relative_accuracy():
    # at |x| = 1e8 the distance to every node is |x| to 1e-8 relative; the expansion
    # |x|^2 - 2 x.c + |c|^2 lost the digits of the cross term
    x = np.array([[1e8, 0.0]])
    lp = TwoMoons(noise=0.5).logpdf(x)[0]
    # nearest point of the lower arc is (2, 0.5) (t = pi): distance^2 ~ (1e8 - 2)^2
    lead = -0.5 * (1e8 - 2.0) ** 2 / 0.25
    assert abs(lp - lead) < 1e-6 * abs(lead)


def test_tiny_noise_is_refused_and_small_noise_is_linear_cost():
    with pytest.raises(ValueError, match="noise"):
        TwoMoons(noise=1e-7)
    with pytest.raises(ValueError, match="n_nodes"):
        TwoMoons(n_nodes=10 ** 7)
    toy = TwoMoons(noise=0.005)                                     # 3000 nodes, composite
    assert toy._t.size == 3008
    x = toy.rvs(200, random_state=0)
    np.testing.assert_allclose(toy.logpdf(x), TwoMoons(noise=0.005, n_nodes=6000).logpdf(x),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 0, -1, 2.5, None, np.nan, [5], True])
def test_entropy_needs_at_least_two_samples(n):
    with pytest.raises(ValueError, match="n"):
        TwoMoons().entropy(n=n)


@pytest.mark.parametrize("size", [None, np.inf, np.nan, 2.5, [2], True, -1, "3"])
def test_every_wrong_size_is_refused(size):
    with pytest.raises(ValueError, match="size"):
        Banana().rvs(size)
    with pytest.raises(ValueError, match="n"):
        sample_two_moons(size)


@pytest.mark.parametrize("make", [
    lambda: Banana(a="1"), lambda: Banana(b=1j), lambda: Funnel(scale=None),
    lambda: Rings(radii=[1j]), lambda: GaussianMixture([[0.0, 1j]], [np.eye(2)]),
    lambda: GaussianMixture([[0.0, 0.0]], [np.eye(2) * np.nan]), lambda: make_toy(["rings"]),
    lambda: TwoMoons(noise=True), lambda: TwoMoons(n_nodes=64.5),
])
def test_complex_strings_and_wrong_types_are_refused(make):
    with pytest.raises(ValueError):
        make()
