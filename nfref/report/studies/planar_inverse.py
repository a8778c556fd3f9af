r"""How accurate is the planar inverse? A measurement over many random parameter draws.

For each draw of :math:`(w, \rho, b)` (scales of ``w`` and ``rho`` log-uniform over four
decades, so :math:`|w|` and :math:`|\rho|` up to about :math:`10^2\sqrt d`), a batch of
base points ``u`` is pushed forward and pulled back with :class:`Planar`. Three errors
per draw:

* ``roundtrip``: :math:`\max|\phi^{-1}(\phi(u)) - u|`, what a user sees. It includes the
  rounding of :math:`x = \phi(u)` itself, magnified by the conditioning of the inverse map,
  :math:`\|J_{\phi^{-1}}(x)\|_2 = \|J_\phi(u)^{-1}\|_2`, which grows like
  :math:`|\hat\rho|\,|w|` for large parameters: no float64 algorithm can do better than
  about :math:`\epsilon\,\|J_\phi^{-1}\|\,|x|`.
* ``solver``: :math:`\max|\phi^{-1}(x) - u^\star|`, where :math:`u^\star` is the inverse of
  the *same float64* ``x`` computed in extended precision (``numpy.longdouble``, four
  Newton steps from the float64 answer). This is the inverse's own error.
* ``conditioning``: ``roundtrip`` divided by
  :math:`\epsilon\,(\kappa\,(1 + |x|_\infty) + |\hat\rho|)`, with
  :math:`\kappa = 1 + h'|\hat\rho||w|/(1 + h'c) \ge \|J_\phi(u)^{-1}\|_2` (Sherman and
  Morrison) and :math:`|\hat\rho|` for the final subtraction :math:`x - \hat\rho\tau`: the
  round trip in units of what float64 allows (order one means the solver adds nothing).

A loop over parameter draws; each draw handles its batch of points at once.
"""

import numpy as np

from nfref._validation import as_rng
from nfref.one_layer.planar import Planar

__all__ = ["planar_inverse_errors", "reference_inverse", "plot_planar_inverse_errors",
           "float64_floor"]

EPS = np.finfo(float).eps


def reference_inverse(t, x, u0=None):
    r"""The planar inverse of float64 ``x`` in extended precision (``numpy.longdouble``).

    Solves :math:`\tau = \tanh(z - c\tau)` with :math:`c = w^\top\hat\rho` and
    :math:`z = w^\top x + b` accumulated in long double, by four Newton steps from the
    float64 solution ``u0`` (computed if not given), then :math:`u^\star = x - \hat\rho\tau`
    in long double.
    """
    ld = np.longdouble
    w = t.params["w"].astype(ld)
    rho_hat = t.rho_hat.astype(ld)
    b = ld(t.params["b"][0])
    xl = x.astype(ld)
    z = xl @ w + b
    c = w @ rho_hat
    u0 = t.inverse(x)[0] if u0 is None else u0
    tau = np.tanh(u0.astype(ld) @ w + b)                            # start from float64
    for _ in range(4):
        arg = z - c * tau
        th = np.tanh(arg)
        tau = tau - (tau - th) / (1 + c * (1 - th * th))
    return xl - tau[:, None] * rho_hat


def float64_floor(t, u, x):
    r"""Per point, the round-trip error float64 allows,
    :math:`\epsilon\,(\kappa\,(1 + \lVert x \rVert_\infty) + \lVert \hat\rho \rVert)`, with
    :math:`\kappa = 1 + h'\lVert\hat\rho\rVert\,\lVert w\rVert/(1 + h'c) \ge
    \lVert J_\phi(u)^{-1}\rVert_2` (module docstring), for the planar layer ``t`` at base
    points ``u`` (n, d) and their images ``x``."""
    rho_hat, _, one_plus_c = t.constrained()
    arg = u @ t.params["w"] + t.params["b"][0]
    hp = 1.0 - np.tanh(arg) ** 2
    D = np.tanh(arg) ** 2 + hp * one_plus_c                         # 1 + h' c
    nw, nr = np.linalg.norm(t.params["w"]), np.linalg.norm(rho_hat)
    kappa = 1.0 + hp * nr * nw / D                                  # >= ||J^{-1}||_2
    return EPS * (kappa * (1.0 + np.max(np.abs(x), axis=1)) + nr)


def planar_inverse_errors(n_draws=10_000, n_points=100, dims=(1, 2, 3, 5),
                          log10_scale=(-2.0, 2.0), random_state=0):
    r"""Measure the planar inverse over ``n_draws`` random parameter draws.

    Parameters
    ----------
    n_draws : int
        Random parameter draws :math:`(w, \rho, b)`.
    n_points : int
        Base points ``u ~ N(0, I)`` per draw.
    dims : tuple of int
        Dimensions, used in turn.
    log10_scale : (float, float)
        ``w`` and ``rho`` are ``10**s * N(0, I)`` with ``s`` uniform on this interval (drawn
        separately for each); ``b ~ N(0, 1) * 10**s_b`` likewise.
    random_state : int, numpy.random.Generator or None
        Seed or generator of the draws.

    Returns
    -------
    dict of ndarray, each of shape (n_draws,)
        ``roundtrip``, ``solver``, ``conditioning``, ``floor`` (the float64 floor at the
        point with the largest ratio), ``norm_w``, ``norm_rho_hat``, ``c``,
        ``dim``, and the boolean ``refused``: draws with :math:`w^\top\rho < -745`, which
        :class:`Planar` refuses (``softplus`` underflows to 0); their entries are NaN.
    """
    rng = as_rng(random_state)
    keys = ("roundtrip", "solver", "conditioning", "floor", "norm_w", "norm_rho_hat", "c", "dim")
    out = {k: np.empty(n_draws) for k in keys}
    out["refused"] = np.zeros(n_draws, dtype=bool)
    lo, hi = log10_scale
    for i in range(n_draws):
        d = dims[i % len(dims)]
        sw, sr, sb = 10.0 ** rng.uniform(lo, hi, 3)
        w, rho, b = sw * rng.standard_normal(d), sr * rng.standard_normal(d), rng.standard_normal(1)
        u = rng.standard_normal((n_points, d))
        try:
            t = Planar(w, rho, sb * b)
        except ValueError:                 # w^T rho < -745: refused (softplus underflows)
            for k in keys:
                out[k][i] = np.nan
            out["refused"][i], out["dim"][i] = True, d
            continue
        x, _ = t.forward(u)
        u_back, _ = t.inverse(x)
        u_star = reference_inverse(t, x, u_back)
        err = np.max(np.abs(u_back - u), axis=1)                    # (n_points,)
        rho_hat, c, _ = t.constrained()
        nw, nr = np.linalg.norm(t.params["w"]), np.linalg.norm(rho_hat)
        allowed = float64_floor(t, u, x)
        out["roundtrip"][i] = err.max()
        out["solver"][i] = float(np.max(np.abs(u_back - u_star)))
        out["conditioning"][i] = np.max(err / allowed)
        out["floor"][i] = allowed[np.argmax(err / allowed)]
        out["norm_w"][i], out["norm_rho_hat"][i] = nw, nr
        out["c"][i], out["dim"][i] = c, d
    return out


def plot_planar_inverse_errors(r, ax=None):
    """Scatter, per draw, the round trip against its float64 floor at the point where their
    ratio is largest (``r`` from :func:`planar_inverse_errors`)."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    ok = ~r["refused"]
    floor = r["floor"][ok]
    err = r["conditioning"][ok] * floor          # the error at the point of the largest ratio
    sc = ax.scatter(floor, np.maximum(err, 1e-18), s=5, cmap="viridis",
                    c=np.log10(np.maximum(1.0 + r["c"][ok], 1e-16)).clip(-16, 4))
    grid = np.logspace(np.log10(floor.min()), np.log10(floor.max()), 10)
    ax.plot(grid, grid, "r--", lw=1.5, zorder=3, label="round trip = float64 floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("float64 floor  eps (kappa (1 + |x|) + |rho_hat|)")
    ax.set_ylabel("|inverse(forward(u)) - u|, worst point of the draw")
    ax.set_title(f"planar inverse, {ok.sum()} random parameter draws")
    ax.figure.colorbar(sc, ax=ax, label="log10(1 + w^T rho_hat)")
    ax.legend(loc="upper left")
    return ax
