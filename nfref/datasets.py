r"""Two-dimensional toy densities for the notebooks: samplers and, where it exists, the exact density.

Each toy is a small class with ``rvs(size, random_state)``, ``logpdf(x)`` (a ``ValueError``
when no closed form is offered; ``has_logpdf`` says which), ``entropy()``, and ``bounds``, a
plotting box ``((x_lo, x_hi), (y_lo, y_hi))``. ``sample_<name>(n, random_state=None)`` draws
from a toy with its default settings; :data:`TOYS` maps names to classes.

* :class:`TwoMoons` -- two half circles plus :math:`N(0, \sigma^2 I)` noise; exact density by
  quadrature;
* :class:`EightGaussians` -- :math:`\frac18\sum_j N(r(\cos\frac{2\pi j}8, \sin\frac{2\pi j}8), s^2 I)`;
  exact;
* :class:`Checkerboard` -- uniform on the 8 dark squares of a 4 x 4 board on :math:`[-2, 2]^2`;
  exact;
* :class:`Rings` -- :math:`r_j(\cos T, \sin T) + N(0, \sigma^2 I)`, :math:`T \sim U[0, 2\pi)`; exact;
* :class:`TwoSpirals` -- two interleaved spirals plus noise; sampler only;
* :class:`Banana` -- :math:`x_1 \sim N(0, a^2)`, :math:`x_2 \mid x_1 \sim N(b(x_1^2 - a^2), \sigma^2)`;
  exact, with a closed-form entropy;
* :class:`Funnel` -- Neal (2003, sec. 8): :math:`x_1 \sim N(0, s^2)`, :math:`x_2 \mid x_1 \sim
  N(0, e^{x_1})`; exact, with a closed-form entropy;
* :class:`GaussianMixture` -- :math:`\sum_j w_j N(\mu_j, \Sigma_j)`; exact.

Densities:

* two moons: with the arcs :math:`c_1(t) = (\cos t, \sin t)`, :math:`c_2(t) = (1 - \cos t,
  \tfrac12 - \sin t)`, :math:`t \sim U[0, \pi]`, :math:`p(x) = \frac{1}{2\pi}\sum_{m=1}^2
  \int_0^\pi N(x; c_m(t), \sigma^2 I)\,dt`; the integral is taken by Gauss-Legendre quadrature
  with :math:`\max(64, \lceil 15/\sigma\rceil)` nodes per arc (150 for :math:`\sigma = 0.1`),
  or ``n_nodes``; against 1000 nodes the log-density differs by less than 1e-9
  (``tests/test_datasets.py``). Above 256 nodes the rule is composite (panels of 64
  Gauss-Legendre nodes, ``n_nodes`` rounded up to a multiple of 64), so its cost stays linear
  in the number of nodes; at most 200,000 nodes are used, so :math:`\sigma \ge 7.5\times
  10^{-5}` (a smaller noise is refused: its density would need more nodes than memory holds).
* rings: a point uniform on the circle of radius :math:`r` plus isotropic noise has
  :math:`p(x) = \frac{1}{2\pi\sigma^2} e^{-(\rho^2 + r^2)/(2\sigma^2)} I_0(\rho r/\sigma^2)`,
  :math:`\rho = |x|` (integrate the angle of the circle point; :math:`I_0` is the modified
  Bessel function), evaluated as
  :math:`-(\rho - r)^2/(2\sigma^2) + \log \mathrm{i0e}(\rho r/\sigma^2) - \log(2\pi\sigma^2)`.
* banana: :math:`H = \log(2\pi e\, a\sigma)` exactly (chain rule of entropy).
* funnel: :math:`H = \tfrac12\log(2\pi e\, s^2) + \tfrac12\log(2\pi e) + \tfrac12 E[x_1]`,
  and :math:`E[x_1] = 0`.

Far out, where the exact log-density is below the float64 range (beyond about
:math:`\lvert x \rvert = 10^{153}` for the two moons, :math:`x_1 < -709` with :math:`x_2 \ne 0`
for the funnel), ``logpdf`` returns ``-inf`` (the density rounds to 0), never NaN.
"""

import numpy as np
from scipy.special import i0e, logsumexp

from nfref._validation import as_batch, as_float, as_int, as_real, as_rng

__all__ = ["Toy", "TwoMoons", "EightGaussians", "Checkerboard", "Rings", "TwoSpirals",
           "Banana", "Funnel", "GaussianMixture", "TOYS", "make_toy", "sample_two_moons",
           "sample_eight_gaussians", "sample_checkerboard", "sample_rings", "sample_two_spirals",
           "sample_banana", "sample_funnel", "sample_gaussian_mixture"]

LOG_2PI = np.log(2 * np.pi)
MAX_NODES = 200_000        # quadrature nodes per arc of the two moons' density


def _check_size(size, name="size"):
    return as_int(size, f"{name} (a positive integer)", minimum=1)


def _positive(value, name):
    return as_float(value, f"{name} (a finite positive number)", low=0.0, low_open=True)


def _gauss_legendre(n):
    """Nodes and weights of an ``n``-point rule on ``[-1, 1]``: Gauss-Legendre up to 256
    nodes, composite (panels of 64 nodes, ``n`` rounded up to a multiple of 64) above."""
    if n <= 256:
        return np.polynomial.legendre.leggauss(n)
    panels = -(-n // 64)
    t, w = np.polynomial.legendre.leggauss(64)
    edges = np.linspace(-1.0, 1.0, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]                          # (panels, 1)
    mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
    return (mid + half * t).ravel(), (half * w).ravel()


def _logsumexp_rows(a):
    """``log sum_j exp(a[:, j])``, ``-inf`` for a row that is all ``-inf``."""
    top = a.max(1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(a - safe[:, None]).sum(1))


class Toy:
    """Base of the toys: validation and the Monte Carlo entropy.

    Subclasses implement ``_rvs(size, rng)`` and, if they have an exact density, ``_logpdf(x)``.
    """

    dim = 2
    bounds = ((-3.0, 3.0), (-3.0, 3.0))
    name = "toy"

    @property
    def has_logpdf(self):
        """True when :meth:`logpdf` is available."""
        return type(self)._logpdf is not Toy._logpdf

    def rvs(self, size=1, random_state=None):
        """Draw ``size`` points, shape ``(size, 2)``, from an explicit generator or seed."""
        return self._rvs(_check_size(size), as_rng(random_state))

    def logpdf(self, x):
        """Exact log density at each row of ``x`` (shape ``(n, 2)``), shape ``(n,)``."""
        if not self.has_logpdf:
            raise ValueError(f"{type(self).__name__}: no closed-form density is offered for "
                             "this toy; use a sample-based estimate instead")
        return self._logpdf(as_batch(x, 2, "x"))

    def pdf(self, x):
        """Exact density, shape ``(n,)``."""
        return np.exp(self.logpdf(x))

    def entropy(self, n=200_000, random_state=0):
        r"""Differential entropy :math:`H = -E[\log p(X)]` (nats) and its standard error.

        Closed form where the toy has one (standard error 0); otherwise the Monte Carlo
        mean of :math:`-\log p` over ``n`` samples, with standard error
        :math:`\mathrm{sd}(\log p)/\sqrt n`.

        Returns
        -------
        value, stderr : float, float
        """
        n = as_int(n, "n (the Monte Carlo sample size, for a standard error at least 2)",
                   minimum=2)
        exact = self._entropy()
        if exact is not None:
            return float(exact), 0.0
        if not self.has_logpdf:
            raise ValueError(f"{type(self).__name__}: the entropy needs the exact density, "
                             "which this toy does not offer")
        lp = self.logpdf(self.rvs(n, random_state))
        return float(-lp.mean()), float(lp.std(ddof=1) / np.sqrt(n))

    def _logpdf(self, x):
        raise NotImplementedError

    def _entropy(self):
        return None

    def __repr__(self):
        return f"{type(self).__name__}()"


class TwoMoons(Toy):
    """Two interleaved half circles with Gaussian noise of standard deviation ``noise``."""

    name = "two_moons"
    bounds = ((-1.6, 2.6), (-1.1, 1.6))

    def __init__(self, noise=0.1, n_nodes=None):
        self.noise = _positive(noise, "noise")
        if n_nodes is None:
            if 15.0 / self.noise > MAX_NODES:
                raise ValueError(f"noise: expected at least {15.0 / MAX_NODES:g}, got "
                                 f"{self.noise!r}: the exact density's quadrature needs "
                                 f"15 / noise nodes per arc, more than {MAX_NODES}")
            n_nodes = max(64, int(np.ceil(15.0 / self.noise)))
        n_nodes = as_int(n_nodes, "n_nodes (a positive integer)", minimum=1, maximum=MAX_NODES)
        t, w = _gauss_legendre(n_nodes)
        self._t = 0.5 * np.pi * (t + 1.0)                          # nodes on [0, pi]
        self._logw = np.log(0.5 * np.pi * w)

    @staticmethod
    def _arcs(t):
        upper = np.stack([np.cos(t), np.sin(t)], axis=-1)          # (m, 2)
        lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=-1)
        return upper, lower

    def _rvs(self, size, rng):
        t = rng.uniform(0.0, np.pi, size)
        upper, lower = self._arcs(t)
        which = rng.integers(0, 2, size)[:, None]
        return np.where(which == 0, upper, lower) + self.noise * rng.standard_normal((size, 2))

    def _logpdf(self, x):
        # blocks of at most 2048 points keep the (block, nodes, 2) differences small
        block = max(1, min(2048, 2 ** 21 // self._t.size))
        return np.concatenate([self._logpdf_block(x[i:i + block])
                               for i in range(0, x.shape[0], block)])

    def _logpdf_block(self, x):
        s2 = self.noise ** 2
        out = []
        for arc in self._arcs(self._t):                            # arc: (m, 2)
            with np.errstate(over="ignore"):                       # far out: d2 = inf
                d2 = np.sum((x[:, None, :] - arc[None]) ** 2, axis=2)   # (n, m), no cancellation
            out.append(_logsumexp_rows(-0.5 * d2 / s2 + self._logw))
        return np.logaddexp(*out) - np.log(2 * np.pi) - np.log(2 * np.pi * s2)


class GaussianMixture(Toy):
    r"""A mixture :math:`\sum_j w_j N(\mu_j, \Sigma_j)` in two dimensions.

    Parameters
    ----------
    means : array_like, shape (m, 2)
    covs : array_like, shape (m, 2, 2)
        Symmetric positive definite.
    weights : array_like, shape (m,), optional
        Positive, normalized here; equal if omitted.
    """

    name = "gaussian_mixture"

    def __init__(self, means=None, covs=None, weights=None):
        if means is None:
            if covs is not None or weights is not None:
                raise ValueError("means: expected means together with covs (and weights); "
                                 "omit all three for the default mixture")
            means = [[-1.5, -1.0], [1.5, -0.5], [0.0, 1.5]]
            covs = [[[0.3, 0.15], [0.15, 0.3]], [[0.2, -0.1], [-0.1, 0.4]], [[0.5, 0.0], [0.0, 0.1]]]
            weights = [0.3, 0.3, 0.4]
        self.means = np.array(as_real(means, "means"))
        m = self.means.shape[0] if self.means.ndim else 0
        if covs is None:
            raise ValueError("covs: expected covariances of shape (m, 2, 2) with the means")
        if m < 1 or self.means.shape != (m, 2) or not np.all(np.isfinite(self.means)):
            raise ValueError(f"means: expected finite values of shape (m, 2), m >= 1, got "
                             f"{self.means!r}")
        self.covs = np.array(as_real(covs, "covs"))
        if self.covs.shape != (m, 2, 2) or not np.all(np.isfinite(self.covs)):
            raise ValueError(f"covs: expected finite values of shape ({m}, 2, 2), got shape "
                             f"{self.covs.shape}")
        if not np.allclose(self.covs, np.swapaxes(self.covs, 1, 2)) or \
                np.any(np.linalg.eigvalsh(self.covs) <= 0):
            raise ValueError("covs: expected symmetric positive definite matrices")
        w = np.full(m, 1.0 / m) if weights is None else as_real(weights, "weights")
        if w.shape != (m,) or np.any(w <= 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"weights: expected {m} positive finite numbers, got {w}")
        self.weights = w / w.sum()
        self.chols = np.linalg.cholesky(self.covs)                 # (m, 2, 2)
        lo = (self.means - 3.5 * np.sqrt(np.diagonal(self.covs, axis1=1, axis2=2))).min(0)
        hi = (self.means + 3.5 * np.sqrt(np.diagonal(self.covs, axis1=1, axis2=2))).max(0)
        self.bounds = tuple((float(a), float(b)) for a, b in zip(lo, hi))

    def _rvs(self, size, rng):
        j = rng.choice(len(self.weights), size=size, p=self.weights)
        z = rng.standard_normal((size, 2))
        return self.means[j] + np.einsum("nij,nj->ni", self.chols[j], z)

    def _logpdf(self, x):
        diff = x[:, None, :] - self.means[None]                    # (n, m, 2)
        sol = np.linalg.solve(self.chols[None], diff[..., None])[..., 0]   # L^{-1}(x - mu)
        logdet = 2 * np.log(np.diagonal(self.chols, axis1=1, axis2=2)).sum(1)   # (m,)
        comp = -0.5 * np.sum(sol ** 2, -1) - 0.5 * logdet - LOG_2PI       # (n, m)
        return logsumexp(comp + np.log(self.weights), axis=1)


class EightGaussians(GaussianMixture):
    """Eight equally weighted isotropic Gaussians (std ``scale``) on a circle of radius ``radius``."""

    name = "eight_gaussians"

    def __init__(self, radius=2.0, scale=0.2):
        radius, scale = _positive(radius, "radius"), _positive(scale, "scale")
        a = 2 * np.pi * np.arange(8) / 8
        super().__init__(radius * np.stack([np.cos(a), np.sin(a)], 1),
                         np.broadcast_to(scale ** 2 * np.eye(2), (8, 2, 2)))


class Checkerboard(Toy):
    """Uniform on the squares ``[i, i+1) x [j, j+1)`` of ``[-2, 2]^2`` with ``i + j`` even (8 of 16).

    The density is 1/8 on them and 0 elsewhere; :math:`H = \\log 8`.
    """

    name = "checkerboard"
    bounds = ((-2.2, 2.2), (-2.2, 2.2))

    def _rvs(self, size, rng):
        i = rng.integers(-2, 2, size)
        j = 2 * rng.integers(-1, 1, size) + (i % 2)               # i + j even, j in [-2, 1]
        return np.stack([i, j], 1) + rng.uniform(size=(size, 2))

    def _logpdf(self, x):
        cell = np.floor(x)
        inside = np.all((x >= -2) & (x < 2), axis=1) & (cell.sum(1) % 2 == 0)
        return np.where(inside, -np.log(8.0), -np.inf)

    def _entropy(self):
        return np.log(8.0)


class Rings(Toy):
    """Concentric rings of radii ``radii`` (weights ``weights``) with isotropic noise ``noise``."""

    name = "rings"

    def __init__(self, radii=(1.0, 2.0, 3.0), noise=0.1, weights=None):
        self.radii = np.array(as_real(radii, "radii"))
        if (self.radii.ndim != 1 or self.radii.size == 0 or np.any(self.radii <= 0)
                or not np.all(np.isfinite(self.radii))):
            raise ValueError(f"radii: expected finite positive numbers, got {radii}")
        self.noise = _positive(noise, "noise")
        m = self.radii.size
        w = np.full(m, 1.0 / m) if weights is None else as_real(weights, "weights")
        if w.shape != (m,) or np.any(w <= 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"weights: expected {m} positive finite numbers, got {weights}")
        self.weights = w / w.sum()
        r = self.radii.max() + 4 * self.noise
        self.bounds = ((-r, r), (-r, r))

    def _rvs(self, size, rng):
        j = rng.choice(self.radii.size, size=size, p=self.weights)
        a = rng.uniform(0, 2 * np.pi, size)
        circle = self.radii[j, None] * np.stack([np.cos(a), np.sin(a)], 1)
        return circle + self.noise * rng.standard_normal((size, 2))

    def _logpdf(self, x):
        s2 = self.noise ** 2
        rho = np.sqrt(np.sum(x * x, 1))[:, None]                   # (n, 1)
        r = self.radii[None]                                       # (1, m)
        comp = -(rho - r) ** 2 / (2 * s2) + np.log(i0e(rho * r / s2)) - np.log(2 * np.pi * s2)
        return logsumexp(comp + np.log(self.weights), axis=1)


class TwoSpirals(Toy):
    """Two interleaved Archimedean spirals ``x = +-r(t)(cos t, sin t)``, ``r`` proportional to
    ``t``, plus isotropic noise ``noise`` (sampler only)."""

    name = "two_spirals"
    bounds = ((-4.0, 4.0), (-4.0, 4.0))

    def __init__(self, noise=0.1, turns=1.5):
        self.noise = _positive(noise, "noise")
        self.turns = _positive(turns, "turns")

    def _rvs(self, size, rng):
        t = np.sqrt(rng.uniform(size=size)) * self.turns * 2 * np.pi     # (n,)
        r = 3.0 * t / (self.turns * 2 * np.pi)
        arm = np.stack([r * np.cos(t), r * np.sin(t)], 1)
        sign = np.where(rng.integers(0, 2, size) == 0, 1.0, -1.0)[:, None]
        return sign * arm + self.noise * rng.standard_normal((size, 2))


class Banana(Toy):
    r""":math:`x_1 \sim N(0, a^2)`, :math:`x_2 \mid x_1 \sim N(b(x_1^2 - a^2), \sigma^2)`.

    Entropy :math:`H = \log(2\pi e\, a \sigma)`.
    """

    name = "banana"
    bounds = ((-3.5, 3.5), (-2.0, 4.0))

    def __init__(self, a=1.0, b=0.6, sigma=0.3):
        self.a, self.sigma = _positive(a, "a"), _positive(sigma, "sigma")
        self.b = as_float(b, "b")

    def _rvs(self, size, rng):
        z = rng.standard_normal((size, 2))
        x1 = self.a * z[:, 0]
        return np.stack([x1, self.b * (x1 ** 2 - self.a ** 2) + self.sigma * z[:, 1]], 1)

    def _logpdf(self, x):
        z1 = x[:, 0] / self.a
        z2 = (x[:, 1] - self.b * (x[:, 0] ** 2 - self.a ** 2)) / self.sigma
        return -0.5 * (z1 ** 2 + z2 ** 2) - LOG_2PI - np.log(self.a * self.sigma)

    def _entropy(self):
        return np.log(2 * np.pi * np.e * self.a * self.sigma)


class Funnel(Toy):
    r"""Neal's funnel in 2-D: :math:`x_1 \sim N(0, s^2)`, :math:`x_2 \mid x_1 \sim N(0, e^{x_1})`.

    Neal (2003), "Slice sampling", sec. 8.

    Neal uses :math:`s = 3`; the default here is :math:`s = 1.5`, which keeps the neck and the
    mouth of the funnel on one plot.
    """

    name = "funnel"
    bounds = ((-4.5, 4.5), (-6.0, 6.0))

    def __init__(self, scale=1.5):
        self.scale = _positive(scale, "scale")

    def _rvs(self, size, rng):
        z = rng.standard_normal((size, 2))
        v = self.scale * z[:, 0]
        return np.stack([v, np.exp(0.5 * v) * z[:, 1]], 1)

    def _logpdf(self, x):
        v, w = x[:, 0], x[:, 1]
        # w^2 e^{-v} as exp(2 log|w| - v): exactly 0 at w = 0 for any v (never 0 * inf),
        # +inf (log-density -inf) where the exact value is beyond float64
        with np.errstate(divide="ignore", over="ignore"):
            spread = np.exp(2.0 * np.log(np.abs(w)) - v)
            return (-0.5 * (v / self.scale) ** 2 - np.log(self.scale)
                    - 0.5 * spread - 0.5 * v - LOG_2PI)

    def _entropy(self):
        return 0.5 * np.log(2 * np.pi * np.e * self.scale ** 2) + 0.5 * np.log(2 * np.pi * np.e)


TOYS = {cls.name: cls for cls in (TwoMoons, EightGaussians, Checkerboard, Rings, TwoSpirals,
                                  Banana, Funnel, GaussianMixture)}


def make_toy(name, **kwargs):
    """The toy called ``name`` (a key of :data:`TOYS`), built with ``kwargs``."""
    if not isinstance(name, str) or name not in TOYS:
        raise ValueError(f"make_toy: unknown toy {name!r}; expected one of {sorted(TOYS)}")
    return TOYS[name](**kwargs)


def _sampler(cls):
    def sample(n, random_state=None):
        return cls().rvs(_check_size(n, "n"), random_state)
    sample.__name__ = f"sample_{cls.name}"
    sample.__doc__ = (f"``n`` points of :class:`{cls.__name__}` with its default settings, "
                      "shape ``(n, 2)``.")
    return sample


sample_two_moons = _sampler(TwoMoons)
sample_eight_gaussians = _sampler(EightGaussians)
sample_checkerboard = _sampler(Checkerboard)
sample_rings = _sampler(Rings)
sample_two_spirals = _sampler(TwoSpirals)
sample_banana = _sampler(Banana)
sample_funnel = _sampler(Funnel)
sample_gaussian_mixture = _sampler(GaussianMixture)
