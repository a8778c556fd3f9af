"""Worked solutions of the exercises of notebook 04 (autoregressive flows)."""

import numpy as np

from nfref.autoregressive.maf import IAF, MAF, maf_stack
from nfref.autoregressive.transformers import Affine
from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
from nfref.datasets import Banana, Checkerboard
from nfref.distributions import Flow, StandardNormal
from nfref.train import fit_mle, fit_reverse_kl

MEAN = np.array([1.0, -0.5, 0.3])
L_TRUE = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.4, 0.5, 0.7]])


def gaussian_maf(n=4000, n_steps=1500, seed=0):
    """04.1: one affine MAF layer fitted to N(MEAN, L L^T); returns the flow and the data.

    x_l = mu_l(x_<l) + e^{alpha_l} u_l reproduces the Gaussian exactly with mu linear and
    e^{alpha_l} = L_ll, the Cholesky diagonal of the *natural* order; another order gives the
    Cholesky factor of the permuted covariance. The natural order of the data's generation is
    the easiest (mu_l only needs to be linear, which any order allows; all orders are exact).
    """
    rng = np.random.default_rng(seed)
    x = MEAN + rng.standard_normal((n, 3)) @ L_TRUE.T
    flow = Flow(StandardNormal(3), MAF(3, Affine(), (16,), "natural", rng))
    fit_mle(flow, x, n_steps=n_steps, lr=0.01, random_state=seed, progress=False)
    return flow, x


def banana_score(x, a=1.0, b=0.6, sigma=0.3):
    """grad log p of the banana: x_1 ~ N(0, a^2), x_2 | x_1 ~ N(b (x_1^2 - a^2), sigma^2)."""
    r = (x[:, 1] - b * (x[:, 0]**2 - a**2)) / sigma**2
    return np.stack([-x[:, 0] / a**2 + 2 * b * x[:, 0] * r, -r], axis=1)


def iaf_banana(n_steps=1500, seed=0):
    """04.2: an IAF samples in one pass and its log q of its own samples is one forward pass,
    so the reverse KL costs one pass per step; a MAF would need d sequential passes to sample
    (its inverse is one pass, its forward is sequential)."""
    rng = np.random.default_rng(seed)
    flow = Flow(StandardNormal(2), maf_stack(2, 4, (16, 16), random_state=rng, cls=IAF))
    fit_reverse_kl(flow, Banana().logpdf, banana_score, n_steps=n_steps, lr=0.01,
                   random_state=seed, progress=False)
    return flow


def spline_checkerboard(n_steps=600, seed=0):
    """04.3: maf_stack with a spline; nothing else changes because every transformer keeps the
    same contract (value, log-derivative and their pullbacks in (t, xi))."""
    rng = np.random.default_rng(seed)
    x = Checkerboard().rvs(3000, random_state=rng)
    flow = Flow(StandardNormal(2), maf_stack(2, 2, (16, 16), RationalQuadraticSpline(), rng))
    fit_mle(flow, x, n_steps=n_steps, lr=0.01, random_state=seed, progress=False)
    return flow, x
