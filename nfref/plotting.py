r"""Plotting helpers for 2-D flows: densities, samples, warped grids, layer-by-layer densities.

Every function takes ``ax=None`` (a new figure and axes are made when it is ``None``) and
returns what it drew on, so calls compose::

    ax = plot_density(toy.logpdf, bounds=toy.bounds)
    plot_samples(flow.rvs(500, random_state=0), ax=ax)

:func:`plot_layers` is the figure of notes 000, section 3: the density of every intermediate
:math:`Y_k` of the sampling procedure :math:`Y_0 = U`, :math:`Y_k = \phi_k(Y_{k-1})`, from the
base (:math:`k = 0`) to the model of the data (:math:`k = K`), one panel each. The density of
:math:`Y_k` is the flow made of the base and the first ``k`` layers, by eq. (9) with ``K = k``:

.. math:: \log p_{Y_k}(y) = \log p_U(Y_0) - \sum_{j=1}^{k} \log|\det J_{\phi_j}(Y_{j-1})|,
          \qquad Y_k = y.

matplotlib is imported when a function is called, not when the module is imported.
"""

import numpy as np

from nfref._validation import as_batch, as_choice, as_float, as_int, as_real, check_finite

__all__ = ["plot_density", "plot_samples", "plot_warped_grid", "plot_layers",
           "plot_training_curve", "plot_history", "density_grid"]


def _axes(ax, figsize=(4, 4)):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _bounds(bounds):
    b = as_real(bounds, "bounds")
    if b.shape != (2, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise ValueError("bounds: expected ((x_lo, x_hi), (y_lo, y_hi)) with lo < hi, "
                         f"got {bounds!r}")
    return b


def density_grid(logpdf, bounds=((-3, 3), (-3, 3)), grid=200):
    """Evaluate ``exp(logpdf)`` on a ``grid x grid`` mesh over ``bounds``.

    Returns
    -------
    xs, ys : ndarray, shape (grid,)
    dens : ndarray, shape (grid, grid)
        ``dens[i, j]`` is the density at ``(xs[j], ys[i])`` (rows are y, as ``imshow`` wants);
        points where ``logpdf`` is ``-inf`` have density 0.
    """
    if not callable(logpdf):
        raise ValueError(f"logpdf: expected a callable (n, 2) -> (n,), got "
                         f"{type(logpdf).__name__}")
    b = _bounds(bounds)
    grid = as_int(grid, "grid (points per axis)", minimum=2)
    xs, ys = np.linspace(*b[0], grid), np.linspace(*b[1], grid)
    X, Y = np.meshgrid(xs, ys)                                    # (grid, grid), rows are y
    lp = as_real(logpdf(np.stack([X.ravel(), Y.ravel()], 1)), "logpdf(points)")
    if lp.shape != (grid * grid,) or np.any(np.isnan(lp)) or np.any(lp == np.inf):
        raise ValueError("logpdf: expected a finite or -inf value per grid point, got "
                         f"shape {lp.shape} with {int(np.sum(~np.isfinite(lp) & (lp != -np.inf)))}"
                         " NaN or +inf values")
    return xs, ys, np.exp(lp).reshape(grid, grid)


def plot_density(logpdf, ax=None, bounds=((-3, 3), (-3, 3)), grid=200, kind="heat",
                 cmap="viridis", levels=8, title=None, colorbar=True, xlabel="$x_1$",
                 ylabel="$x_2$"):
    """Draw the density :math:`p(x) = \\exp(\\log p(x))` of a 2-D distribution on a grid.

    Parameters
    ----------
    logpdf : callable
        ``(n, 2) -> (n,)`` log density (``-inf`` allowed off the support).
    ax : matplotlib Axes, optional
    bounds : ((x_lo, x_hi), (y_lo, y_hi))
    grid : int
        Points per axis.
    kind : {"heat", "contour"}
        A heat map (``imshow``) or filled contours.
    levels : int
        Number of contour levels (``kind="contour"``).
    title : str, optional
    colorbar : bool
        Draw a colour bar labelled "density" beside the panel (its scale: the values of
        :math:`p`, in inverse units of area).
    xlabel, ylabel : str or None
        Axis labels; ``None`` leaves the axis unlabelled.

    Returns
    -------
    ax
        ``ax.images`` (heat) or ``ax.collections`` (contour) holds what was drawn.
    """
    kind = as_choice(kind, "kind", ("heat", "contour"))
    levels = as_int(levels, "levels", minimum=1)
    ax = _axes(ax)
    xs, ys, dens = density_grid(logpdf, bounds, grid)
    if kind == "heat":
        drawn = ax.imshow(dens, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]),
                          cmap=cmap, aspect="auto", interpolation="nearest")
    else:
        drawn = ax.contourf(xs, ys, dens, levels=levels, cmap=cmap)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    if not isinstance(colorbar, (bool, np.bool_)):
        raise ValueError(f"colorbar: expected True or False, got {colorbar!r}")
    if colorbar:
        ax.figure.colorbar(drawn, ax=ax, label="density", fraction=0.046, pad=0.03)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_samples(x, data=None, ax=None, bounds=None, s=3, alpha=0.5, label="model",
                 data_label="data", title=None):
    """Scatter model samples ``x`` (shape (n, 2)) over optional ``data`` (shape (m, 2)).

    Returns
    -------
    ax
    """
    x = as_batch(x, 2, "x")
    ax = _axes(ax)
    if data is not None:
        data = as_batch(data, 2, "data")
        ax.scatter(data[:, 0], data[:, 1], s=s, alpha=alpha, color="0.6", label=data_label,
                   linewidths=0)
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color="C3", label=label, linewidths=0)
    if bounds is not None:
        b = _bounds(bounds)
        ax.set_xlim(*b[0])
        ax.set_ylim(*b[1])
    if data is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_warped_grid(transform, ax=None, bounds=((-3, 3), (-3, 3)), n_lines=13, n_points=200,
                     direction="forward", color="C0", lw=0.8, title=None, xlabel=None,
                     ylabel=None):
    """Draw the image :math:`\\phi(L)` of a square grid of lines :math:`L` under a 2-D transform.

    The horizontal and vertical lines of a ``n_lines x n_lines`` grid over ``bounds`` are
    pushed through ``transform.forward`` (``direction="forward"``: base -> data) or
    ``transform.inverse`` in one batched call.

    Parameters
    ----------
    transform : Transform
        A map of dimension 2.
    ax : matplotlib Axes, optional
    bounds : ((x_lo, x_hi), (y_lo, y_hi))
        The square (or rectangle) whose grid lines are mapped.
    n_lines : int
        Lines per direction.
    n_points : int
        Points along each line.
    direction : {"forward", "inverse"}
    color, lw : line colour and width
    title : str, optional
    xlabel, ylabel : str, optional
        Axis labels; by default :math:`x_1, x_2` for the forward image and :math:`u_1, u_2`
        for the inverse one.

    Returns
    -------
    ax
    """
    if getattr(transform, "dim", None) != 2:
        raise ValueError("plot_warped_grid: expected a transform of dimension 2, got "
                         f"{getattr(transform, 'dim', None)!r}")
    direction = as_choice(direction, "direction", ("forward", "inverse"))
    n_lines = as_int(n_lines, "n_lines", minimum=2)
    n_points = as_int(n_points, "n_points", minimum=2)
    b = _bounds(bounds)
    ax = _axes(ax)
    t = np.linspace(0.0, 1.0, n_points)
    levels = np.linspace(0.0, 1.0, n_lines)
    lx, ly = b[0, 0] + (b[0, 1] - b[0, 0]) * levels, b[1, 0] + (b[1, 1] - b[1, 0]) * levels
    tx, ty = b[0, 0] + (b[0, 1] - b[0, 0]) * t, b[1, 0] + (b[1, 1] - b[1, 0]) * t
    vertical = np.stack(np.broadcast_arrays(lx[:, None], ty[None, :]), -1)     # (L, P, 2)
    horizontal = np.stack(np.broadcast_arrays(tx[None, :], ly[:, None]), -1)   # (L, P, 2)
    lines = np.concatenate([vertical, horizontal])                            # (2L, P, 2)
    apply = transform.forward if direction == "forward" else transform.inverse
    image = apply(lines.reshape(-1, 2))[0].reshape(lines.shape)
    for line in image:
        ax.plot(line[:, 0], line[:, 1], color=color, lw=lw)
    ax.set_aspect("equal", adjustable="datalim")
    name = "x" if direction == "forward" else "u"
    ax.set_xlabel(f"${name}_1$" if xlabel is None else xlabel)
    ax.set_ylabel(f"${name}_2$" if ylabel is None else ylabel)
    if title:
        ax.set_title(title)
    return ax


def _flow_parts(flow, base):
    from nfref.k_layers import Chain
    transform = getattr(flow, "transform", flow)
    base = getattr(flow, "base", base)
    if base is None:
        raise ValueError("plot_layers: expected a Flow, or a chain together with base=...")
    from nfref.distributions import Distribution
    if not isinstance(base, Distribution):
        raise ValueError(f"plot_layers: expected base to be a Distribution, got "
                         f"{type(base).__name__}")
    layers = transform.layers if isinstance(transform, Chain) else [transform]
    return base, Chain(layers)


def _auto_bounds(y, pad=0.15):
    lo, hi = np.quantile(y, 0.005, axis=0), np.quantile(y, 0.995, axis=0)
    width = np.maximum(hi - lo, 1e-6)
    return np.stack([lo - pad * width, hi + pad * width], 1)


def plot_layers(flow, base=None, ks=None, axes=None, bounds=None, grid=120, n_samples=4000,
                random_state=0, cmap="viridis", panel_size=2.6, samples=False, colorbar=True):
    r"""One panel per intermediate :math:`Y_k`: the density of the flow cut after ``k`` layers.

    Parameters
    ----------
    flow : Flow or Transform
        A :class:`~nfref.distributions.Flow` whose transform is a
        :class:`~nfref.k_layers.Chain` (any other transform counts as one layer), or a
        transform, with ``base`` given.
    base : Distribution, optional
        Needed when ``flow`` is a transform.
    ks : sequence of int, optional
        Which :math:`Y_k` to draw, ``0 <= k <= K``; by default all of them when ``K <= 8``,
        otherwise nine evenly spaced ones from 0 to ``K`` (as many as ``axes`` when given).
    axes : sequence of Axes, optional
        One per panel; a new row of panels is made when ``None``.
    bounds : ((x_lo, x_hi), (y_lo, y_hi)) or "each", optional
        The same box for every panel, so that sizes compare across layers; by default the box
        holding the 0.5 to 99.5 per cent quantiles of ``n_samples`` draws of every drawn
        :math:`Y_k` (sampling procedure). ``"each"`` frames each panel on its own
        :math:`Y_k` instead (details show, sizes no longer compare).
    samples : bool
        Overlay those draws of :math:`Y_k` as small dots.
    colorbar : bool
        A colour bar beside each panel (each :math:`Y_k` has its own density scale).

    Returns
    -------
    axes : ndarray of Axes
        ``axes[0].figure`` is the figure.
    """
    base, chain = _flow_parts(flow, base)
    if base.dim != 2:
        raise ValueError(f"plot_layers: expected a 2-D flow, got dimension {base.dim}")
    K = len(chain)
    grid = as_int(grid, "grid (points per axis)", minimum=2)
    n_samples = as_int(n_samples, "n_samples", minimum=1)
    panel_size = as_float(panel_size, "panel_size", low=0.0, low_open=True)
    if ks is None:
        n_panels = min(K + 1, 9) if axes is None else min(K + 1, np.size(axes))
        ks = sorted(set(np.linspace(0, K, n_panels).round().astype(int)))
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise ValueError(f"ks: expected a sequence of layer indices between 0 and K = {K}, "
                         f"got {ks!r}")
    ks = [as_int(k, f"ks: layer index (expected between 0 and K = {K})", minimum=0, maximum=K)
          for k in ks]
    if not ks:
        raise ValueError(f"ks: expected at least one layer index between 0 and K = {K}")
    if axes is None:
        import matplotlib.pyplot as plt
        _, axes = plt.subplots(1, len(ks), figsize=(panel_size * len(ks), panel_size),
                               squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    if axes.size != len(ks):
        raise ValueError(f"axes: expected {len(ks)} axes (one per panel), got {axes.size}")
    ys, _ = chain.forward_pass(base.rvs(n_samples, random_state))
    each = isinstance(bounds, str) and bounds == "each"
    if bounds is None:
        shared = _auto_bounds(np.concatenate([ys[k] for k in ks], 0))
    elif not each:
        shared = _bounds(bounds)
    for ax, k in zip(axes, ks):
        if k == 0:
            logpdf = base.logpdf
        else:
            head = chain[:k]
            def logpdf(y, head=head):
                u, logdet = head.inverse(y)
                return base.logpdf(u) + logdet
        box = _auto_bounds(ys[k]) if each else shared
        plot_density(logpdf, ax=ax, bounds=box, grid=grid, cmap=cmap, colorbar=colorbar,
                     xlabel="$y_1$", ylabel="$y_2$")
        if samples:
            ax.scatter(ys[k][:300, 0], ys[k][:300, 1], s=1, color="w", alpha=0.5)
        name = "U" if k == 0 else ("X" if k == K else "")
        ax.set_title(f"$Y_{{{k}}}$" + (f" $= {name}$" if name else ""))
    return axes


def plot_training_curve(history, entropy=None, ax=None, test=None, label="train NLL",
                        title=None, logy=False):
    """Plot a loss history (NLL per step) with the exact entropy of the data as a reference line.

    For a flow fitted by maximum likelihood, ``NLL - H(p)`` is the forward KL divergence to the
    data distribution plus sampling noise, so the curve can never settle below the line (on
    average).

    Parameters
    ----------
    history : array_like, shape (n_steps,)
    entropy : float, optional
        The exact entropy :math:`H(p)` of the data, in nats.
    test : (steps, values), optional
        Held-out NLL at some steps.
    logy : bool
        Plot ``history - entropy`` on a log axis (needs ``entropy``).

    Returns
    -------
    ax
    """
    h = as_real(history, "history")
    if h.ndim != 1 or h.size == 0:
        raise ValueError(f"history: expected a non-empty 1-D array, got shape {h.shape}")
    check_finite(h, "history")
    if entropy is not None:
        entropy = as_float(entropy, "entropy")
    if logy and entropy is None:
        raise ValueError("plot_training_curve: logy=True needs the entropy")
    ax = _axes(ax, figsize=(5, 3.2))
    shift = entropy if logy else 0.0
    steps = np.arange(1, h.size + 1)
    ax.plot(steps, h - shift, lw=1, label=label if not logy else f"{label} - H(p)")
    if test is not None:
        if isinstance(test, (str, bytes)) or not hasattr(test, "__len__") or len(test) != 2:
            raise ValueError("test: expected a pair (steps, values) of equal length")
        ts, tv = as_real(test[0], "test steps"), as_real(test[1], "test values")
        if ts.ndim != 1 or ts.shape != tv.shape:
            raise ValueError(f"test: expected steps and values of the same shape (m,), got "
                             f"{ts.shape} and {tv.shape}")
        ax.plot(ts, tv - shift, "o-", ms=3, label="test NLL" + (" - H(p)" if logy else ""))
    if entropy is not None and not logy:
        ax.axhline(entropy, color="k", ls="--", lw=1, label=f"entropy H(p) = {entropy:.3f}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("nats")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, ax=None, offset=0.0, logy=False, title=None):
    """Training and validation loss against the step, from a fit's history.

    Parameters
    ----------
    history : nfref.train.History or array_like, shape (m, 4)
        The rows step, training loss, validation loss, seconds (``History.as_array()``, as
        saved with a fit); validation values that are NaN (no validation set) are not drawn.
    ax : matplotlib Axes, optional
    offset : float
        Subtracted from both losses (e.g. the target's entropy, to draw the KL gap).
    logy : bool
        Logarithmic loss axis (needs positive values after the offset).
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    rows = history.as_array() if hasattr(history, "as_array") else history
    rows = as_real(rows, "history")
    if rows.ndim != 2 or rows.shape[1] != 4 or rows.shape[0] == 0:
        raise ValueError(f"history: expected rows (step, train loss, validation loss, seconds) "
                         f"of shape (m, 4), m >= 1, got shape {rows.shape}")
    offset = as_float(offset, "offset")
    step, tr, va = rows[:, 0], rows[:, 1] - offset, rows[:, 2] - offset
    if logy and (np.any(tr <= 0) or np.any(va[np.isfinite(va)] <= 0)):
        raise ValueError("plot_history: logy=True needs losses above the offset")
    ax = _axes(ax, figsize=(5, 3.2))
    ax.plot(step, tr, lw=1, label="training loss")
    keep = np.isfinite(va)
    if keep.any():
        ax.plot(step[keep], va[keep], "o-", ms=2, lw=1, label="validation loss")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("nats" if offset == 0 else "nats above the offset")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------- animations
def _frame_animation(densities, bounds, titles, interval, cmap, figsize, colors, label):
    """A FuncAnimation over precomputed density grids, one image whose data changes."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    colors = as_choice(colors, "colors", ("shared", "frame"))
    fig, ax = plt.subplots(figsize=figsize)
    vmax = float(densities.max()) if colors == "shared" else float(densities[0].max())
    image = ax.imshow(densities[0], origin="lower", extent=tuple(bounds.ravel()), aspect="auto",
                      cmap=cmap, vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    title = ax.set_title(titles[0])

    def update(i):
        image.set_data(densities[i])
        if colors == "frame":
            image.set_clim(0.0, max(float(densities[i].max()), np.finfo(float).tiny))
        title.set_text(titles[i])
        return image, title

    anim = FuncAnimation(fig, update, frames=len(densities), interval=interval, blit=False)
    plt.close(fig)                 # shown by to_jshtml() or saved, not drawn again at cell end
    anim.densities, anim.bounds, anim.ax = densities, bounds, ax
    return anim


def animate_layers(flow, base=None, bounds=None, grid=100, n_samples=4000, random_state=0,
                   interval=500, cmap="viridis", figsize=(4.6, 4), colors="shared"):
    r"""Animate the density of :math:`Y_k`, from :math:`Y_0 = U` to :math:`Y_K = X`, layer by layer.

    Frame ``k`` is the density of the flow cut after ``k`` layers (eq. (9) with ``K = k``, the
    same densities as :func:`plot_layers`), all on the same axes limits, so the morphing of
    notes 000, sec. 3 can be followed.

    Parameters
    ----------
    flow : Flow or Transform
        As in :func:`plot_layers` (a transform needs ``base``).
    base : Distribution, optional
    bounds : ((x_lo, x_hi), (y_lo, y_hi)), optional
        The box of every frame; by default the 0.5 to 99.5 per cent quantiles of ``n_samples``
        draws of all the :math:`Y_k` together.
    grid : int
        Grid points per axis.
    n_samples : int
        Draws used for the default ``bounds``.
    random_state : None, int or numpy.random.Generator
    interval : float
        Milliseconds between frames.
    colors : {"shared", "frame"}
        One colour scale for all frames (densities comparable across layers), or one per frame.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        ``anim.to_jshtml()`` plays it in a notebook (``IPython.display.HTML``);
        ``anim.save("layers.gif", writer="pillow")`` writes a GIF. ``anim.densities`` (frames,
        grid, grid), ``anim.bounds`` and ``anim.ax`` hold what is drawn.
    """
    colors = as_choice(colors, "colors", ("shared", "frame"))
    base, chain = _flow_parts(flow, base)
    if base.dim != 2:
        raise ValueError(f"animate_layers: expected a 2-D flow, got dimension {base.dim}")
    grid = as_int(grid, "grid (points per axis)", minimum=2)
    n_samples = as_int(n_samples, "n_samples", minimum=1)
    interval = as_float(interval, "interval (milliseconds)", low=0.0, low_open=True)
    if bounds is None:
        ys, _ = chain.forward_pass(base.rvs(n_samples, random_state))
        box = _auto_bounds(np.concatenate(ys, 0))
    else:
        box = _bounds(bounds)
    K = len(chain)
    densities = []
    for k in range(K + 1):
        if k == 0:
            logpdf = base.logpdf
        else:
            def logpdf(y, head=chain[:k]):
                u, logdet = head.inverse(y)
                return base.logpdf(u) + logdet
        densities.append(density_grid(logpdf, box, grid)[2])
    titles = [f"$Y_{{{k}}}$" + (" $= U$" if k == 0 else " $= X$" if k == K else "")
              + f"  (layer {k} of {K})" for k in range(K + 1)]
    return _frame_animation(np.array(densities), box, titles, interval, cmap, figsize, colors,
                            "density")


def animate_fit(history_or_snapshots, flow=None, bounds=((-3, 3), (-3, 3)), grid=100,
                steps=None, data=None, interval=300, cmap="viridis", figsize=(4.6, 4),
                colors="shared"):
    r"""Animate the model density during a fit, one frame per snapshot.

    Parameters
    ----------
    history_or_snapshots : sequence of Flow, sequence of dict, or object with ``snapshots``
        * flows (anything with ``logpdf``), one per frame;
        * parameter snapshots, dicts ``{name: array}`` with the keys of ``flow.params``
          (copies taken during the fit), with ``flow`` given;
        * a fit's history holding such dicts in ``history.snapshots`` (and, optionally, their
          steps in ``history.snapshot_steps``), with ``flow`` given.
    flow : Flow, optional
        The flow the snapshots belong to. Its parameters are set to each snapshot in turn while
        the densities are computed and restored afterwards (also on error): the flow is left
        as it came.
    bounds : ((x_lo, x_hi), (y_lo, y_hi))
        The box of every frame.
    steps : sequence of int, optional
        The step of each frame, for the titles.
    data : array_like, shape (n, 2), optional
        Points drawn over every frame (at most 500).
    colors : {"shared", "frame"}
        As in :func:`animate_layers`.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        As in :func:`animate_layers`.
    """
    colors = as_choice(colors, "colors", ("shared", "frame"))
    source = history_or_snapshots
    if hasattr(source, "snapshots"):
        if steps is None:
            steps = getattr(source, "snapshot_steps", None)
        source = source.snapshots
    if isinstance(source, (str, bytes, dict)) or not hasattr(source, "__len__") or not len(source):
        raise ValueError("history_or_snapshots: expected a non-empty sequence of flows or of "
                         "parameter dicts, or a history with snapshots, got "
                         f"{type(history_or_snapshots).__name__}")
    box = _bounds(bounds)
    grid = as_int(grid, "grid (points per axis)", minimum=2)
    interval = as_float(interval, "interval (milliseconds)", low=0.0, low_open=True)
    frames = list(source)
    if all(isinstance(f, dict) for f in frames):
        if flow is None or not hasattr(flow, "params"):
            raise ValueError("flow: expected the Flow the parameter snapshots belong to, got "
                             f"{type(flow).__name__}")
        params = flow.params
        for i, snap in enumerate(frames):
            if set(snap) != set(params) or any(np.shape(snap[k]) != params[k].shape for k in snap):
                raise ValueError(f"history_or_snapshots[{i}]: expected the keys and shapes of "
                                 f"flow.params {sorted(params)}, got {sorted(snap)}")
        saved = {k: v.copy() for k, v in params.items()}
        try:
            densities = []
            for snap in frames:
                for k, v in snap.items():
                    params[k][...] = v
                densities.append(density_grid(flow.logpdf, box, grid)[2])
        finally:
            for k, v in saved.items():
                params[k][...] = v
    elif all(callable(getattr(f, "logpdf", None)) for f in frames):
        densities = [density_grid(f.logpdf, box, grid)[2] for f in frames]
    else:
        raise ValueError("history_or_snapshots: expected every frame to be a flow (with logpdf) "
                         "or every frame a parameter dict, got a mixture or something else")
    if steps is not None:
        steps = [as_int(s, "steps", minimum=0) for s in steps]
        if len(steps) != len(frames):
            raise ValueError(f"steps: expected {len(frames)} steps (one per frame), got "
                             f"{len(steps)}")
    titles = [f"step {steps[i]}" if steps is not None else f"snapshot {i + 1} of {len(frames)}"
              for i in range(len(frames))]
    anim = _frame_animation(np.array(densities), box, titles, interval, cmap, figsize, colors,
                            "model density")
    if data is not None:
        pts = as_batch(data, 2, "data")[:500]
        anim.ax.scatter(pts[:, 0], pts[:, 1], s=2, color="w", alpha=0.6, label="data")
    return anim


__all__ += ["animate_layers", "animate_fit"]
