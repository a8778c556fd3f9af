"""nfref.interactive: the static figures hold the right numbers, bad arguments are refused, and
the sliders (with ipywidgets) redraw the figure at their values."""

import base64
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nfref import interactive  # noqa: E402
from nfref.interactive import explore_planar, explore_spline  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _ax(fig, label):
    (ax,) = [a for a in fig.axes if a.get_label() == label]
    return ax


def _text(fig):
    return "\n".join(t.get_text() for t in _ax(fig, "text").texts)


def _softplus(v):
    return np.logaddexp(0.0, v)


def _rho_hat(w, rho):
    """Rezende and Mohamed (2015), A.1, written out here (not the library's)."""
    s = w @ rho
    return rho + (_softplus(s) - 1.0 - s) * w / (w @ w)


def _planar_density(x, w, rho, b):
    """p_X(x) = phi(u) / (1 + h'(w^T u + b) w^T rho_hat), u solved here by bisection on
    tau = tanh(w^T x + b - c tau) (an independent inverse, vectorized)."""
    rho_hat = _rho_hat(w, rho)
    c = w @ rho_hat
    z = x @ w + b
    lo, hi = -np.ones(len(x)), np.ones(len(x))
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = mid - np.tanh(z - c * mid) > 0
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    tau = 0.5 * (lo + hi)
    u = x - np.outer(tau, rho_hat)
    hp = 1.0 - np.tanh(u @ w + b) ** 2
    return np.exp(-0.5 * np.sum(u * u, 1)) / (2 * np.pi) / (1.0 + hp * c)


# ---------------------------------------------------------------------- planar, static
def test_import_loads_neither_matplotlib_nor_ipywidgets():
    code = ("import sys, nfref, nfref.interactive; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_planar_density_panel_integrates_to_one_and_matches_the_formula():
    w, rho, b = np.array([2.0, 1.0]), np.array([0.5, 1.8]), 0.3
    fig = explore_planar(w, rho, b, bounds=((-7, 7), (-7, 7)), grid=281, widgets=False)
    ax = _ax(fig, "density")
    dens = np.asarray(ax.images[0].get_array())
    assert dens.shape == (281, 281)
    assert tuple(ax.images[0].get_extent()) == (-7, 7, -7, 7)
    step = 14.0 / 280
    assert abs(dens.sum() * step * step - 1.0) < 2e-3
    xs = np.linspace(-7, 7, 281)
    rows = np.random.default_rng(0).integers(0, 281, (200, 2))
    x = np.stack([xs[rows[:, 1]], xs[rows[:, 0]]], 1)            # rows are y, columns x
    expected = _planar_density(x, w, rho, b)
    assert np.max(np.abs(dens[rows[:, 0], rows[:, 1]] - expected)) < 1e-10 * (1 + expected.max())
    cbar = _ax(fig, "<colorbar>")
    assert cbar.get_ylabel() == "density"
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"


def test_planar_grid_panel_is_the_image_of_the_square_grid():
    w, rho, b = np.array([1.0, -0.5]), np.array([-2.0, 1.0]), -0.4
    fig = explore_planar(w, rho, b, bounds=((-3, 3), (-2, 2)), widgets=False)
    ax = _ax(fig, "grid")
    lines = ax.lines[:30]                         # 15 vertical, then 15 horizontal lines
    rho_hat = _rho_hat(w, rho)
    first = np.stack([np.full(200, -3.0), np.linspace(-2, 2, 200)], 1)   # u_1 = -3, vertical
    image = first + np.outer(np.tanh(first @ w + b), rho_hat)
    got = np.stack(lines[0].get_data(), 1)
    assert np.max(np.abs(got - image)) < 1e-12
    last = np.stack([np.linspace(-3, 3, 200), np.full(200, 2.0)], 1)     # u_2 = 2, horizontal
    image = last + np.outer(np.tanh(last @ w + b), rho_hat)
    assert np.max(np.abs(np.stack(lines[29].get_data(), 1) - image)) < 1e-12
    # the line w^T u + b = 0 is drawn and stays fixed: its points satisfy w^T x + b = 0
    (fixed,) = [ln for ln in ax.lines if "fixed" in ln.get_label()]
    pts = np.stack(fixed.get_data(), 1)
    assert np.max(np.abs(pts @ w + b)) < 1e-12


def test_planar_text_shows_rho_and_rho_hat_and_when_raw_rho_folds():
    w, rho = np.array([1.0, 0.0]), np.array([-3.0, 0.5])
    text = _text(explore_planar(w, rho, 0.5, widgets=False))
    s, c = w @ rho, w @ _rho_hat(w, rho)
    assert f"w^\\top\\rho = {s:.3f}" in text and "would fold" in text
    assert f"= {c:.3f} > -1" in text
    rh = _rho_hat(w, rho)
    assert f"\\hat\\rho = ({rh[0]:.2f}, {rh[1]:.2f})" in text
    assert "\\rho = (-3.00, 0.50)" in text
    ok = _text(explore_planar([1.0, 0.0], [0.5, 0.5], 0.0, widgets=False))
    assert "would be invertible too" in ok and "fold" not in ok


def test_static_figure_prints_nothing(capsys):
    fig = explore_planar(widgets=None)
    explore_spline(widgets=None)
    assert capsys.readouterr() == ("", "")
    assert fig.number in plt.get_fignums()            # a pyplot figure: plt.show() shows it


# ---------------------------------------------------------------------- spline, static
def _knots(uw, uh, ud, B, m=1e-3):
    """The knots of Durkan et al. (2019), written out here (not the library's)."""
    K = len(uw)
    p = lambda u: np.exp(u - np.max(u)) / np.sum(np.exp(u - np.max(u)))      # noqa: E731
    xk = np.concatenate([[-B], -B + np.cumsum(2 * B * (m + (1 - K * m) * p(np.asarray(uw))))])
    yk = np.concatenate([[-B], -B + np.cumsum(2 * B * (m + (1 - K * m) * p(np.asarray(uh))))])
    delta = np.concatenate([[1.0], m + _softplus(np.asarray(ud, float)), [1.0]])
    return xk, yk, delta


def _line(ax, label):
    (line,) = [ln for ln in ax.lines if ln.get_label() == label]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_spline_curve_passes_through_its_knots_and_is_the_library_forward():
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    uw, uh, ud = (0.3, -0.8, 1.1, 0.0, 0.5), (-0.2, 0.9, 0.1, -1.0, 0.4), (2.0, -1.5, 0.2, 0.7)
    fig = explore_spline(uw, uh, ud, bound=2.5, widgets=False)
    xk, yk, delta = _knots(uw, uh, ud, 2.5)
    ax = _ax(fig, "map")
    kx, ky = _line(ax, "knots $(x_k, y_k)$")
    assert np.max(np.abs(kx - xk)) < 1e-12 and np.max(np.abs(ky - yk)) < 1e-12
    t, y = _line(ax, r"$y = \zeta(t)$")
    assert np.all(np.diff(t) > 0) and np.all(np.diff(y) > 0)     # monotone
    assert np.max(np.abs(np.interp(xk, t, y) - yk)) < 1e-12      # through every knot
    f = RationalQuadraticSpline(5, 2.5)
    xi = np.concatenate([uw, uh, ud])
    ref = f.forward(t[:, None], np.broadcast_to(xi, (t.size, 1, xi.size)))[0][:, 0]
    assert np.max(np.abs(y - ref)) == 0.0
    outside = np.abs(t) > 2.5
    assert outside.any() and np.max(np.abs(y[outside] - t[outside])) == 0.0   # linear tails
    der = _ax(fig, "derivative")
    kx, kd = _line(der, r"knot derivatives $\delta_k$")
    assert np.max(np.abs(kd - delta)) < 1e-12
    td, dy = _line(der, r"$d y / d t$")
    at = np.searchsorted(td, kx)
    assert np.array_equal(td[at], kx)                          # the knots are on the drawn grid
    assert np.max(np.abs(dy[at] - delta) / delta) < 1e-10      # dy/dt = delta_k at the knots
    assert der.get_yscale() == "linear" and der.get_ylabel() == "$dy/dt$"


def test_spline_density_integrates_to_one_and_is_normal_on_the_tails():
    fig = explore_spline(widgets=False)
    ax = _ax(fig, "density")
    y, p = _line(ax, r"$p_Y(y) = \varphi(t)\,/\,\zeta'(t)$")
    assert np.all(p >= 0)
    mass = np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(y))
    assert abs(mass - 1.0) < 1e-4                      # [-5, 5] holds all but 6e-7 of it
    tail = np.abs(y) > 3.0
    phi = np.exp(-0.5 * y[tail] ** 2) / np.sqrt(2 * np.pi)
    assert np.max(np.abs(p[tail] - phi)) < 1e-15
    assert ax.get_ylabel() == "density" and ax.get_xlabel() == "$y$"


def test_spline_log_scale_and_no_density_panel():
    fig = explore_spline(log_derivative=True, density=False, widgets=False)
    assert [a.get_label() for a in fig.axes] == ["map", "derivative", "text"]
    der = _ax(fig, "derivative")
    assert der.get_yscale() == "log" and "log scale" in der.get_ylabel()
    text = _text(fig)
    assert "softmax" in text and "softplus" in text


# ---------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("kwargs, name", [
    ({"w": (0.0, 0.0)}, "w"),
    ({"w": (1.0, 2.0, 3.0)}, "w and rho"),
    ({"rho": (np.nan, 1.0)}, "rho"),
    ({"rho": "up"}, "rho"),
    ({"b": (1.0, 2.0)}, "b"),
    ({"b": np.inf}, "b"),
    ({"bounds": ((1, -1), (0, 1))}, "bounds"),
    ({"grid": 1}, "grid"),
    ({"grid": 2.5}, "grid"),
    ({"widgets": "yes"}, "widgets"),
    ({"w": (1.0, 0.0), "rho": (-800.0, 0.0)}, "softplus"),
])
def test_planar_refuses_bad_arguments(kwargs, name):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match=name):
        explore_planar(**kwargs)
    assert plt.get_fignums() == before                     # no figure left half-made


@pytest.mark.parametrize("kwargs, name", [
    ({"raw_widths": (0.0, 1.0)}, "raw_heights"),
    ({"raw_derivatives": (1.0,)}, "raw_derivatives"),
    ({"raw_widths": [[0.0, 1.0]]}, "raw_widths"),
    ({"raw_widths": ()}, "raw_widths"),
    ({"raw_heights": (0.0, np.nan, 0.0, 0.0)}, "raw_heights"),
    ({"bound": 0.0}, "bound"),
    ({"bound": "3"}, "bound"),
    ({"density": 1}, "density"),
    ({"log_derivative": None}, "log_derivative"),
    ({"widgets": 0}, "widgets"),
    ({"raw_derivatives": (1e16, 0.0, 0.0)}, "float64 cannot resolve"),
])
def test_spline_refuses_bad_arguments(kwargs, name):
    before = plt.get_fignums()
    with pytest.raises(ValueError, match=name):
        explore_spline(**kwargs)
    assert plt.get_fignums() == before


def test_widgets_true_without_a_front_end_is_refused():
    assert "not running in an IPython kernel" in interactive._front_end()
    for explore in (explore_planar, explore_spline):
        with pytest.raises(ValueError, match="widgets=True: expected a running widget front-end"):
            explore(widgets=True)


# ---------------------------------------------------------------------- the sliders
def test_planar_sliders_redraw_the_figure_at_their_values():
    pytest.importorskip("ipywidgets")
    values = interactive._planar_arguments((2.0, 1.0), (0.5, 1.8), 0.0)
    box = np.array([[-4.0, 4.0], [-4.0, 4.0]])
    fig = plt.figure()
    interactive._planar_draw(fig, bounds=box, grid=60, **values)
    live = interactive._planar_explorer(fig, values, box, 60)
    assert set(live.controls) == {"angle", "length", "rho1", "rho2", "b"}
    assert live.controls["angle"].value == pytest.approx(np.degrees(np.arctan2(1.0, 2.0)))
    before = np.asarray(_ax(fig, "density").images[0].get_array()).copy()
    live.update(angle=0.0, length=1.0, rho1=-3.0, rho2=0.5, b=0.5)
    text = _text(fig)
    assert "w = (1.00, 0.00)" in text and "would fold" in text
    xs = np.linspace(-4, 4, 60)
    after = np.asarray(_ax(fig, "density").images[0].get_array())
    X, Y = np.meshgrid(xs, xs)
    expected = _planar_density(np.stack([X.ravel(), Y.ravel()], 1), np.array([1.0, 0.0]),
                               np.array([-3.0, 0.5]), 0.5).reshape(60, 60)
    assert np.max(np.abs(after - expected)) < 1e-10 * expected.max()
    assert np.max(np.abs(after - before)) > 0.1
    live.controls["b"].value = -1.0                    # what a moved slider does
    assert "b = -1.00" in _text(fig)
    with pytest.raises(ValueError, match="expected names among"):
        live.update(c=1.0)
    bundle = live._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_spline_sliders_move_the_knots_and_the_scale():
    pytest.importorskip("ipywidgets")
    arrays = interactive._spline_arguments((0.0, 0.5, -0.4, 0.2), (0.6, -0.4, 0.2, -0.3),
                                           (1.0, -1.0, 0.3))
    values = interactive._spline_values(arrays)
    fig = plt.figure()
    interactive._spline_draw(fig, 4, 3.0, True, False, **values)
    live = interactive._spline_explorer(fig, 4, 3.0, True, False, values)
    assert len(live.controls) == 4 + 4 + 3 + 1
    live.update(uw0=2.0, uh3=-1.0, ud2=-3.0, log_scale=True)
    new = dict(values, uw0=2.0, uh3=-1.0, ud2=-3.0)
    xk, yk, delta = _knots([new[f"uw{j}"] for j in range(4)], [new[f"uh{j}"] for j in range(4)],
                           [new[f"ud{k}"] for k in (1, 2, 3)], 3.0)
    kx, ky = _line(_ax(fig, "map"), "knots $(x_k, y_k)$")
    assert np.max(np.abs(kx - xk)) < 1e-12 and np.max(np.abs(ky - yk)) < 1e-12
    _, kd = _line(_ax(fig, "derivative"), r"knot derivatives $\delta_k$")
    assert np.max(np.abs(kd - delta)) < 1e-12
    assert _ax(fig, "derivative").get_yscale() == "log"
    live.controls["log_scale"].value = False
    assert _ax(fig, "derivative").get_yscale() == "linear"


def test_auto_mode_in_a_kernel_displays_sliders_with_the_static_png(monkeypatch):
    pytest.importorskip("ipywidgets")
    import IPython.display
    shown = []
    monkeypatch.setattr(interactive, "_front_end", lambda: None)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig = explore_planar(grid=40)
    (live,) = [o for o in shown if isinstance(o, interactive._Live)]
    assert isinstance(live, interactive._Live) and live.fig is fig
    assert fig.number not in plt.get_fignums()     # closed: not drawn twice at the cell's end
    assert "image/png" in live._repr_mimebundle_()
    shown.clear()
    fig = explore_spline(widgets=True)
    (live,) = [o for o in shown if isinstance(o, interactive._Live)]
    assert live.fig is fig
    shown.clear()
    explore_spline(widgets=False)
    assert shown == []
