r"""The multivariate normal's inverse CDF (notes 000, section 1, eqs. (1)-(5)).

For :math:`Z \sim N(\mu, \Sigma)` with Cholesky factor :math:`\Sigma = L L^\top` (``L``
lower triangular, positive diagonal), write :math:`z = \mu + L\varepsilon`. Given
:math:`z_{<j}`, the first :math:`j-1` coordinates fix :math:`\varepsilon_{<j}` (``L`` is
triangular), so

.. math::
    Z_j \mid Z_{<j} = z_{<j} \;\sim\; N\Big(\mu_j + \sum_{k<j} L_{jk}\varepsilon_k,\; L_{jj}^2\Big),

which is the Schur-complement formula in disguise:
:math:`L_{jj}^2 = \Sigma_{jj} - \Sigma_{j,<j}\Sigma_{<j,<j}^{-1}\Sigma_{<j,j}` and
:math:`\mu_j + \Sigma_{j,<j}\Sigma_{<j,<j}^{-1}(z_{<j}-\mu_{<j})` for the mean
(:meth:`GaussianCDF.conditional_schur` computes them that way, for checking). Hence the
partial CDFs of eq. (1) are

.. math:: G(z) = \Phi(\varepsilon), \qquad \varepsilon = L^{-1}(z - \mu),

and the inverse of eqs. (3)-(5) is :math:`Q(u) = \mu + L\,\Phi^{-1}(u)`. With
:math:`\varphi` the standard normal density,

.. math::
    J_Q(u) = L\,\operatorname{diag}(1/\varphi(\varepsilon)), \qquad
    \log|\det J_G(z)| = -\sum_j \log L_{jj} - \tfrac12\|\varepsilon\|^2 - \tfrac d2\log 2\pi
    = \log N(z;\mu,\Sigma).

Tails: :math:`\Phi` and :math:`\Phi^{-1}` are ``scipy.special.ndtr``/``ndtri``; the
log-determinant is computed from :math:`\varepsilon`, never as ``log(w)``, so it stays exact
for :math:`|z|` up to 30 standard deviations and beyond. In float64,
:math:`\Phi(\varepsilon)` rounds to 1 for :math:`\varepsilon > 8.3`; there ``G`` is exact
to rounding but ``Q`` cannot be applied to ``w = 1``. :meth:`GaussianCDF.log_partial_cdf`
gives :math:`\log w` and :math:`\log(1-w)` through ``log_ndtr`` for both tails.

Gradients (derived here; checked by the contract suite). Parameters: ``mean`` :math:`\mu`
and ``chol_raw`` :math:`R` with :math:`L = \operatorname{tril}(R,-1) + \operatorname{diag}(e^{R_{jj}})`,
so :math:`\partial L_{jk}/\partial R_{jk} = 1` below the diagonal and
:math:`\partial L_{jj}/\partial R_{jj} = L_{jj}`; the upper triangle of :math:`R` is unused.

Forward, :math:`x = \mu + L\varepsilon(u)`, :math:`\ell = \sum_j\log L_{jj} + \tfrac12\|\varepsilon\|^2
+ \tfrac d2\log 2\pi`, :math:`d\varepsilon_j/du_j = 1/\varphi(\varepsilon_j)`,
:math:`\partial\ell/\partial\varepsilon = \varepsilon`:

.. math::
    \nabla_u = \frac{L^\top g_x + g_\ell\,\varepsilon}{\varphi(\varepsilon)}, \quad
    \nabla_\mu = \sum_n g_{x,n}, \quad
    \nabla_L = \operatorname{tril}\Big(\sum_n g_{x,n}\varepsilon_n^\top\Big)
      + \Big(\sum_n g_{\ell,n}\Big)\operatorname{diag}(1/L_{jj}).

Inverse, :math:`w = \Phi(\varepsilon)`, :math:`\varepsilon = L^{-1}(z-\mu)`,
:math:`\ell^{-1} = -\sum_j\log L_{jj} - \tfrac12\|\varepsilon\|^2 - \tfrac d2\log2\pi`. With
:math:`a = g_w\odot\varphi(\varepsilon) - g_\ell\,\varepsilon` (the gradient with respect to
:math:`\varepsilon`) and :math:`d\varepsilon = L^{-1}(dz - d\mu - dL\,\varepsilon)`:

.. math::
    \nabla_z = L^{-\top}a, \quad \nabla_\mu = -\sum_n \nabla_{z,n}, \quad
    \nabla_L = -\operatorname{tril}\Big(\sum_n \nabla_{z,n}\varepsilon_n^\top\Big)
      - \Big(\sum_n g_{\ell,n}\Big)\operatorname{diag}(1/L_{jj}).

Then :math:`\nabla_R = \operatorname{tril}(\nabla_L,-1) + \operatorname{diag}(L_{jj}\,[\nabla_L]_{jj})`.

Each direction runs once (``_forward_pair_and_vjp``, ``_inverse_pair_and_vjp``): the pullback
keeps :math:`L`, :math:`\varepsilon` and :math:`1/\varphi(\varepsilon)` (forward) or
:math:`\varphi(\varepsilon)` (inverse) of its pass. The forward formulas hold for the pair
:math:`(w, 1 - w)` that :class:`~nfref.inverse_cdf.Morph` passes, with :math:`u = w`: the
quantile is taken from whichever side is accurate, and :math:`d\varepsilon_j/dw_j =
1/\varphi(\varepsilon_j)` on both.
"""

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from nfref._validation import as_float, as_real, as_rng, check_dim
from nfref.inverse_cdf._base import InverseCDFTransform
from nfref.numerics import lower_solve, tril_inverse

__all__ = ["GaussianCDF"]

LOG_2PI = np.log(2.0 * np.pi)
SQRT_2PI = np.sqrt(2.0 * np.pi)


def _phi(eps):
    """Standard normal density."""
    return np.exp(-0.5 * eps * eps) / SQRT_2PI


class GaussianCDF(InverseCDFTransform):
    r"""Partial CDFs of :math:`N(\mu, \Sigma)`: forward :math:`Q(u) = \mu + L\Phi^{-1}(u)`,
    inverse :math:`G(z) = \Phi(L^{-1}(z-\mu))`.

    The forward map sends the open unit cube to :math:`\mathbb{R}^d` (eqs. (3)-(5)); the
    inverse map is eq. (2) and its log-determinant is :math:`\log N(z; \mu, \Sigma)`, so
    ``Flow(UniformCube(d), GaussianCDF(...)).logpdf(z)`` is the Gaussian log-density.
    The conditional laws come from the Cholesky factor (module docstring); the Schur
    complements give the same numbers (:meth:`conditional_schur`).

    Parameters
    ----------
    mean : array_like, shape (d,)
        :math:`\mu` (parameter ``"mean"``).
    chol_raw : array_like, shape (d, d)
        Unconstrained Cholesky factor (parameter ``"chol_raw"``): its strictly lower
        triangle is used as is, its diagonal goes through ``exp``, its upper triangle is
        ignored (zero gradient). :math:`L = \operatorname{tril}(R,-1) + \operatorname{diag}(e^{R_{jj}})`,
        :math:`\Sigma = L L^\top`.

    Examples
    --------
    >>> import numpy as np
    >>> t = GaussianCDF.from_mean_cov([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]])
    >>> w = t.partial_cdf(np.array([[0.0, 1.0]]))
    >>> bool(np.allclose(w, 0.5))
    True
    """

    def __init__(self, mean, chol_raw):
        mean = np.atleast_1d(as_real(mean, "mean"))
        chol_raw = as_real(chol_raw, "chol_raw")
        if mean.ndim != 1 or chol_raw.shape != (mean.size, mean.size):
            raise ValueError("GaussianCDF: expected mean of shape (d,) and chol_raw of shape "
                             f"(d, d), got {mean.shape} and {chol_raw.shape}")
        super().__init__(mean.size, {"mean": mean, "chol_raw": chol_raw})

    @classmethod
    def from_mean_cov(cls, mean, cov):
        """Build from a mean (d,) and a symmetric positive definite covariance (d, d).

        Raises
        ------
        ValueError
            If ``cov`` is not square of the mean's size, not symmetric (relative 1e-12), or
            not positive definite (its Cholesky factorization fails).
        """
        mean = np.atleast_1d(as_real(mean, "mean"))
        cov = np.atleast_2d(as_real(cov, "cov"))
        d = mean.size
        if mean.ndim != 1 or cov.shape != (d, d):
            raise ValueError(f"GaussianCDF.from_mean_cov: expected mean of shape (d,) and cov of "
                             f"shape (d, d), got {mean.shape} and {cov.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise ValueError("GaussianCDF.from_mean_cov: expected finite mean and cov")
        asym = np.max(np.abs(cov - cov.T))
        if asym > 1e-12 * max(np.max(np.abs(cov)), 1e-300):
            raise ValueError("GaussianCDF.from_mean_cov: expected a symmetric covariance, "
                             f"got max |cov - cov^T| = {asym:.3e}")
        try:
            L = np.linalg.cholesky(0.5 * (cov + cov.T))
        except np.linalg.LinAlgError:
            eig = np.linalg.eigvalsh(0.5 * (cov + cov.T)).min()
            raise ValueError("GaussianCDF.from_mean_cov: expected a positive definite "
                             f"covariance, got smallest eigenvalue {eig:.3e}") from None
        if np.any(np.diag(L) <= 0) or not np.all(np.isfinite(L)):
            raise ValueError("GaussianCDF.from_mean_cov: expected a positive definite covariance "
                             "(its Cholesky factor has a zero on the diagonal)")
        return cls(mean, np.tril(L, -1) + np.diag(np.log(np.diag(L))))

    @classmethod
    def random(cls, dim, random_state=None, scale=0.5):
        """Random mean ``N(0, 1)``, strictly lower factor ``N(0, scale^2)``, log-diagonal
        ``N(0, (scale/2)^2)``."""
        dim = check_dim(dim)
        scale = as_float(scale, "scale", low=0.0)
        rng = as_rng(random_state)
        mean = rng.standard_normal(dim)
        raw = np.tril(rng.normal(0.0, scale, (dim, dim)), -1)
        raw += np.diag(rng.normal(0.0, 0.5 * scale, dim))
        return cls(mean, raw)

    # ------------------------------------------------------------------ the distribution
    def cholesky(self):
        """The lower-triangular factor ``L`` (positive diagonal), shape (d, d)."""
        raw = self.params["chol_raw"]
        return np.tril(raw, -1) + np.diag(np.exp(np.diag(raw)))

    def covariance(self):
        """``Sigma = L L^T``, shape (d, d)."""
        L = self.cholesky()
        return L @ L.T

    def mean_vector(self):
        """``mu`` (a copy), shape (d,)."""
        return self.params["mean"].copy()

    def conditional(self, z):
        """Mean and standard deviation of ``Z_j | Z_<j = z_<j`` for every ``j`` (Cholesky).

        Returns ``(m, s)``: ``m`` of shape (n, d), ``s`` of shape (d,) with ``s_j = L_jj``.
        """
        z = self._prepare(z, "z")
        L = self.cholesky()
        eps = self._eps(z, L)                                      # (n, d)
        m = self.params["mean"] + eps @ np.tril(L, -1).T           # sum_{k<j} L_jk eps_k
        return m, np.diag(L).copy()

    def conditional_schur(self, z):
        """The same as :meth:`conditional`, through Schur complements of ``Sigma``.

        :math:`m_j = \\mu_j + \\Sigma_{j,<j}\\Sigma_{<j,<j}^{-1}(z_{<j}-\\mu_{<j})`,
        :math:`s_j^2 = \\Sigma_{jj} - \\Sigma_{j,<j}\\Sigma_{<j,<j}^{-1}\\Sigma_{<j,j}`.
        """
        z = self._prepare(z, "z")
        mu, cov = self.params["mean"], self.covariance()
        m = np.empty_like(z)
        s = np.empty(self.dim)
        m[:, 0], s[0] = mu[0], np.sqrt(cov[0, 0])
        for j in range(1, self.dim):
            beta = np.linalg.solve(cov[:j, :j], cov[:j, j])         # (j,)
            m[:, j] = mu[j] + (z[:, :j] - mu[:j]) @ beta
            s[j] = np.sqrt(cov[j, j] - cov[j, :j] @ beta)
        return m, s

    def log_partial_cdf(self, z):
        """``(log w, log(1 - w))`` with ``w = G(z)``, accurate in both tails (``log_ndtr``)."""
        z = self._prepare(z, "z")
        eps = self._eps(z, self.cholesky())
        return log_ndtr(eps), log_ndtr(-eps)

    # ------------------------------------------------------------------ maths
    def _validate_params(self):
        d = self.dim
        if self.params["mean"].shape != (d,) or self.params["chol_raw"].shape != (d, d):
            raise ValueError(f"GaussianCDF: expected parameter 'mean' of shape ({d},) and "
                             f"'chol_raw' of shape ({d}, {d}), got "
                             f"{self.params['mean'].shape} and {self.params['chol_raw'].shape}")
        diag = np.exp(np.diag(self.params["chol_raw"]))
        if np.any(diag == 0.0) or not np.all(np.isfinite(diag)):
            raise ValueError("GaussianCDF: parameter 'chol_raw' has a diagonal entry whose exp "
                             "underflows to 0 or overflows (a singular covariance); expected "
                             "diagonal entries in about (-700, 700)")

    def _eps(self, z, L):
        return lower_solve(L, z - self.params["mean"])             # L^{-1}(z - mu), (n, d)

    @staticmethod
    def _eps_from_cube(w, w_bar):
        """``Phi^{-1}(w)``, from ``-Phi^{-1}(1 - w)`` where ``w > 1/2`` (the tail-accurate side)."""
        return np.where(w <= 0.5, ndtri(w), -ndtri(w_bar))

    def _logp_from_eps(self, eps, L):
        return (-0.5 * np.sum(eps * eps, axis=1) - np.sum(np.log(np.diag(L)))
                - 0.5 * self.dim * LOG_2PI)

    # The pieces of a pass are (L, eps): the Cholesky factor and eps = L^{-1}(z - mu).
    def _Q_pass(self, w, w_bar):
        L = self.cholesky()
        eps = self._eps_from_cube(w, w_bar)                        # (n, d)
        return self.params["mean"] + eps @ L.T, self._logp_from_eps(eps, L), (L, eps)

    def _G_pass(self, z):
        L = self.cholesky()
        eps = self._eps(z, L)
        return ndtr(eps), ndtr(-eps), self._logp_from_eps(eps, L), (L, eps)

    def _jacobian_G_from(self, z, pieces):
        # J_G = diag(phi(eps)) L^{-1}; L^{-1} is lower triangular.
        L, eps = pieces
        Linv = tril_inverse(L[None])[0]
        return np.tril(Linv)[None, :, :] * _phi(eps)[:, :, None]

    def _grad_logpdf_from(self, z, pieces):
        L, eps = pieces
        return -lower_solve(L, eps, transpose=True)                # -Sigma^{-1}(z - mu)

    def _jacobian(self, u):
        # J_Q[n, i, j] = L_ij / phi(eps_nj); exact zeros above the diagonal.
        eps = self._eps_from_cube(u, 1.0 - u)
        return self.cholesky()[None, :, :] * (SQRT_2PI * np.exp(0.5 * eps * eps))[:, None, :]

    @staticmethod
    def _grad_raw(gL, L):
        g = np.tril(gL, -1)
        return g + np.diag(np.diag(gL) * np.diag(L))

    def _forward_pair_and_vjp(self, w, w_bar):
        # x = mu + L eps(w), logdet = -log N(x); pullback of the module docstring ("Forward").
        x, logp, (L, eps) = self._Q_pass(w, w_bar)
        inv_phi = SQRT_2PI * np.exp(0.5 * eps * eps)               # d eps / d w, (n, d)
        inv_diag = np.diag(1.0 / np.diag(L))

        def back(gx, gl):
            gw = (gx @ L + gl[:, None] * eps) * inv_phi
            gL = np.tril(gx.T @ eps) + gl.sum() * inv_diag
            return gw, {"mean": gx.sum(0), "chol_raw": self._grad_raw(gL, L)}
        return x, -logp, back

    def _inverse_pair_and_vjp(self, z):
        # w = Phi(eps), eps = L^{-1}(z - mu), logdet = log N(z); module docstring ("Inverse").
        w, w_bar, logp, (L, eps) = self._G_pass(z)
        phi = _phi(eps)                                            # d w / d eps, (n, d)
        inv_diag = np.diag(1.0 / np.diag(L))

        def back(gw, gl):
            a = gw * phi - gl[:, None] * eps                       # dL/d eps
            gz = lower_solve(L, a, transpose=True)                 # L^{-T} a
            gL = -np.tril(gz.T @ eps) - gl.sum() * inv_diag
            return gz, {"mean": -gz.sum(0), "chol_raw": self._grad_raw(gL, L)}
        return w, w_bar, logp, back
