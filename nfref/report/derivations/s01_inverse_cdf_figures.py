"""Figures of notes 000, section 1 (``python -m nfref figures -k s01``).

Each function returns a matplotlib Figure; the notebook of section 1 shows the same ones.
Every figure uses fixed seeds, so the PNGs are reproducible.
"""

import numpy as np
from scipy import stats

from nfref.inverse_cdf import GaussianCDF, Morph
from nfref.inverse_cdf.examples import (example_banana, example_gaussian, example_gumbel,
                                    example_mixture, sample_direct)
from nfref.report.claims import figure


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _density_grid(law, lo, hi, n=160):
    x, y = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    pts = np.stack([x.ravel(), y.ravel()], axis=1)                # (n*n, 2)
    return x, y, np.exp(law.logpdf(pts)).reshape(x.shape)


@figure("s01_inverse_cdf_1d")
def fig_inverse_cdf_1d():
    """1-D trick: uniforms pushed through F^{-1} (a Gumbel given by its CDF only)."""
    plt = _plt()
    law = example_gumbel()
    t = np.linspace(-3, 7, 400)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(t, np.exp(-np.exp(-t)), color="k", lw=2, label="$F_Z(t)$")
    for u in (0.1, 0.35, 0.6, 0.85, 0.97):
        z = law.quantile(np.array([[u]]))[0, 0]
        a.annotate("", xy=(z, 0), xytext=(z, u), arrowprops=dict(arrowstyle="->", color="C0"))
        a.plot([-3, z], [u, u], color="C0", lw=1)
    a.set(xlabel="z", ylabel="u", title=r"$z = F_Z^{-1}(u)$: follow $u$ across, then down")
    a.legend(loc="lower right")
    z = law.rvs(20000, random_state=0)[:, 0]
    b.hist(z, bins=80, density=True, color="C0", alpha=0.5, label=r"$F_Z^{-1}(U)$, 20000 draws")
    b.plot(t, np.exp(law.logpdf(t[:, None])), color="k", lw=2, label="Gumbel density")
    b.set(xlabel="z", title=r"$F_Z^{-1}(U) \overset{d}{=} Z$", xlim=(-3, 7))
    b.legend()
    fig.tight_layout()
    return fig


@figure("s01_not_a_point")
def fig_not_a_point():
    """Level sets of the joint CDF are curves; Q picks one point per w."""
    plt = _plt()
    law = example_gaussian(2)
    x, y = np.meshgrid(np.linspace(-3, 4, 70), np.linspace(-4.5, 3, 70))
    pts = np.stack([x.ravel(), y.ravel()], axis=1)
    cdf = stats.multivariate_normal(law.mean_vector(), law.covariance()).cdf(pts)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    cs = ax.contour(x, y, cdf.reshape(x.shape), levels=[0.1, 0.25, 0.5, 0.75, 0.9],
                    cmap="viridis")
    ax.clabel(cs, fmt="F = %.2f")
    w = np.array([[0.5, 0.5], [0.5, 0.2], [0.5, 0.8], [0.2, 0.5], [0.8, 0.5]])
    z = law.quantile(w)
    ax.scatter(z[:, 0], z[:, 1], color="C3", zorder=3)
    for wi, zi in zip(w, z):
        ax.annotate(f"Q({wi[0]:.1f}, {wi[1]:.1f})", zi, textcoords="offset points",
                    xytext=(5, 5), fontsize=8)
    ax.set(xlabel="$z_1$", ylabel="$z_2$",
           title="$\\{z: F_Z(z) = c\\}$ is a curve; $Q(w)$ is a point")
    fig.tight_layout()
    return fig


@figure("s01_uniformization")
def fig_uniformization():
    """Z from the mixture, W = G(Z) on the unit square, and the histograms of W."""
    plt = _plt()
    law = example_mixture()
    z = sample_direct(law, 20000, random_state=1)
    w = law.partial_cdf(z)
    fig, ax = plt.subplots(1, 4, figsize=(15, 3.7))
    ax[0].scatter(z[:, 0], z[:, 1], s=1, alpha=0.3)
    ax[0].set(xlabel="$z_1$", ylabel="$z_2$", title="Z: a Gaussian mixture (direct draws)")
    ax[1].scatter(w[:, 0], w[:, 1], s=1, alpha=0.3, color="C1")
    ax[1].set(xlabel="$w_1 = G_1(z)$", ylabel="$w_2 = G_2(z)$", title="W = G(Z)", xlim=(0, 1),
              ylim=(0, 1), aspect="equal")
    for j in range(2):
        ax[2 + j].hist(w[:, j], bins=40, density=True, color="C1", alpha=0.6)
        ax[2 + j].axhline(1.0, color="k", lw=1)
        ax[2 + j].set(xlabel=f"$w_{j + 1}$", title=f"histogram of $W_{j + 1}$", ylim=(0, 1.4))
    fig.tight_layout()
    return fig


@figure("s01_generation")
def fig_generation():
    """Z = Q(U) for the Gaussian, the mixture and the banana, over their densities."""
    plt = _plt()
    laws = [("Gaussian", example_gaussian(2), (-3, -5), (4, 3)),
            ("mixture", example_mixture(), (-5.5, -4.5), (5, 4.5)),
            ("banana", example_banana(), (-3.5, -1.5), (3.5, 8))]
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    for a, (name, law, lo, hi) in zip(ax, laws):
        x, y, dens = _density_grid(law, lo, hi)
        a.contour(x, y, dens, levels=8, cmap="Greys")
        z = law.rvs(3000, random_state=2)
        a.scatter(z[:, 0], z[:, 1], s=2, alpha=0.5)
        a.set(xlabel="$z_1$", ylabel="$z_2$", title=f"{name}: Z = Q(U), 3000 draws",
              xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    fig.tight_layout()
    return fig


def _grid_lines(lo=-2.5, hi=2.5, n_lines=11, n_pts=300):
    """Horizontal and vertical lines of a square grid, as a list of (n_pts, 2) arrays."""
    ticks, s = np.linspace(lo, hi, n_lines), np.linspace(lo, hi, n_pts)
    return ([np.stack([s, np.full_like(s, t)], 1) for t in ticks]
            + [np.stack([np.full_like(s, t), s], 1) for t in ticks])


@figure("s01_morphing")
def fig_morphing():
    """A grid of Y ~ N(0, I) and its images under Q_Z o G_Y for the mixture and the banana."""
    plt = _plt()
    source = GaussianCDF(np.zeros(2), np.zeros((2, 2)))
    lines = _grid_lines()
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.4))
    for k, line in enumerate(lines):
        color = "C0" if k < len(lines) // 2 else "C3"
        ax[0].plot(line[:, 0], line[:, 1], color=color, lw=0.8)
    ax[0].set(title="grid of Y ~ N(0, I)", xlabel="$y_1$", ylabel="$y_2$", aspect="equal")
    for a, (name, target) in zip(ax[1:], [("mixture", example_mixture()),
                                          ("banana", example_banana())]):
        m = Morph(source, target)
        for k, line in enumerate(lines):
            img = m.forward(line)[0]
            a.plot(img[:, 0], img[:, 1], color="C0" if k < len(lines) // 2 else "C3", lw=0.8)
        z = m.forward(np.random.default_rng(3).standard_normal((2000, 2)))[0]
        a.scatter(z[:, 0], z[:, 1], s=1, color="k", alpha=0.3)
        a.set(title=f"$\\phi_{{Y \\to Z}}$ = $Q_Z \\circ G_Y$, Z = {name}", xlabel="$z_1$",
              ylabel="$z_2$")
    fig.tight_layout()
    return fig
