r"""The fixed example laws of section 1, with samplers and marginal CDFs that do not use ``Q``.

The claims, figures and notebook of section 1 test :math:`G` and :math:`Q` against
*independent* computations: points drawn directly (a Cholesky factor from NumPy, a mixture
label then a Gaussian, the banana's two-stage recipe) and marginal CDFs written from the
definition of each law.

========================  ============================================================
:func:`example_gaussian`  :math:`N(\mu, \Sigma)` in 2 or 3 dimensions, correlated
:func:`example_mixture`   a 2-D mixture of three correlated Gaussians
:func:`example_banana`    :math:`z_1\sim N(0,1)`, :math:`z_2\mid z_1 \sim N(b z_1^2, s^2)`
:func:`example_gumbel`    a 1-D Gumbel law given by its CDF only (numerical inverse)
========================  ============================================================
"""

import numpy as np
from scipy.special import ndtr

from nfref._validation import as_int, as_rng
from nfref.inverse_cdf.conditional import Conditional, ConditionalCDF, banana
from nfref.inverse_cdf.gaussian import GaussianCDF
from nfref.inverse_cdf.mixture import GaussianMixtureCDF

__all__ = ["example_gaussian", "example_mixture", "example_banana", "example_gumbel",
           "sample_direct", "marginal_cdf", "BANANA_B", "BANANA_S"]

BANANA_B, BANANA_S = 0.8, 0.5


def example_gaussian(dim=2):
    """A correlated Gaussian: mean ``(0.5, -1, 0)[:dim]``, unit-ish variances, correlations."""
    dim = as_int(dim, "example_gaussian: dim (2 or 3)", minimum=2, maximum=3)
    mean = np.array([0.5, -1.0, 0.0])[:dim]
    cov = np.array([[1.0, 0.8, 0.3], [0.8, 1.5, -0.4], [0.3, -0.4, 0.7]])[:dim, :dim]
    return GaussianCDF.from_mean_cov(mean, cov)


def example_mixture():
    """Three correlated components in 2-D, separated enough to leave a gap between modes."""
    weights = [0.45, 0.35, 0.20]
    means = [[-2.0, -1.0], [2.0, 1.0], [0.5, 2.5]]
    covs = [[[1.0, 0.6], [0.6, 1.0]], [[0.6, -0.3], [-0.3, 0.8]], [[0.4, 0.0], [0.0, 0.2]]]
    return GaussianMixtureCDF(weights, means, covs)


def example_banana(with_ppf=True):
    """The 2-D banana with ``b = 0.8``, ``s = 0.5``."""
    return banana(BANANA_B, BANANA_S, 2, with_ppf)


def example_gumbel():
    r"""1-D Gumbel, :math:`F(t) = \exp(-e^{-t})`, given without its quantile function.

    :math:`\log p(t) = -t - e^{-t}`; the survival function :math:`-\mathrm{expm1}(-e^{-t})`
    keeps the upper tail.
    """
    return ConditionalCDF([Conditional(
        cdf=lambda t, past: np.exp(-np.exp(-t)),
        logpdf=lambda t, past: -t - np.exp(-t),
        sf=lambda t, past: -np.expm1(-np.exp(-t)),
        cdf_grad=lambda t, past: np.zeros((t.size, 0)),
        logpdf_grad=lambda t, past: np.expm1(-t)[:, None])], name="gumbel")


def sample_direct(law, size, random_state=None):
    """Draw from ``law`` without its ``Q``: Cholesky, mixture labels, or the banana recipe.

    Parameters
    ----------
    law : GaussianCDF, GaussianMixtureCDF, or a banana ``ConditionalCDF``
    size : int
    random_state : None, int or numpy.random.Generator
    """
    size = as_int(size, "size (a positive integer)", minimum=1)
    rng = as_rng(random_state)
    if isinstance(law, GaussianCDF):
        chol = np.linalg.cholesky(law.covariance())
        return law.mean_vector() + rng.standard_normal((size, law.dim)) @ chol.T
    if isinstance(law, GaussianMixtureCDF):
        labels = rng.choice(law.weights.size, size=size, p=law.weights)   # (n,)
        chol = np.linalg.cholesky(law.covs)                              # (K, d, d)
        eps = rng.standard_normal((size, law.dim))
        return law.means[labels] + np.einsum("nij,nj->ni", chol[labels], eps)
    if isinstance(law, ConditionalCDF) and law.name.startswith("banana"):
        z1 = rng.standard_normal(size)
        if law.dim != 2:
            raise ValueError(f"sample_direct: the banana sampler is 2-D, got dim {law.dim}")
        z2 = law.b * z1 ** 2 + law.s * rng.standard_normal(size)
        return np.stack([z1, z2], axis=1)
    raise ValueError(f"sample_direct: no direct sampler for {law!r}")


def marginal_cdf(law, j):
    r"""The exact marginal CDF of coordinate ``j`` as a vectorized callable ``t -> F(t)``.

    Gaussian: :math:`\Phi((t-\mu_j)/\sqrt{\Sigma_{jj}})`. Mixture:
    :math:`\sum_k \pi_k \Phi((t - m_{kj})/\sqrt{S_{k,jj}})`. Banana, ``j = 1``:
    :math:`E\,\Phi((t - b Z_1^2)/s)` by the trapezoidal rule over :math:`z_1 \in [-9, 9]`
    (step 0.01, spectrally accurate for this smooth integrand) on a grid of ``t`` in
    ``[-4, 40]`` with linear interpolation (step 0.005; interpolation error below 1e-5,
    far below the 3e-3 resolution of a KS test on 1e5 points).
    """
    dim = getattr(law, "dim", None)
    if isinstance(dim, int):
        j = as_int(j, f"j (a coordinate index in [0, {dim - 1}])", minimum=0, maximum=dim - 1)
    if isinstance(law, GaussianCDF):
        mu, sd = law.mean_vector()[j], np.sqrt(law.covariance()[j, j])
        return lambda t: ndtr((np.asarray(t) - mu) / sd)
    if isinstance(law, GaussianMixtureCDF):
        m, sd = law.means[:, j], np.sqrt(law.covs[:, j, j])
        return lambda t: np.sum(law.weights * ndtr((np.asarray(t)[..., None] - m) / sd), axis=-1)
    if isinstance(law, ConditionalCDF) and law.name.startswith("banana"):
        if j == 0:
            return lambda t: ndtr(np.asarray(t))
        x = np.linspace(-9.0, 9.0, 1801)
        weight = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi) * (x[1] - x[0])
        grid = np.arange(-4.0, 40.0, 0.005)
        table = np.empty_like(grid)
        for start in range(0, grid.size, 2000):      # blocks of t, to bound memory
            t = grid[start:start + 2000, None]
            table[start:start + 2000] = ndtr((t - law.b * x ** 2) / law.s) @ weight
        return lambda t: np.interp(t, grid, table)
    if isinstance(law, ConditionalCDF) and law.name == "gumbel":
        return lambda t: np.exp(-np.exp(-np.asarray(t)))
    raise ValueError(f"marginal_cdf: no marginal CDF for {law!r}")
