r"""The inverse CDF of a Gaussian mixture (notes 000, section 1, eqs. (1)-(5)).

:math:`p(z) = \sum_k \pi_k N(z; m_k, S_k)` with full covariances, in any dimension (the
course uses :math:`d = 2`). Write :math:`S_k = L_k L_k^\top`, :math:`A_k = L_k^{-1}`
(lower triangular) and :math:`\varepsilon_k = A_k(z - m_k)`. In component :math:`k` the
conditional law of :math:`z_j` given :math:`z_{<j}` is
:math:`N(m_{kj} + \sum_{l<j} L_{k,jl}\varepsilon_{kl},\ L_{k,jj}^2)`, so
:math:`P_k(Z_j\le z_j\mid z_{<j}) = \Phi(\varepsilon_{kj})`. Mixed with the posterior
weights of the past,

.. math::
    r_{kj}(z_{<j}) = \frac{\pi_k N(z_{<j}; m_{k,<j}, S_{k,<j<j})}{\sum_m \pi_m N(z_{<j}; m_{m,<j}, S_{m,<j<j})},
    \qquad G_j(z) = \sum_k r_{kj}\,\Phi(\varepsilon_{kj}),

(eq. (1)); for :math:`d = 2`, :math:`G_1 = \sum_k\pi_k\Phi((z_1-m_{k1})/\sqrt{S_{k,11}})` and
:math:`G_2` is the mixture of the conditional normal CDFs with the posterior weights
:math:`r_{k2}(z_1)`. The marginal log-density of the past is
:math:`\log N(z_{<j}) = -\sum_{l<j}(\tfrac12\varepsilon_{kl}^2 + \log L_{k,ll}) - \tfrac{j-1}2\log2\pi`
(the leading block of :math:`L_k` factors the leading block of :math:`S_k`); weights are
formed with log-sum-exp, so far tails never divide 0 by 0.

Jacobian of :math:`G` (lower triangular). With
:math:`s_{kj,i} = \partial_{z_i}\log N(z_{<j}) = -\sum_{l<j}\varepsilon_{kl}A_{k,li}`,

.. math::
    \frac{\partial G_j}{\partial z_i} = \sum_k r_{kj}\Big[\big(s_{kj,i} - \textstyle\sum_m r_{mj}s_{mj,i}\big)
    \Phi(\varepsilon_{kj}) + \varphi(\varepsilon_{kj})A_{k,ji}\Big],

whose diagonal (:math:`s_{kj,j} = 0`) is :math:`p(z_j\mid z_{<j}) = \sum_k r_{kj}\varphi(\varepsilon_{kj})/L_{k,jj}`.
The log-determinant is :math:`\log p(z)` (log-sum-exp over components) and
:math:`\nabla_z\log p = -\sum_k r_k A_k^\top\varepsilon_k` with the full posterior :math:`r_k`.

:math:`Q` has no closed form: coordinate after coordinate (eq. (3)) it solves the 1-D
equation :math:`\sum_k r_{kj}\Phi((t - c_{kj})/L_{k,jj}) = w_j` for :math:`t`, with
:math:`c_{kj} = m_{kj} + \sum_{l<j}L_{k,jl}\varepsilon_{kl}`, by safeguarded bracketed Newton
for all points at once (:func:`nfref.numerics.solve_monotone`, on :math:`\log F` for
:math:`w_j \le 1/2`), to ``1e-13 (1 + |t|)``. The smallest and largest component quantiles
:math:`c_{kj} + L_{k,jj}\Phi^{-1}(w_j)` bracket the root (a mixture of CDFs lies between its
components); above :math:`w_j = 1/2` the same equation is solved for :math:`-t` from
:math:`1 - w_j` (computed directly), so the upper tail is as accurate as the lower one. The
posterior column :math:`r_{\cdot j}` depends on :math:`z_{<j}` only, so the one used by the
solve is already the one of the final point, and the pass keeps it for :math:`J_G`.

The mixture is a fixed distribution (no learnable parameters); the input gradients of both
directions are those of :mod:`nfref.inverse_cdf._base`.
"""

import numpy as np
from scipy.special import ndtr, ndtri

from nfref._validation import as_float, as_int, as_real, as_rng, check_dim
from nfref.inverse_cdf._base import InverseCDFTransform, check_resolved
from nfref.numerics import solve_monotone

__all__ = ["GaussianMixtureCDF"]

LOG_2PI = np.log(2.0 * np.pi)
SQRT_2PI = np.sqrt(2.0 * np.pi)
TOL = 1e-13               # relative step at which the Newton solve of Q stops


class GaussianMixtureCDF(InverseCDFTransform):
    r"""Partial CDFs of :math:`\sum_k \pi_k N(m_k, S_k)`: forward :math:`Q` (numerical),
    inverse :math:`G` (closed form).

    Parameters
    ----------
    weights : array_like, shape (K,)
        Positive mixture weights (normalized to sum to 1).
    means : array_like, shape (K, d)
    covs : array_like, shape (K, d, d)
        Symmetric positive definite covariances.

    Raises
    ------
    ValueError
        For weights that are not positive, shapes that disagree, or a covariance that is not
        symmetric positive definite.
    """

    @property
    def numerical_inverse(self):
        """True: ``Q`` is a numerical solve (round trips hold to ``1e-13 (1 + |z|)``)."""
        return True

    def __init__(self, weights, means, covs):
        w = np.atleast_1d(as_real(weights, "weights"))
        m = as_real(means, "means")
        s = as_real(covs, "covs")
        K = w.size
        if (w.ndim != 1 or m.ndim != 2 or m.shape[0] != K or m.shape[1] < 1
                or s.shape != (K, m.shape[1], m.shape[1])):
            raise ValueError("GaussianMixtureCDF: expected weights (K,), means (K, d) and covs "
                             f"(K, d, d), got {w.shape}, {m.shape} and {s.shape}")
        for name, a in (("weights", w), ("means", m), ("covs", s)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"GaussianMixtureCDF: expected finite {name}")
        if np.any(w <= 0):
            raise ValueError(f"GaussianMixtureCDF: expected positive weights, got {w}")
        chol = np.empty_like(s)
        for k in range(K):
            if np.max(np.abs(s[k] - s[k].T)) > 1e-12 * np.max(np.abs(s[k])):
                raise ValueError(f"GaussianMixtureCDF: expected symmetric covariances; covs[{k}] "
                                 "is not symmetric")
            try:
                chol[k] = np.linalg.cholesky(s[k])
            except np.linalg.LinAlgError:
                eig = np.linalg.eigvalsh(s[k]).min()
                raise ValueError(f"GaussianMixtureCDF: expected positive definite covariances; "
                                 f"covs[{k}] has smallest eigenvalue {eig:.3e}") from None
        super().__init__(m.shape[1])
        self.weights, self.means, self.covs = w / w.sum(), m.copy(), s.copy()
        self.chol = chol                                           # (K, d, d)
        self.chol_inv = np.linalg.inv(chol)                        # (K, d, d), lower triangular
        self.chol_inv = np.tril(self.chol_inv)
        self.log_diag = np.log(np.einsum("kjj->kj", chol))         # (K, d)

    @classmethod
    def random(cls, dim, random_state=None, n_components=3, spread=1.0):
        """Random overlapping components: means ``N(0, spread^2)``, covariances
        ``B B^T + 0.3 I`` with ``B`` entries ``N(0, 0.5^2)``, Dirichlet(2) weights.

        Well separated modes (large ``spread``) leave near-empty gaps where ``Q`` is steep
        and strongly curved; finite-difference checks then need smaller steps.
        """
        dim = check_dim(dim)
        n_components = as_int(n_components, "n_components", minimum=1)
        spread = as_float(spread, "spread", low=0.0)
        rng = as_rng(random_state)
        means = rng.normal(0.0, spread, (n_components, dim))
        b = rng.normal(0.0, 0.5, (n_components, dim, dim))
        covs = b @ np.swapaxes(b, 1, 2) + 0.3 * np.eye(dim)
        return cls(rng.dirichlet(2.0 * np.ones(n_components)), means, covs)

    def mean_vector(self):
        """Mixture mean ``sum_k pi_k m_k``, shape (d,)."""
        return self.weights @ self.means

    def covariance(self):
        """Mixture covariance ``sum_k pi_k (S_k + m_k m_k^T) - mu mu^T``, shape (d, d)."""
        mu = self.mean_vector()
        second = np.einsum("k,kij->ij", self.weights, self.covs + np.einsum(
            "ki,kj->kij", self.means, self.means))
        return second - np.outer(mu, mu)

    # ------------------------------------------------------------------ pieces
    # Arrays over components are laid out (K, n, d): sums over k are sums of K slabs.
    def _eps(self, z):
        """``eps[k, n] = A_k (z_n - m_k)``, shape (K, n, d) (a matrix product per component)."""
        return np.stack([(z - m) @ a.T for m, a in zip(self.means, self.chol_inv)])

    def _log_terms(self, eps):
        """``-eps^2/2 - log L_k,jj - log(2 pi)/2``: per-coordinate log-density terms, (K, n, d)."""
        return -0.5 * eps * eps - self.log_diag[:, None, :] - 0.5 * LOG_2PI

    def _posterior(self, eps):
        """``r[k, n, j]``, the weight of component k given the past ``z_<j`` (log-sum-exp)."""
        cum = np.cumsum(self._log_terms(eps), axis=2)
        lp = np.log(self.weights)[:, None, None] + np.concatenate(
            [np.zeros_like(cum[:, :, :1]), cum[:, :, :-1]], axis=2)       # log pi_k N(z_<j)
        r = np.exp(lp - lp.max(axis=0))
        return r / r.sum(axis=0)                                           # (K, n, d)

    def _log_joint(self, eps):
        """``log pi_k + log N(z; m_k, S_k)``, shape (K, n)."""
        return np.log(self.weights)[:, None] + self._log_terms(eps).sum(axis=2)

    @staticmethod
    def _logsumexp(lj):
        """``log p(z) = log sum_k exp(lj[k])`` over components, shape (n,)."""
        top = lj.max(axis=0)
        return top + np.log(np.exp(lj - top).sum(axis=0))                 # (n,)

    # ------------------------------------------------------------------ maths
    # The pieces of a pass are (eps, r, lj): eps[k, n] = A_k (z_n - m_k), the posteriors of
    # the past r[k, n, j] and the joint log-densities lj[k, n] = log pi_k N(z_n; m_k, S_k).
    def _G_pass(self, z):
        eps = self._eps(z)
        r = self._posterior(eps)
        lj = self._log_joint(eps)
        return (np.sum(r * ndtr(eps), axis=0), np.sum(r * ndtr(-eps), axis=0),
                self._logsumexp(lj), (eps, r, lj))

    def _Q_pass(self, w, w_bar):
        n, d = w.shape
        z = np.zeros((n, d))
        r_all = np.empty((self.weights.size, n, d))
        for j in range(d):                           # eq. (3), one coordinate at a time
            eps = self._eps(z)                                     # columns < j are final
            r = self._posterior(eps)[:, :, j]                      # (K, n), final: needs z_<j only
            r_all[:, :, j] = r
            scale = np.exp(self.log_diag[:, j])[:, None]           # (K, 1)
            # Conditional means; the lower half solves F(t) = w for t, the upper half solves
            # 1 - F(t) = w_bar for x = -t (an increasing function of x, same form, -c).
            sign = np.where(w[:, j] <= 0.5, 1.0, -1.0)             # (n,)
            c = sign * (z[:, j] - eps[:, :, j] * scale)            # (K, n)
            level = np.where(sign > 0, w[:, j], w_bar[:, j])

            def cdf_and_pdf(x, idx, r=r, c=c, scale=scale):
                e = (x - c[:, idx]) / scale
                ri = r[:, idx]
                return (np.sum(ri * ndtr(e), axis=0),
                        np.sum(ri * np.exp(-0.5 * e * e) / (SQRT_2PI * scale), axis=0))

            q = ndtri(level)                                       # component quantiles bracket
            lo, hi = np.min(c + q * scale, axis=0), np.max(c + q * scale, axis=0)
            # Start from the moment-matched normal quantile.
            mean = np.sum(r * c, axis=0)
            sd = np.sqrt(np.maximum(np.sum(r * (scale ** 2 + c * c), axis=0) - mean ** 2, 0.0))
            who = f"GaussianMixtureCDF.forward (coordinate {j})"
            root = solve_monotone(cdf_and_pdf, level, lo, hi, guess=mean + sd * q, tol=TOL,
                                  name=who, log_newton_below=0.5)
            z[:, j] = sign * check_resolved(root, level, who, "the mixture's CDF",
                                            "u (or 1 - u) above about 1e-300")
        eps = self._eps(z)
        lj = self._log_joint(eps)
        return z, self._logsumexp(lj), (eps, r_all, lj)

    def _jacobian_G_from(self, z, pieces):
        eps, r, _ = pieces                                         # (K, n, d) each
        A = self.chol_inv                                          # (K, d, d)
        # s[k, n, j, i] = -sum_{l<j} eps_kl A_k[l, i]
        cum = np.cumsum(eps[:, :, :, None] * A[:, None, :, :], axis=2)     # (K, n, l, i)
        s = -np.concatenate([np.zeros_like(cum[:, :, :1]), cum[:, :, :-1]], axis=2)
        s_bar = np.einsum("knj,knji->nji", r, s)                   # (n, j, i)
        phi = np.exp(-0.5 * eps * eps) / SQRT_2PI
        jac = (np.einsum("knj,knji->nji", r * ndtr(eps), s - s_bar[None])
               + np.einsum("knj,kji->nji", r * phi, A))
        return np.tril(jac)

    def _grad_logpdf_from(self, z, pieces):
        eps, _, lj = pieces
        post = np.exp(lj - lj.max(axis=0))
        post = post / post.sum(axis=0)                             # full posterior (K, n)
        return -np.einsum("kn,kli,knl->ni", post, self.chol_inv, eps)
