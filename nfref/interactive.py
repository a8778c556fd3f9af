r"""Figures with sliders: one planar layer and one rational-quadratic spline, explored by hand.

:func:`explore_planar` draws the density of :math:`x = u + \hat\rho\,\tanh(w^\top u + b)`,
:math:`u \sim N(0, I_2)` (notes 000, sec. 2; Rezende and Mohamed, 2015, eq. (10) and A.1), and
the image of a square grid; :func:`explore_spline` draws one rational-quadratic spline
transformer (notes 000, sec. 4.1; Durkan et al., 2019, eqs. (4)-(5)), its derivative and the
density it makes of a standard normal.

Each function first draws a static figure for the values it is given and returns it, so a
script (``fig.savefig``), a test and a notebook saved with its outputs all hold a real
figure. Only inside an IPython kernel (Jupyter) with ``ipywidgets`` installed does it also
show sliders that redraw the figure in place. There the cell's output is one display whose
widget view (sliders above the live figure) a widget front-end shows, and whose static PNG
(the figure at the values given) every other renderer shows: a notebook viewer without
widgets, a website built from the saved notebook.

Neither matplotlib nor ipywidgets is imported until a function is called; IPython is only
looked at when something has already imported it (a kernel has).
"""

import sys

import numpy as np

from nfref._validation import as_float, as_int, as_real, check_finite

__all__ = ["explore_planar", "explore_spline"]


# ---------------------------------------------------------------------- widgets or not
def _front_end():
    """``None`` if sliders can be shown here, else the reason why not (a sentence)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return "not running in an IPython kernel (Jupyter), so no widget front-end can show them"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "ipywidgets is not installed (pip install ipywidgets)"
    return None


def _use_widgets(widgets, who):
    """Decide whether to show sliders: ``widgets`` is None (when possible), True or False."""
    if widgets is not None and not isinstance(widgets, (bool, np.bool_)):
        raise ValueError(f"{who}: widgets: expected None (sliders when a widget front-end runs), "
                         f"True or False, got {widgets!r}")
    if widgets is not None and not widgets:
        return False
    why = _front_end()
    if why is not None and widgets:
        raise ValueError(f"{who}: widgets=True: expected a running widget front-end (an IPython "
                         f"kernel with ipywidgets), but {why}; use widgets=None or False for the "
                         "static figure")
    return why is None


def _write(ax, lines):
    """The lines of text under a figure, on an axes without a frame."""
    ax.axis("off")
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=10,
            transform=ax.transAxes, linespacing=1.6)


class _Live:
    """Rows of sliders above the figure, redrawn by ``draw(fig, **values)`` when one moves.

    ``rows`` is a list of ``(label, [(name, control), ...])``. ``controls`` maps each name to
    its widget; :meth:`update` sets some values and redraws once (what a moved slider does).
    Displayed, it is one output: the widget view for a widget front-end and the figure at
    the values given, as a PNG, for any other renderer (``_repr_mimebundle_``).
    """

    def __init__(self, fig, draw, rows):
        import ipywidgets
        self.fig, self._draw, self._quiet = fig, draw, False
        self._static = None
        self.controls = {name: control for _, row in rows for name, control in row}
        self.output = ipywidgets.Output()
        lines = [ipywidgets.HBox([ipywidgets.Label(label, layout={"width": "9em"})]
                                 + [control for _, control in row],
                                 layout={"flex_flow": "row wrap"}) for label, row in rows]
        self.box = ipywidgets.VBox(lines + [self.output])
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self._show()

    def values(self):
        """The current value of every control, ``{name: value}``."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self, **values):
        """Set the named controls (unknown names: ``ValueError``) and redraw the figure once."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"update: expected names among {sorted(self.controls)}, got "
                             f"{unknown}")
        self._quiet = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._quiet = False
        self._redraw()

    def _changed(self, change):
        if not self._quiet:
            self._redraw()

    def _redraw(self):
        try:
            self._draw(self.fig, **self.values())
        except ValueError as exc:              # a refused combination: say so in the figure
            self.fig.clf()
            self.fig.text(0.5, 0.5, f"not drawn: {exc}", ha="center", va="center", wrap=True)
        self._show()

    def _show(self):
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is None:              # no shell: nothing could show the output
            return
        self.output.clear_output(wait=True)
        with self.output:
            display(self.fig)

    def _repr_mimebundle_(self, include=None, exclude=None):
        from IPython.core.pylabtools import print_figure
        if self._static is None:               # the figure at the values given, once
            self._static = print_figure(self.fig, "png", base64=True)
        data = dict(self.box._repr_mimebundle_())
        data["image/png"] = self._static
        data["text/plain"] = ("interactive figure (sliders need a widget front-end; the PNG is "
                              "the figure at the values given)")
        return data


def _slider(value, low, high, step, description, fmt=".2f"):
    import ipywidgets
    low, high = min(low, value), max(high, value)
    return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step,
                                  description=description, readout_format=fmt,
                                  continuous_update=False, style={"description_width": "initial"},
                                  layout={"width": "15em"})


def _finish(fig, live_builder, show):
    """Return ``fig``; first, if ``show``, display it with sliders (``live_builder(fig)``)."""
    if not show:
        return fig
    import matplotlib.pyplot as plt
    from IPython.display import display
    plt.close(fig)          # shown by the display below, not a second time at the cell's end
    display(live_builder(fig))
    return fig


def _box(bounds, name):
    b = as_real(bounds, name)
    if b.shape != (2, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError(f"{name}: expected ((x_lo, x_hi), (y_lo, y_hi)) with lo < hi, finite, "
                         f"got {bounds!r}")
    return b


# ---------------------------------------------------------------------- planar
def _planar_arguments(w, rho, b):
    w = as_real(w, "explore_planar: w")
    rho = as_real(rho, "explore_planar: rho")
    if w.shape != (2,) or rho.shape != (2,):
        raise ValueError("explore_planar: expected w and rho of shape (2,) (a 2-D layer), got "
                         f"{w.shape} and {rho.shape}")
    check_finite(w, "explore_planar: w")
    check_finite(rho, "explore_planar: rho")
    b = as_float(b, "explore_planar: b")
    length = float(np.hypot(*w))
    if not length > 0:
        raise ValueError(f"explore_planar: w: expected a nonzero vector (the reparameterization "
                         f"divides by ||w||^2), got {w.tolist()}")
    angle = float(np.degrees(np.arctan2(w[1], w[0])))
    return {"angle": angle, "length": length, "rho1": float(rho[0]), "rho2": float(rho[1]),
            "b": b}


def _planar_layer(angle, length, rho1, rho2, b):
    from nfref.one_layer import Planar
    a = np.radians(angle)
    return Planar(length * np.array([np.cos(a), np.sin(a)]), [rho1, rho2], [b])


def _planar_draw(fig, angle, length, rho1, rho2, b, bounds, grid):
    """Draw the two panels and the text of :func:`explore_planar` on ``fig`` (cleared)."""
    from nfref.distributions import Flow, StandardNormal
    from nfref.plotting import plot_density, plot_warped_grid
    layer = _planar_layer(angle, length, rho1, rho2, b)
    w, rho = layer.params["w"], layer.params["rho"]
    rho_hat, c, one_plus_c = layer.constrained()
    s = float(w @ rho)
    fig.clf()
    axes = fig.subplot_mosaic([["density", "grid"], ["text", "text"]],
                              height_ratios=[1.0, 0.2])
    plot_density(Flow(StandardNormal(2), layer).logpdf, ax=axes["density"], bounds=bounds,
                 grid=grid, colorbar=True,
                 title=r"density of $x = u + \hat\rho\,\tanh(w^\top u + b)$, $u \sim N(0, I)$")
    plot_warped_grid(layer, ax=axes["grid"], bounds=bounds, n_lines=15, lw=0.7,
                     title="image of a square grid of $u$")
    grid_ax = axes["grid"]
    grid_ax.set_xlabel("$x_1$")
    grid_ax.set_ylabel("$x_2$")
    # the line w^T u + b = 0, where tanh = 0: every point of it is left where it is
    direction = np.array([-w[1], w[0]]) / np.hypot(*w)
    foot = -b * w / (w @ w)
    span = 4.0 * float(np.max(np.abs(bounds)))
    ends = foot + np.outer([-span, span], direction)
    for name in ("density", "grid"):
        axes[name].plot(ends[:, 0], ends[:, 1], "--", color="w" if name == "density" else "0.3",
                        lw=1.0, label=r"$w^\top u + b = 0$ (fixed)")
    axes["density"].set_xlim(*bounds[0])
    axes["density"].set_ylim(*bounds[1])
    axes["density"].set_aspect("equal", adjustable="box")   # both panels on the same scale
    for vec, color, label in ((w, "C2", "$w$"), (rho, "0.5", r"$\rho$ (raw)"),
                              (rho_hat, "C3", r"$\hat\rho$ (used)")):
        grid_ax.annotate("", xy=vec, xytext=(0, 0),
                         arrowprops={"arrowstyle": "->", "color": color, "lw": 2.0})
        grid_ax.plot([], [], color=color, lw=2.0, label=label)
    grid_ax.legend(loc="upper left", fontsize="small", framealpha=0.85)
    grid_ax.set_aspect("equal", adjustable="box")
    grid_ax.set_xlim(*bounds[0])
    grid_ax.set_ylim(*bounds[1])
    raw = (r"$\geq -1$: the raw layer $u + \rho\,\tanh(w^\top u + b)$ would be invertible too"
           if s >= -1 else
           r"$< -1$: the raw layer $u + \rho\,\tanh(w^\top u + b)$ would fold (not invertible); "
           r"$\hat\rho$ is $\rho$ moved along $w$")
    lines = [rf"$w = ({w[0]:.2f}, {w[1]:.2f})$,  $b = {b:.2f}$,  "
             rf"$\rho = ({rho[0]:.2f}, {rho[1]:.2f})$,  "
             rf"$\hat\rho = ({rho_hat[0]:.2f}, {rho_hat[1]:.2f})$",
             rf"$w^\top\rho = {s:.3f}$ {raw}",
             rf"$w^\top\hat\rho = \mathrm{{softplus}}(w^\top\rho) - 1 = {c:.3f} > -1$: the layer "
             rf"drawn is invertible; $\det J = 1 + h'\,w^\top\hat\rho$ lies between "
             rf"{min(1.0, one_plus_c):.3g} and {max(1.0, one_plus_c):.3g}"]
    _write(axes["text"], lines)
    return axes


def explore_planar(w=(2.0, 1.0), rho=(0.5, 1.8), b=0.0, bounds=((-4, 4), (-4, 4)), grid=150,
                   widgets=None):
    r"""The density of :math:`x = u + \hat\rho\tanh(w^\top u + b)`, :math:`u \sim N(0, I_2)`.

    .. math::
        \log p_X(x) = \log\varphi(u) - \log\big(1 + h'(w^\top u + b)\,w^\top\hat\rho\big),
        \quad u = \phi^{-1}(x),\qquad
        \hat\rho = \rho + \big(\mathrm{softplus}(w^\top\rho) - 1 - w^\top\rho\big)
        \frac{w}{\|w\|^2},

    eq. (8) of notes 000 for the planar layer of :class:`nfref.one_layer.Planar` (Rezende and
    Mohamed, 2015, eq. (10) and A.1), whose reparameterization keeps
    :math:`w^\top\hat\rho = \mathrm{softplus}(w^\top\rho) - 1 > -1`, the condition for
    invertibility, whatever the raw :math:`\rho`.

    Left, the density (:func:`nfref.plotting.plot_density`, by the layer's numerical
    inverse); right, the image of a square grid (:func:`nfref.plotting.plot_warped_grid`)
    with the arrows :math:`w`, :math:`\rho` and :math:`\hat\rho`; in both the line
    :math:`w^\top u + b = 0`, which the map leaves fixed point by point
    (:math:`\tanh 0 = 0`). Below, both :math:`w^\top\rho` and :math:`w^\top\hat\rho`, and
    whether the raw :math:`\rho` would break invertibility (:math:`w^\top\rho < -1`).

    The sliders (when shown) set the angle and the length of :math:`w` (so :math:`w` cannot
    be zero), the two components of the raw :math:`\rho`, and :math:`b`.

    Parameters
    ----------
    w, rho : array_like, shape (2,)
        The layer's parameters; ``w`` nonzero. Raw ``rho``: any value.
    b : float
    bounds : ((x_lo, x_hi), (y_lo, y_hi))
        The box of both panels (and of the square grid of ``u``).
    grid : int
        Points per axis of the density grid, 2 to 1000.
    widgets : None, True or False
        ``None``: sliders when running in an IPython kernel with ``ipywidgets`` installed,
        the static figure otherwise; ``True``: sliders, or ``ValueError`` when they cannot be
        shown; ``False``: the static figure only.

    Returns
    -------
    matplotlib.figure.Figure
        The figure at the values given (redrawn in place when a slider moves). Its axes are
        labelled ``"density"``, ``"grid"``, ``"text"`` and ``"<colorbar>"`` (the density's
        colour bar, labelled "density").

    Raises
    ------
    ValueError
        For a badly shaped or non-finite argument, ``w = 0``, or ``widgets=True`` without a
        widget front-end.

    Examples
    --------
    >>> fig = explore_planar(w=(1.0, 0.0), rho=(-3.0, 0.5), widgets=False)
    >>> fig.savefig("planar.png")      # doctest: +SKIP
    """
    who = "explore_planar"
    values = _planar_arguments(w, rho, b)
    box = _box(bounds, f"{who}: bounds")
    grid = as_int(grid, f"{who}: grid (points per axis)", minimum=2, maximum=1000)
    show = _use_widgets(widgets, who)
    _planar_layer(**values).forward(np.zeros((1, 2)))   # refused parameters: before a figure
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(11.0, 5.9), layout="constrained")
    try:
        _planar_draw(fig, bounds=box, grid=grid, **values)
    except Exception:
        plt.close(fig)
        raise
    return _finish(fig, lambda f: _planar_explorer(f, values, box, grid), show)


def _planar_explorer(fig, values, bounds, grid):
    """The sliders of :func:`explore_planar` on ``fig`` (a :class:`_Live`)."""
    def draw(f, **v):
        _planar_draw(f, bounds=bounds, grid=grid, **v)
    rows = [("w", [("angle", _slider(values["angle"], -180.0, 180.0, 1.0, "angle (deg)", ".0f")),
                   ("length", _slider(values["length"], 0.05, 4.0, 0.05, "length |w|"))]),
            ("raw rho, b", [("rho1", _slider(values["rho1"], -4.0, 4.0, 0.05, "rho_1")),
                            ("rho2", _slider(values["rho2"], -4.0, 4.0, 0.05, "rho_2")),
                            ("b", _slider(values["b"], -3.0, 3.0, 0.05, "b"))])]
    return _Live(fig, draw, rows)


# ---------------------------------------------------------------------- spline
def _spline_arguments(raw_widths, raw_heights, raw_derivatives):
    who = "explore_spline"
    arrays = {}
    for name, value in (("raw_widths", raw_widths), ("raw_heights", raw_heights),
                        ("raw_derivatives", raw_derivatives)):
        a = as_real(value, f"{who}: {name}")
        if a.ndim != 1:
            raise ValueError(f"{who}: {name}: expected a 1-D sequence, got shape {a.shape}")
        check_finite(a, f"{who}: {name}")
        arrays[name] = a
    K = arrays["raw_widths"].size
    if not 1 <= K <= 10:
        raise ValueError(f"{who}: raw_widths: expected K = 1 to 10 values (one per bin), got {K}")
    if arrays["raw_heights"].shape != (K,) or arrays["raw_derivatives"].shape != (K - 1,):
        raise ValueError(f"{who}: expected raw_heights of shape ({K},) and raw_derivatives of "
                         f"shape ({K - 1},) for K = {K} bins (from raw_widths), got "
                         f"{arrays['raw_heights'].shape} and {arrays['raw_derivatives'].shape}")
    return arrays


def _spline_values(arrays):
    """Slider names ``uw0.., uh0.., ud1..`` and their values."""
    out = {f"uw{j}": float(v) for j, v in enumerate(arrays["raw_widths"])}
    out.update({f"uh{j}": float(v) for j, v in enumerate(arrays["raw_heights"])})
    out.update({f"ud{k + 1}": float(v) for k, v in enumerate(arrays["raw_derivatives"])})
    return out


def _spline_xi(K, values):
    return np.array([values[f"uw{j}"] for j in range(K)] + [values[f"uh{j}"] for j in range(K)]
                    + [values[f"ud{k}"] for k in range(1, K)])


def _spline_draw(fig, K, bound, density, log_derivative, **values):
    """Draw the panels and the text of :func:`explore_spline` on ``fig`` (cleared)."""
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    f = RationalQuadraticSpline(n_bins=K, bound=bound)
    xi = _spline_xi(K, values)
    xk, yk, delta = (a[0, 0] for a in f.knots(xi[None, None]))
    reach = bound + 2.0
    t = np.union1d(np.linspace(-reach, reach, 1201), xk)[:, None]    # the knots are on it
    y, ld = f.forward(t, np.broadcast_to(xi, t.shape + xi.shape))
    fig.clf()
    names = ["map", "derivative"] + (["density"] if density else [])
    axes = fig.subplot_mosaic([names, ["text"] * len(names)], height_ratios=[1.0, 0.24])
    ax = axes["map"]
    ax.axvspan(-bound, bound, color="C0", alpha=0.07, lw=0)
    ax.plot(t[:, 0], t[:, 0], ":", color="0.5", lw=1, label="identity (linear tails)")
    ax.plot(t[:, 0], y[:, 0], color="C0", lw=1.8, label=r"$y = \zeta(t)$")
    ax.plot(xk, yk, "o", color="C3", ms=6, label="knots $(x_k, y_k)$")
    ax.set(xlabel="$t$", ylabel="$y$", title=f"the monotone map, K = {K} bins on [-{bound:g}, "
           f"{bound:g}]", xlim=(-reach, reach), ylim=(-reach, reach))
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="upper left", fontsize="small")
    ax = axes["derivative"]
    ax.axvspan(-bound, bound, color="C0", alpha=0.07, lw=0)
    ax.plot(t[:, 0], np.exp(ld[:, 0]), color="C0", lw=1.8, label=r"$d y / d t$")
    ax.plot(xk, delta, "o", color="C3", ms=6, label=r"knot derivatives $\delta_k$")
    if log_derivative:
        ax.set_yscale("log")
    ax.set(xlabel="$t$", ylabel=r"$dy/dt$" + (" (log scale)" if log_derivative else ""),
           title="its derivative (1 on the tails)", xlim=(-reach, reach))
    ax.legend(loc="upper left", fontsize="small")
    if density:
        ax = axes["density"]
        ys = np.linspace(-reach, reach, 1201)[:, None]
        ts, ld_t = f.inverse(ys, np.broadcast_to(xi, ys.shape + xi.shape))
        phi = np.exp(-0.5 * ts[:, 0] ** 2) / np.sqrt(2 * np.pi)
        ax.plot(ys[:, 0], np.exp(-0.5 * ys[:, 0] ** 2) / np.sqrt(2 * np.pi), "--", color="0.5",
                lw=1, label=r"$p_T = N(0, 1)$")
        ax.plot(ys[:, 0], phi * np.exp(-ld_t[:, 0]), color="C1", lw=1.8,
                label=r"$p_Y(y) = \varphi(t)\,/\,\zeta'(t)$")
        ax.set(xlabel="$y$", ylabel="density", title=r"density of $y = \zeta(t)$, $t \sim N(0, 1)$",
               xlim=(-reach, reach))
        ax.set_ylim(bottom=0.0)
        ax.legend(loc="upper left", fontsize="small")
    widths, heights = np.diff(xk), np.diff(yk)
    fmt = lambda v: ", ".join(f"{x:.2f}" for x in v)                       # noqa: E731
    lines = [rf"widths $w_j = 2B\,(m + (1 - Km)\,\mathrm{{softmax}}(u^w)_j)$ = ({fmt(widths)}),"
             rf"   heights $h_j$ = ({fmt(heights)})   ($m$ = {f.min_width:g}, $B$ = {bound:g})",
             rf"knot derivatives $\delta_k = m_\delta + \mathrm{{softplus}}(u^d_k)$ = "
             rf"({fmt(delta)})   ($\delta_0 = \delta_K = 1$: the map is $C^1$ at $\pm B$)",
             rf"raw $u^w$ = ({fmt(xi[:K])}),   $u^h$ = ({fmt(xi[K:2 * K])}),   "
             rf"$u^d$ = ({fmt(xi[2 * K:])})"]
    _write(axes["text"], lines)
    return axes


def explore_spline(raw_widths=(0.0, 0.5, -0.4, 0.2), raw_heights=(0.6, -0.4, 0.2, -0.3),
                   raw_derivatives=(1.0, -1.0, 0.3), bound=3.0, density=True,
                   log_derivative=False, widgets=None):
    r"""One rational-quadratic spline :math:`y = \zeta(t)` from its raw parameters, with sliders.

    .. math::
        y = y_k + \frac{h_k\,[s\xi^2 + \delta_k\xi(1-\xi)]}{s + (\delta_{k+1} + \delta_k - 2s)
        \xi(1-\xi)},\qquad s = \frac{h_k}{w_k},\quad \xi = \frac{t - x_k}{w_k}
        \quad (x_k \le t \le x_{k+1}),

    with widths :math:`w_j = 2B(m_w + (1 - Km_w)\,\mathrm{softmax}(u^w)_j)`, heights
    likewise from :math:`u^h`, interior knot derivatives
    :math:`\delta_k = m_\delta + \mathrm{softplus}(u^d_k)`, :math:`\delta_0 = \delta_K = 1`,
    and :math:`y = t` outside :math:`[-B, B]` (Durkan et al., 2019, eqs. (4)-(5); the
    transformer :class:`nfref.autoregressive.transformers.spline.RationalQuadraticSpline`
    with its default minima). Panels: the map with its knots :math:`(x_k, y_k)`; its
    derivative :math:`dy/dt` with the :math:`\delta_k`; optionally the density of
    :math:`y` when :math:`t \sim N(0, 1)`,
    :math:`p_Y(y) = \varphi(t)/\zeta'(t)`, :math:`t = \zeta^{-1}(y)` (the exact inverse),
    which is :math:`\varphi(y)` on the linear tails. Below, the widths, heights and knot
    derivatives the raw values give.

    The sliders (when shown) set every raw value :math:`u^w_j`, :math:`u^h_j`, :math:`u^d_k`.

    Parameters
    ----------
    raw_widths, raw_heights : array_like, shape (K,)
        The unconstrained :math:`u^w` and :math:`u^h`, ``1 <= K <= 10``.
    raw_derivatives : array_like, shape (K - 1,)
        The unconstrained :math:`u^d` of the interior knots.
    bound : float
        :math:`B > 0`.
    density : bool
        Draw the third panel, the density of :math:`y`.
    log_derivative : bool
        Draw :math:`dy/dt` on a log scale.
    widgets : None, True or False
        As in :func:`explore_planar`.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``"map"``, ``"derivative"``, ``"density"`` (when drawn) and ``"text"``.

    Raises
    ------
    ValueError
        For badly shaped or non-finite raw values, a non-positive ``bound``, a non-bool
        flag, a spline float64 cannot resolve (refused by the transformer), or
        ``widgets=True`` without a widget front-end.

    Examples
    --------
    >>> fig = explore_spline(raw_derivatives=(3.0, -3.0, 0.0), widgets=False)
    >>> fig.savefig("spline.png")      # doctest: +SKIP
    """
    who = "explore_spline"
    arrays = _spline_arguments(raw_widths, raw_heights, raw_derivatives)
    values, K = _spline_values(arrays), arrays["raw_widths"].size
    bound = as_float(bound, f"{who}: bound", low=0.0, low_open=True)
    for name, flag in (("density", density), ("log_derivative", log_derivative)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{who}: {name}: expected True or False, got {flag!r}")
    density, log_derivative = bool(density), bool(log_derivative)
    show = _use_widgets(widgets, who)
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    RationalQuadraticSpline(n_bins=K, bound=bound).knots(_spline_xi(K, values))  # refused: now
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(14.0 if density else 10.0, 5.6), layout="constrained")
    try:
        _spline_draw(fig, K, bound, density, log_derivative, **values)
    except Exception:
        plt.close(fig)
        raise
    return _finish(fig, lambda f: _spline_explorer(f, K, bound, density, log_derivative, values),
                   show)


def _spline_explorer(fig, K, bound, density, log_derivative, values):
    """The sliders of :func:`explore_spline` on ``fig`` (a :class:`_Live`)."""
    import ipywidgets

    def draw(f, log_scale, **v):
        _spline_draw(f, K, bound, density, log_scale, **v)
    rows = [("raw widths u^w", [(f"uw{j}", _slider(values[f"uw{j}"], -3.0, 3.0, 0.05, f"j = {j}"))
                                for j in range(K)]),
            ("raw heights u^h", [(f"uh{j}", _slider(values[f"uh{j}"], -3.0, 3.0, 0.05, f"j = {j}"))
                                 for j in range(K)]),
            ("raw derivs u^d", [(f"ud{k}", _slider(values[f"ud{k}"], -4.0, 4.0, 0.05, f"k = {k}"))
                                for k in range(1, K)]
             + [("log_scale", ipywidgets.Checkbox(value=log_derivative,
                                                  description="log scale for dy/dt"))])]
    return _Live(fig, draw, rows)
