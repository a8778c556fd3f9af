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


def test_density_panels_have_labels_and_a_colour_bar_on_the_drawn_scale():
    fig, ax = plt.subplots()
    plot_density(StandardNormal(2).logpdf, ax=ax, grid=41)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x_1$", "$x_2$")
    bars = [a for a in fig.axes if a is not ax]
    assert len(bars) == 1 and bars[0].get_ylabel() == "density"
    # the colour bar spans the drawn values: 0 up to the peak 1 / (2 pi) at the origin
    lo, hi = ax.images[0].get_clim()
    assert lo >= 0 and abs(hi - 1 / (2 * np.pi)) <= 1e-12
    fig, ax = plt.subplots()
    plot_density(StandardNormal(2).logpdf, ax=ax, grid=5, colorbar=False, xlabel=None)
    assert len(fig.axes) == 1 and ax.get_xlabel() == ""
    with pytest.raises(ValueError, match="colorbar"):
        plot_density(StandardNormal(2).logpdf, grid=5, colorbar="yes")


def test_plot_layers_panels_share_one_box_unless_asked(rng):
    chain = Chain([ElementwiseAffine(np.array([3.0, -1.0]), np.array([1.5, 0.0])),
                   ElementwiseAffine(np.array([0.0, 0.0]), np.array([-3.0, -3.0]))])
    flow = Flow(StandardNormal(2), chain)
    axes = plot_layers(flow, grid=20, n_samples=2000)
    limits = {(a.get_xlim(), a.get_ylim()) for a in axes}
    assert len(limits) == 1
    (x0, x1), _ = limits.pop()
    # the shared box holds every Y_k: Y_1 spans x in about 3 +- 2.6 e^1.5 = [-9, 15]; Y_2 is
    # Y_1 scaled by e^-3, 20 times narrower
    assert x0 < -5 and x1 > 15
    each = plot_layers(flow, grid=20, n_samples=2000, bounds="each")
    widths = [np.diff(a.get_xlim())[0] for a in each]
    assert widths[1] > 10 * widths[2]
    assert all(len(a.figure.axes) == 2 * len(each) for a in each)   # a colour bar each
    with pytest.raises(ValueError, match="bounds"):
        plot_layers(flow, grid=10, bounds="every")


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


# ---------------------------------------------------------------------- animations
import gc  # noqa: E402


def _chain_flow(seed=0, K=3):
    rng = np.random.default_rng(seed)
    layers = [ElementwiseAffine([0.5, -0.3], [0.2, -0.1])] + \
        [Planar.random(2, random_state=rng) for _ in range(K - 1)]
    return Flow(StandardNormal(2), Chain(layers))


def test_animate_layers_has_one_frame_per_layer_on_shared_limits(tmp_path):
    from PIL import Image

    from nfref.plotting import animate_layers
    flow = _chain_flow(K=3)
    box = ((-4.0, 4.0), (-3.0, 5.0))
    anim = animate_layers(flow, bounds=box, grid=40, interval=100)
    assert len(list(anim.new_frame_seq())) == 4                    # Y_0 .. Y_3
    assert anim.densities.shape == (4, 40, 40)
    xs, ys = np.linspace(-4, 4, 40), np.linspace(-3, 5, 40)
    X, Y = np.meshgrid(xs, ys)
    # frame 0 is the base density, the last frame the flow's density, on the same grid
    np.testing.assert_allclose(anim.densities[0], np.exp(-(X**2 + Y**2) / 2) / (2 * np.pi),
                               rtol=1e-12)
    last = np.exp(flow.logpdf(np.stack([X.ravel(), Y.ravel()], 1))).reshape(40, 40)
    np.testing.assert_allclose(anim.densities[-1], last, rtol=1e-10, atol=1e-300)
    path = tmp_path / "layers.gif"
    anim.save(path, writer="pillow", fps=5)                         # draws every frame
    assert anim.ax.get_xlim() == (-4.0, 4.0) and anim.ax.get_ylim() == (-3.0, 5.0)
    assert tuple(anim.ax.images[0].get_extent()) == (-4.0, 4.0, -3.0, 5.0)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
    assert "<script" in anim.to_jshtml()


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_animate_layers_default_bounds_cover_every_layer():
    from nfref.plotting import animate_layers
    flow = _chain_flow(K=2)
    anim = animate_layers(flow, grid=20, n_samples=2000, random_state=1)
    ys, _ = flow.transform.forward_pass(flow.base.rvs(2000, 1))
    for y in ys:                                 # the box holds the bulk of every Y_k
        inside = np.all((y >= anim.bounds[:, 0]) & (y <= anim.bounds[:, 1]), axis=1)
        assert inside.mean() > 0.98
    del anim                                       # never rendered: collected under the filter
    gc.collect()


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_animate_fit_takes_flows_snapshots_or_a_history_and_restores_the_flow(tmp_path):
    from types import SimpleNamespace

    from nfref.plotting import animate_fit
    flow = _chain_flow(seed=2, K=2)
    before = {k: v.copy() for k, v in flow.params.items()}
    snaps = [{k: v + 0.1 * i for k, v in before.items()} for i in range(3)]
    anim = animate_fit(snaps, flow=flow, grid=30)
    assert len(list(anim.new_frame_seq())) == 3
    for k in before:                                  # the flow is left as it came
        np.testing.assert_array_equal(flow.params[k], before[k])
    # frame i is the density with snapshot i: rebuild that flow independently and compare
    from copy import deepcopy
    other = deepcopy(flow)
    for k, v in snaps[2].items():
        other.params[k][...] = v
    np.testing.assert_allclose(anim.densities[2], density_grid(other.logpdf, ((-3, 3), (-3, 3)),
                                                               30)[2], rtol=1e-12)
    flows = animate_fit([flow, other], grid=30)
    np.testing.assert_allclose(flows.densities[1], anim.densities[2], rtol=1e-12)
    history = SimpleNamespace(snapshots=snaps, snapshot_steps=[0, 50, 100])
    anim = animate_fit(history, flow=flow, grid=30, data=np.zeros((5, 2)))
    anim.save(tmp_path / "fit.gif", writer="pillow", fps=4)
    assert (tmp_path / "fit.gif").read_bytes()[:4] == b"GIF8"
    assert anim.ax.get_title() == "step 100"                        # the last frame drawn
    assert anim.ax.get_xlim() == (-3.0, 3.0)
    del anim, flows                     # inside the warning filter: two were never rendered
    gc.collect()


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")
def test_animations_refuse_bad_input():
    from nfref.plotting import animate_fit, animate_layers
    flow = _chain_flow()
    with pytest.raises(ValueError, match="flow"):
        animate_fit([dict(flow.params)])                              # snapshots without a flow
    with pytest.raises(ValueError, match="keys"):
        animate_fit([{"nope": np.zeros(2)}], flow=flow)
    with pytest.raises(ValueError, match="history_or_snapshots"):
        animate_fit([])
    with pytest.raises(ValueError, match="colors"):
        animate_layers(flow, colors="rainbow")
    with pytest.raises(ValueError, match="steps"):
        animate_fit([flow, flow], steps=[1])
