r"""Density destructors: Rotation-Based Iterative Gaussianization (RBIG), notes 002.

A density destructor goes the other way round from a generative flow: it transforms the data,
step by step, until it is Gaussian (or uniform). Laparra, Camps-Valls and Malo (2011),
"Iterative Gaussianization: from ICA to random rotations", IEEE Trans. Neural Networks 22(4),
alternate two steps, each invertible with a known Jacobian:

1. **marginal Gaussianization** of every coordinate, :math:`z_i = \Phi^{-1}(F_i(x_i))`, with
   :math:`F_i` the marginal CDF of coordinate ``i`` (the 1-D case of section 1 of notes 000:
   uniformize with the CDF, then map the uniform to a normal with :math:`\Phi^{-1}`);
2. a **rotation** :math:`R` (PCA, or a random orthogonal matrix), :math:`|\det R| = 1`.

In nfref's direction convention the generative map is the inverse of the destructor: the
``forward`` of :class:`MarginalGaussianization` maps Gaussian ``u`` to data ``x``,
:math:`x_i = F_i^{-1}(\Phi(u_i))`, and the density of the data is eq. (9) of notes 000.

Marginal CDFs are Gaussian mixtures: a kernel density estimate on the data (centers
:math:`c_k`, bandwidth :math:`h`) plus one "defensive" component of weight
:math:`\varepsilon` with the data's mean and standard deviation,

.. math:: F(t) = \sum_k w_k\,\Phi\Big(\frac{t - c_k}{h_k}\Big), \qquad
          p(t) = F'(t) = \sum_k \frac{w_k}{h_k}\,\varphi\Big(\frac{t - c_k}{h_k}\Big),

so the map is smooth, strictly increasing, and has an exact derivative. The broad component
matters in the tails: with kernels alone, a point beyond the data has
:math:`\Phi^{-1}(F(t)) \approx (t - c_{\max})/h`, so each layer multiplies its distance by
:math:`1/h` and a held-out point drifts off after a few layers; with it the tails are Gaussian
with the data's scale, which the next layers keep (a wider component would widen the tails
of the model by its factor at every layer). Both tails are evaluated in log space (``log_ndtr``, ``ndtri_exp``).

Jacobian (diagonal). With :math:`x = F^{-1}(\Phi(u))`: :math:`dx/du = \varphi(u)/p(x)`, so

.. math:: \log|\det J_\phi(u)| = \sum_i \log\varphi(u_i) - \log p_i(x_i),

and, with the score of the mixture
:math:`s(t) = p'(t)/p(t) = -\sum_k r_k(t)\,\frac{t - c_k}{h_k^2}`, where
:math:`r_k(t) = \frac{w_k}{h_k}\varphi\big(\frac{t-c_k}{h_k}\big) / p(t)` are the
responsibilities (``_score``),

.. math:: \frac{\partial}{\partial u_i}\log|\det J| = -u_i - s(x_i)\,\frac{dx_i}{du_i}.

The centers and bandwidth are fitted to data, not learned by gradient: the layer has no
parameters in the Transform sense (its ``params`` is empty).

The inverse (data to Gaussian, the destructor) is closed-form; the forward is the
numerical direction, a monotone solve of :math:`\Phi^{-1}(F_i(x_i)) = u_i`
(:func:`nfref.numerics.solve_monotone`), after which one evaluation of the mixture at
:math:`x` gives the log-determinant and keeps what the pullback needs. Neither pullback
needs the implicit rule: the map is elementwise, and :math:`dx/du` is explicit.
"""

import numpy as np
from scipy.special import log_ndtr, logsumexp, ndtr, ndtri_exp

from nfref._validation import (as_choice, as_data, as_float, as_int, as_real, as_rng,
                               check_dim)
from nfref.numerics import solve_monotone
from nfref.transform import Transform

__all__ = ["MarginalGaussianization", "fit_rbig"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _log_phi(t):
    return -0.5 * t * t - _LOG_SQRT_2PI


class MarginalGaussianization(Transform):
    r"""Elementwise :math:`x_i = F_i^{-1}(\Phi(u_i))` with Gaussian-mixture CDFs :math:`F_i`.

    Parameters
    ----------
    centers : array_like, shape (d, m)
        Component means of each coordinate's mixture.
    bandwidth : array_like, shape (d, m) or (d,)
        Component standard deviations (one per coordinate is broadcast to all components).
    weights : array_like, shape (d, m), optional
        Positive mixture weights, each row summing to 1; equal weights if omitted.
    """

    def __init__(self, centers, bandwidth, weights=None):
        # copies: the layer owns its mixtures (a caller editing its arrays changes nothing)
        centers = np.array(np.atleast_2d(as_real(centers, "centers")), dtype=np.float64)
        if centers.ndim != 2 or centers.size == 0:
            raise ValueError(f"MarginalGaussianization: expected centers of shape (d, m), got "
                             f"shape {centers.shape}")
        d, m = centers.shape
        bandwidth = as_real(bandwidth, "bandwidth")
        bandwidth = np.broadcast_to(bandwidth[:, None] if bandwidth.ndim == 1 else bandwidth,
                                    (d, m)).copy() if bandwidth.shape in ((d,), (d, m)) else None
        if bandwidth is None:
            raise ValueError(f"MarginalGaussianization: expected bandwidth of shape ({d},) or "
                             f"({d}, {m})")
        weights = np.full((d, m), 1.0 / m) if weights is None else as_real(weights, "weights")
        if (weights.shape != (d, m) or not np.all(np.isfinite(weights))
                or not np.allclose(weights.sum(1), 1.0) or np.any(weights <= 0)):
            raise ValueError(f"MarginalGaussianization: expected positive weights of shape "
                             f"({d}, {m}) whose rows sum to 1")
        if not (np.all(np.isfinite(centers)) and np.all(np.isfinite(bandwidth))
                and np.all(bandwidth > 0)):
            raise ValueError("MarginalGaussianization: expected finite centers and a positive "
                             "finite bandwidth")
        self.centers, self.bandwidth, self.log_weights = centers, bandwidth, np.log(weights)
        super().__init__(d)

    @classmethod
    def fit(cls, x, max_centers=500, defensive=0.01, random_state=None):
        """Fit to data ``x`` (n, d): kernels on the data (a random subsample of at most
        ``max_centers``) with Silverman's bandwidth ``h = 1.06 sd m^(-1/5)``, variance-corrected,
        plus a component ``N(mean, sd^2)`` of weight ``defensive`` for the tails."""
        x = as_data(x)
        if x.shape[0] < 2:
            raise ValueError(f"MarginalGaussianization.fit: expected at least 2 points, got {x.shape[0]}")
        defensive = as_float(defensive, "defensive (a weight)", low=0.0, high=1.0,
                             low_open=True, high_open=True)
        max_centers = as_int(max_centers, "max_centers (a positive integer)", minimum=1)
        rng = as_rng(random_state)
        sd = np.maximum(x.std(0, ddof=1), 1e-12)
        mean = x.mean(0)
        if x.shape[0] > max_centers:
            x = x[rng.choice(x.shape[0], max_centers, replace=False)]
        m = x.shape[0]
        h = 1.06 * sd * m ** (-0.2)
        # Variance correction (Silverman, 1986, sec. 6.4.1): shrink the centers toward the mean
        # and the bandwidth by 1 / sqrt(1 + h^2 / sd^2), so the kernel part keeps the sample
        # variance instead of adding h^2 to it.
        shrink = 1.0 / np.sqrt(1.0 + (h / sd) ** 2)                 # (d,)
        centers = np.column_stack([mean[:, None] + shrink[:, None] * (x.T - mean[:, None]),
                                   mean])                            # (d, m + 1)
        bw = np.column_stack([np.repeat((h * shrink)[:, None], m, 1), sd])
        w = np.column_stack([np.full((x.shape[1], m), (1 - defensive) / m),
                             np.full(x.shape[1], defensive)])
        return cls(centers, bw, w)

    @classmethod
    def random(cls, dim, random_state=None, m=12):
        """Random centers and bandwidths with equal weights, for the contract suite."""
        dim = check_dim(dim)
        m = as_int(m, "m (components per coordinate)", minimum=1)
        rng = as_rng(random_state)
        return cls(rng.normal(0, 1.5, (dim, m)), rng.uniform(0.3, 0.8, dim))

    @property
    def numerical_inverse(self):
        """True: the forward direction is a numerical solve (round trips are exact to its
        tolerance)."""
        return True

    # ---- the marginal CDF in log space, and its density
    # ``cols=None``: ``x`` is (n, d), column j uses coordinate j's mixture; otherwise ``x`` is
    # flat (k,) and entry i uses the mixture of coordinate ``cols[i]``.
    def _mixture(self, cols):
        if cols is None:
            return self.centers, self.bandwidth, self.log_weights               # (d, m)
        return self.centers[cols], self.bandwidth[cols], self.log_weights[cols]  # (k, m)

    def _scaled(self, x, cols=None):
        centers, bandwidth, _ = self._mixture(cols)
        return (x[..., None] - centers) / bandwidth                 # (n, d, m) or (k, m)

    def _log_cdf_sf(self, x, cols=None):
        """log F and log(1 - F), shape of ``x``. Linear space (``ndtr`` is accurate in both
        tails in relative terms) except where F or 1 - F underflows; there, log space."""
        t = self._scaled(x, cols)
        log_weights = self._mixture(cols)[2]
        w = np.exp(log_weights)
        F, S = np.sum(w * ndtr(t), axis=-1), np.sum(w * ndtr(-t), axis=-1)
        with np.errstate(divide="ignore"):
            log_F, log_S = np.log(F), np.log(S)
        tiny = np.minimum(F, S) < 1e-300
        if tiny.any():
            lw = np.broadcast_to(log_weights, t.shape)[tiny]
            log_F[tiny] = logsumexp(lw + log_ndtr(t[tiny]), axis=1)
            log_S[tiny] = logsumexp(lw + log_ndtr(-t[tiny]), axis=1)
        return log_F, log_S

    def _log_components(self, x, cols=None):
        """log of w_k phi(t_k) / h_k (shape of ``x`` plus (m,)), and the scaled t."""
        _, bandwidth, log_weights = self._mixture(cols)
        t = self._scaled(x, cols)
        return log_weights + _log_phi(t) - np.log(bandwidth), t

    def _density_parts(self, x):
        """``(log p(x), log components, t)``, shapes (n, d), (n, d, m), (n, d, m)."""
        lc, t = self._log_components(x)
        return logsumexp(lc, axis=2), lc, t

    def _score(self, log_p, lc, t):
        """s(x) = p'(x) / p(x) = -sum_k r_k t_k / h_k with responsibilities r_k, shape (n, d),
        from the parts of :meth:`_density_parts`."""
        r = np.exp(lc - log_p[:, :, None])                          # (n, d, m)
        return -np.sum(r * t / self.bandwidth[None], axis=2)

    def _gaussianize(self, x, cols=None):
        log_F, log_S = self._log_cdf_sf(x, cols)
        return np.where(log_F < log_S, ndtri_exp(log_F), -ndtri_exp(log_S))

    # ---- contract
    def _inverse_and_vjp(self, x):
        # u = Phi^{-1}(F(x)): du/dx = p(x)/phi(u); logdet_inv = sum log p(x) - log phi(u),
        # d logdet_inv / dx = s(x) + u du/dx.
        u = self._gaussianize(x)
        log_p, lc, t = self._density_parts(x)
        dudx = np.exp(log_p - _log_phi(u))                          # (n, d)

        def back(gu, gl):
            return gu * dudx + gl[:, None] * (self._score(log_p, lc, t) + u * dudx), {}
        return u, np.sum(log_p - _log_phi(u), axis=1), back

    def _forward_and_vjp(self, u):
        # x = G^{-1}(u): dx/du = phi(u)/p(x); logdet = sum log phi(u) - log p(x),
        # d logdet / du = -u - s(x) dx/du.
        x = self._solve(u)
        log_p, lc, t = self._density_parts(x)
        dxdu = np.exp(_log_phi(u) - log_p)                          # (n, d)

        def back(gx, gl):
            dld_du = -u - self._score(log_p, lc, t) * dxdu
            return gx * dxdu + gl[:, None] * dld_du, {}
        return x, np.sum(_log_phi(u) - log_p, axis=1), back

    def _solve(self, u):
        """Solve ``G(x) = Phi^{-1}(F(x)) = u`` for ``x``, elementwise.

        ``G`` is smooth and strictly increasing with ``G'(x) = p(x) / phi(G(x))``. A table of
        ``G`` on 1024 points per coordinate gives each ``u`` a bracket ``[lo, hi]`` and a
        first guess by linear interpolation; :func:`nfref.numerics.solve_monotone` widens the
        bracket beyond the table's ends where needed and runs safeguarded Newton, each entry
        until its step is below ``1e-13 (1 + |x|)`` (or its residual at the rounding level of
        ``u``), so each point's result does not depend on the rest of the batch. An entry
        still moving after 200 steps raises ``ValueError``.
        """
        d = self.dim
        lo_end = (self.centers - 10 * self.bandwidth).min(1)        # (d,)
        hi_end = (self.centers + 10 * self.bandwidth).max(1)
        table_x = np.linspace(lo_end, hi_end, 1024)                  # (1024, d)
        table_g = self._gaussianize(table_x)
        x0, lo, hi = np.empty_like(u), np.empty_like(u), np.empty_like(u)
        for j in range(d):                                           # a loop over coordinates
            k = np.clip(np.searchsorted(table_g[:, j], u[:, j]), 1, 1023)
            lo[:, j], hi[:, j] = table_x[k - 1, j], table_x[k, j]
            x0[:, j] = np.interp(u[:, j], table_g[:, j], table_x[:, j])

        def G(x, idx):                                               # idx into u.ravel()
            cols = idx % d
            g = self._gaussianize(x, cols)
            log_p = logsumexp(self._log_components(x, cols)[0], axis=1)
            return g, np.exp(log_p - _log_phi(g))
        return solve_monotone(G, u, lo, hi, guess=x0, tol=1e-13, max_iter=200,
                              name="MarginalGaussianization.forward").x

    def _jacobian(self, u):
        x = self._solve(u)
        dxdu = np.exp(_log_phi(u) - self._density_parts(x)[0])      # (n, d)
        return dxdu[:, :, None] * np.eye(self.dim)[None]


def fit_rbig(x, n_rounds=10, rotation="pca", max_centers=500, random_state=None):
    r"""Fit RBIG to data ``x``: ``n_rounds`` rounds of marginal Gaussianization and rotation.

    Returns the list of layers in the generative order of notes 000, section 3 (from the
    Gaussian base to the data): ``layers[0]`` acts first on ``u``. Build a flow with
    ``Flow(StandardNormal(d), Chain(layers))``. The rotations are
    :class:`~nfref.one_layer.linear.Linear` layers with an orthogonal weight and zero bias.

    Parameters
    ----------
    x : array_like, shape (n, d)
    n_rounds : int
    rotation : {"pca", "random"}
        PCA rotation of the current data, or a Haar-random orthogonal matrix.
    max_centers : int
        Kernel centers per marginal.
    random_state : None, int or numpy.random.Generator
    """
    from nfref.one_layer.linear import Linear

    rotation = as_choice(rotation, "fit_rbig: rotation", ("pca", "random"))
    n_rounds = as_int(n_rounds, "fit_rbig: n_rounds (a positive integer)", minimum=1)
    max_centers = as_int(max_centers, "fit_rbig: max_centers (a positive integer)", minimum=1)
    x = as_data(x)
    rng = as_rng(random_state)
    d = x.shape[1]
    destroy = []                                                     # data -> Gaussian order
    for _ in range(int(n_rounds)):
        mg = MarginalGaussianization.fit(x, int(max_centers), random_state=rng)
        x = mg.inverse(x)[0]
        if rotation == "pca":
            _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
            R = vt                                                   # rows: principal axes
        else:
            q, r = np.linalg.qr(rng.standard_normal((d, d)))
            R = q * np.sign(np.diag(r))
        rot = Linear(R.T, np.zeros(d))                               # generative: x = R^T z
        x = rot.inverse(x)[0]                                        # destroy: z = R x
        destroy += [mg, rot]
    return destroy[::-1]
