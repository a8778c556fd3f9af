"""Plotting helpers: they draw what they are given, return their axes, and refuse bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nfref.datasets import Banana, Checkerboard
from nfref.distributions import Flow, StandardNormal, UniformCube
from nfref.k_layers import Chain
from nfref.one_layer import Planar
from nfref.one_layer.linear import ElementwiseAffine, PLULinear
from nfref.plotting import (density_grid, plot_density, plot_layers, plot_samples,
                            plot_training_curve, plot_warped_grid)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_density_grid_is_the_density_and_integrates_to_one():
    xs, ys, dens = density_grid(StandardNormal(2).logpdf, ((-7, 7), (-6, 6)), 301)
    assert dens.shape == (301, 301)
    # rows are y: the density at (xs[j], ys[i])
    i, j = 40, 250
    assert abs(dens[i, j] - np.exp(StandardNormal(2).logpdf([[xs[j], ys[i]]]))[0]) <= 1e-15
    total = np.trapezoid(np.trapezoid(dens, xs, axis=1), ys)
    assert abs(total - 1.0) <= 1e-6
    _, _, zero = density_grid(Checkerboard().logpdf, ((3, 4), (3, 4)), 5)
    assert np.all(zero == 0.0)


def test_plot_density_creates_or_reuses_axes():
    ax = plot_density(Banana().logpdf, bounds=Banana().bounds, grid=50)
    assert len(ax.images) == 1 and ax.get_xlim() == Banana().bounds[0]
    fig, ax2 = plt.subplots()
    assert plot_density(Banana().logpdf, ax=ax2, grid=30, kind="contour") is ax2
    with pytest.raises(ValueError, match="kind"):
        plot_density(Banana().logpdf, kind="surface")
    with pytest.raises(ValueError, match="bounds"):
        plot_density(Banana().logpdf, bounds=((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="NaN"):
        plot_density(lambda x: np.full(x.shape[0], np.nan), grid=5)


def test_plot_samples_draws_both_sets():
    x, data = np.zeros((10, 2)), np.ones((20, 2))
    ax = plot_samples(x, data=data, bounds=((-1, 2), (-1, 2)))
    sizes = sorted(len(c.get_offsets()) for c in ax.collections)
    assert sizes == [10, 20]
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_samples(np.zeros((5, 3)))


def test_warped_grid_is_the_image_of_the_grid(rng):
    t = PLULinear.random(2, rng)
    ax = plot_warped_grid(t, n_lines=5, n_points=11, bounds=((-1, 1), (-2, 2)))
    lines = ax.get_lines()
    assert len(lines) == 10
    first = lines[0].get_xydata()                                 # the line x = -1
    pre = np.stack([np.full(11, -1.0), np.linspace(-2, 2, 11)], 1)
    assert np.max(np.abs(first - t.forward(pre)[0])) <= 1e-12
    with pytest.raises(ValueError, match="dimension 2"):
        plot_warped_grid(PLULinear.random(3, rng))
    with pytest.raises(ValueError, match="n_lines"):
        plot_warped_grid(t, n_lines=0)
    with pytest.raises(ValueError, match="n_points"):
        plot_warped_grid(t, n_points=1)


def test_plot_layers_one_panel_per_Yk(rng):
    chain = Chain([ElementwiseAffine.random(2, rng), PLULinear.random(2, rng),
                   ElementwiseAffine.random(2, rng)])
    flow = Flow(StandardNormal(2), chain)
    axes = plot_layers(flow, grid=40, n_samples=500)
    assert len(axes) == 4 and axes[0].get_title() == "$Y_{0}$ $= U$"
    assert axes[-1].get_title() == "$Y_{3}$ $= X$"
    # panel k shows the density of Y_k: its grid values are those of the flow cut after k layers
    img = axes[2].images[0].get_array()
    (x0, _), (y0, _) = axes[2].get_xlim(), axes[2].get_ylim()
    ref = Flow(StandardNormal(2), chain[:2]).pdf([[x0, y0]])[0]
    assert abs(img[0, 0] - ref) <= 1e-12 * max(ref, 1.0)
    # the same with a chain and a base, and a uniform base; many layers give nine panels
    assert len(plot_layers(chain, base=UniformCube(2), grid=20, n_samples=200)) == 4
    long = Chain([ElementwiseAffine.random(2, rng, scale=0.1) for _ in range(20)])
    assert len(plot_layers(long, base=StandardNormal(2), grid=10, n_samples=200)) == 9
    _, four = plt.subplots(1, 4)
    assert plot_layers(long, base=StandardNormal(2), axes=four, grid=10)[-1].get_title() == \
        "$Y_{20}$ $= X$"
    with pytest.raises(ValueError, match="base"):
        plot_layers(chain)
    with pytest.raises(ValueError, match="between 0 and K"):
        plot_layers(flow, ks=[0, 4])


def test_training_curve_with_entropy_line():
    h = 2.0 + np.exp(-np.arange(50) / 10)
    ax = plot_training_curve(h, entropy=2.0, test=([10, 50], [2.5, 2.1]))
    assert len(ax.get_lines()) == 3
    assert ax.get_lines()[2].get_ydata()[0] == 2.0
    ax = plot_training_curve(h, entropy=2.0, logy=True)
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="1-D"):
        plot_training_curve(np.zeros((2, 2)))


@pytest.mark.parametrize("grid", [2.7, 1, None, np.nan, [3], True, "3"])
def test_density_grid_refuses_a_grid_that_is_not_an_integer(grid):
    with pytest.raises(ValueError, match="grid"):
        density_grid(StandardNormal(2).logpdf, grid=grid)


@pytest.mark.parametrize("ks", [[0.5], [np.nan], [None], ["1"], [True], [-1], [5], 0, []])
def test_plot_layers_refuses_ks_that_are_not_layer_indices(rng, ks):
    flow = Flow(StandardNormal(2), Chain([Planar.random(2, rng) for _ in range(2)]))
    with pytest.raises(ValueError, match="ks"):
        plot_layers(flow, ks=ks, grid=10, n_samples=50)


def test_plotting_options_are_checked():
    with pytest.raises(ValueError, match="levels"):
        plot_density(StandardNormal(2).logpdf, kind="contour", levels=2.5, grid=5)
    with pytest.raises(ValueError, match="bounds"):
        density_grid(StandardNormal(2).logpdf, bounds=((0, 1j), (0, 1)))
    with pytest.raises(ValueError, match="entropy"):
        plot_training_curve([1.0, 0.5], entropy="1")
    with pytest.raises(ValueError, match="history"):
        plot_training_curve([1.0, 1j])
    with pytest.raises(ValueError, match="test"):
        plot_training_curve([1.0, 0.5], test=([1, 2], [1.0]))
