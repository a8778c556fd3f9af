r"""Backward modeling (notes 000, section 2.2): a parametric model of the inverse map.

Instead of :math:`x = \phi(u;\theta)`, model :math:`u = \Psi(x;\lambda)` with
:math:`\Psi:\mathbb{R}^d\to[0,1]^d` and :math:`U \sim \mathrm{Uni}[0,1]^d`; the
log-likelihood is then :math:`\log|\det J_\Psi(x)|` and needs no inverse. Built from the
conditional CDFs of a parametric law,
:math:`\Psi_j(x) = F_j(x_j \mid x_{<j};\lambda)`, the Jacobian is triangular and

.. math::  \log|\det J_\Psi(x)| = \sum_{j=1}^d \log p_j(x_j \mid x_{<j};\lambda) = \log p(x;\lambda),

the usual log-likelihood: "the usual MLE approach can be viewed as a backward modeling
normalizing flow". (The notes write :math:`J_\Psi = \prod_j p_j`; it is the
*determinant* of :math:`J_\Psi` that equals the product, and :math:`\Psi_{1,j}` has a
stray :math:`dt`.)

Here :math:`\Psi = G` is the Gaussian partial-CDF map of section 1
(:class:`nfref.inverse_cdf.GaussianCDF`, whose *inverse* map is :math:`G`), with a learnable
mean and Cholesky factor, so ``Flow(UniformCube(d), GaussianCDF(...))`` is the backward
model and its ``nll_and_grad`` the objective. Maximizing the likelihood by gradient ascent
must recover the closed-form Gaussian MLE
:math:`\hat\mu = \bar x`, :math:`\hat\Sigma = \frac1n\sum_n (x_n - \bar x)(x_n - \bar x)^\top`.
"""

import numpy as np

from nfref._validation import as_batch, as_choice, as_data, as_float, as_int
from nfref.distributions import Flow, UniformCube
from nfref.inverse_cdf import GaussianCDF
from nfref.optim import Adam, fit, fit_lbfgs

__all__ = ["backward_log_likelihood", "conditional_log_likelihood", "gaussian_mle",
           "fit_backward_gaussian"]


def backward_log_likelihood(psi, x):
    r""":math:`\log|\det J_\Psi(x)|` for the backward model :math:`\Psi = G` (``psi.inverse``), (n,)."""
    return psi.inverse(x)[1]


def conditional_log_likelihood(psi, x):
    r""":math:`\sum_j \log p_j(x_j\mid x_{<j})` from the Schur-complement conditionals, shape (n,).

    Computed independently of the map: conditional means and standard deviations of
    :math:`N(\mu,\Sigma)` by Schur complements (``psi.conditional_schur``), then a sum of
    univariate normal log-densities.
    """
    x = as_batch(x, psi.dim, "x")
    m, s = psi.conditional_schur(x)                                 # (n, d), (d,)
    z = (x - m) / s
    return np.sum(-0.5 * z * z - np.log(s) - 0.5 * np.log(2 * np.pi), axis=1)


def gaussian_mle(x):
    r"""Closed-form Gaussian MLE: :math:`(\bar x,\ \frac1n\sum_n (x_n-\bar x)(x_n-\bar x)^\top)`."""
    x = as_data(x)
    mean = x.mean(0)
    xc = x - mean
    return mean, xc.T @ xc / x.shape[0]


def fit_backward_gaussian(x, method="lbfgs", n_steps=2000, lr=0.05, verbose=False,
                          tol=1e-12):
    r"""Fit the backward model :math:`\Psi = G_{N(\mu,\Sigma)}` by maximum likelihood.

    Starts from :math:`\mu = 0`, :math:`L = I` and maximizes
    :math:`\frac1n\sum_n\log|\det J_\Psi(x_n)|` with the analytic gradient
    (``Flow.nll_and_grad`` through ``GaussianCDF``'s inverse VJP).

    Parameters
    ----------
    x : array_like, shape (n, d)
    method : {"lbfgs", "adam"}
    n_steps, lr : int, float
        Adam's steps and learning rate (``method="adam"``).
    verbose : bool
    tol : float
        L-BFGS gradient tolerance.

    Returns
    -------
    psi : GaussianCDF
        The fitted model (``psi.mean_vector()``, ``psi.covariance()``).
    history : ndarray or OptimizeResult
    """
    x = as_data(x)
    method = as_choice(method, "method", ("lbfgs", "adam"))
    n_steps = as_int(n_steps, "n_steps", minimum=1)
    lr = as_float(lr, "lr", low=0.0, low_open=True)
    tol = as_float(tol, "tol", low=0.0)
    d = x.shape[1]
    psi = GaussianCDF(np.zeros(d), np.zeros((d, d)))
    flow = Flow(UniformCube(d), psi)
    params = flow.params

    def objective():
        return flow.nll_and_grad(x)

    if method == "lbfgs":
        out = fit_lbfgs(objective, params, maxiter=2000, tol=tol, verbose=verbose)
    else:
        out = fit(objective, params, Adam(lr=lr), n_steps=n_steps, verbose=verbose)
    return psi, out
