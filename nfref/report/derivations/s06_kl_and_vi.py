"""Claims of notes 001 (forward/reverse KL and their duality), 002 (the flow ELBO) and 003
(maximum likelihood with a Gaussian base)."""

import io

import numpy as np
from scipy import stats

from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.gradcheck import check_param_gradient
from nfref.kl import elbo, gaussian_kl, reverse_kl_and_grad
from nfref.one_layer.linear import Linear, PLULinear
from nfref.optim import fit_lbfgs
from nfref.report.claims import claim


def _gaussian_target(d, seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=d)
    B = rng.normal(size=(d, d))
    return m, B @ B.T + 0.5 * np.eye(d)


@claim("duality: log p*(x) - log p_X(x) = log p*_z(z) - log p_z(z) point by point",
       where="001 reverse KL and duality", bound=1e-10)
def _():
    errs = []
    for d in (1, 2, 3):
        m, S = _gaussian_target(d, d)
        t = Linear.random(d, np.random.default_rng(10 + d))
        flow = Flow(StandardNormal(d), t)
        A, b = t.params["weight"], t.params["bias"]
        x = np.random.default_rng(d).multivariate_normal(m, S, size=500)
        left = stats.multivariate_normal(m, S).logpdf(x).reshape(-1) - flow.logpdf(x)
        z = t.inverse(x)[0]
        Ainv = np.linalg.inv(A)
        pz_star = stats.multivariate_normal(Ainv @ (m - b), Ainv @ S @ Ainv.T)
        right = pz_star.logpdf(z).reshape(-1) - StandardNormal(d).logpdf(z)
        errs.append(np.max(np.abs(left - right)))
    return max(errs)


@claim("duality: KL(p* || T_* p_z) = KL(T^-1_* p* || p_z) in closed form (Gaussians)",
       where="001 reverse KL and duality", bound=1e-12)
def _():
    errs = []
    for d in (1, 2, 5):
        m, S = _gaussian_target(d, 20 + d)
        A = Linear.random(d, np.random.default_rng(d)).params["weight"]
        b = np.random.default_rng(d).normal(size=d)
        Ainv = np.linalg.inv(A)
        kl_x = gaussian_kl(m, S, b, A @ A.T)
        kl_z = gaussian_kl(Ainv @ (m - b), Ainv @ S @ Ainv.T, np.zeros(d), np.eye(d))
        errs.append(abs(kl_x - kl_z) / max(1.0, abs(kl_x)))
    return max(errs)


@claim("reverse KL gradient (transform and base parameters) against finite differences",
       where="001 reverse KL; 002 VI", bound=1e-6)
def _():
    rng = np.random.default_rng(5)
    m, S = _gaussian_target(3, 5)
    P = np.linalg.inv(S)
    log_target = lambda x: -0.5 * np.einsum("ni,ij,nj->n", x - m, P, x - m)   # noqa: E731
    grad_target = lambda x: -(x - m) @ P                                      # noqa: E731
    flow = Flow(DiagonalNormal(rng.normal(size=3), 0.3 * rng.normal(size=3)),
                PLULinear.random(3, rng))
    _, grads = reverse_kl_and_grad(flow, log_target, grad_target, n=64, random_state=1)
    # the same seed at every call: common random numbers, so the loss is a smooth function
    loss = lambda: reverse_kl_and_grad(flow, log_target, grad_target, 64, random_state=1)[0]  # noqa: E731
    return check_param_gradient(loss, flow.params, grads).error


@claim("flow ELBO: log q_L(z_L) = log q_0(z_0) - sum log|det|; notes 002 print '+' as '-'",
       where="002 loss function (ELBO)", bound=1e-12)
def _():
    rng = np.random.default_rng(7)
    flow = Flow(StandardNormal(2), PLULinear.random(2, rng))
    z0 = flow.base.rvs(1000, rng)
    zL, logdet = flow.transform.forward(z0)
    exact = flow.logpdf(zL)                         # through the inverse, eq. (7)
    right = flow.base.logpdf(z0) - logdet
    wrong = flow.base.logpdf(z0) + logdet
    return (np.max(np.abs(exact - right)),
            f"sign as printed: error {np.max(np.abs(exact - wrong)):.2f}")


@claim("flow ELBO = log p(x) - KL(q || posterior): Monte Carlo error in standard errors",
       where="002 loss function (ELBO)", bound=4.0)
def _():
    # The estimate is a mean of 2e5 i.i.d. terms: its error is measured in units of its own
    # standard error, so the bound (4) is a statistical one that does not depend on scale.
    d, n = 2, 200_000
    m, S = _gaussian_target(d, 3)
    log_evidence = -1.7                                 # log p(x): any constant
    post = stats.multivariate_normal(m, S)
    log_joint = lambda z: post.logpdf(z) + log_evidence       # noqa: E731
    t = Linear.random(d, np.random.default_rng(1))
    flow = Flow(StandardNormal(d), t)
    A, b = t.params["weight"], t.params["bias"]
    expected = log_evidence - gaussian_kl(b, A @ A.T, m, S)
    u = flow.base.rvs(n, random_state=0)
    x, logdet = t.forward(u)
    terms = log_joint(x) - flow.base.logpdf(u) + logdet
    right = elbo(flow, log_joint, n=n, random_state=0)
    wrong = elbo(flow, log_joint, n=n, random_state=0, sign=-1)
    se = terms.std(ddof=1) / np.sqrt(n)
    return abs(right - expected) / se, (f"ELBO {right:.4f} vs log p(x) - KL {expected:.4f} "
                                        f"(s.e. {se:.1e}); with the printed sign {wrong:.4f}")


@claim("MLE with a Gaussian base and a linear flow = sample mean and covariance",
       where="003 loss function", bound=1e-6)
def _():
    rng = np.random.default_rng(11)
    m, S = _gaussian_target(3, 11)
    x = rng.multivariate_normal(m, S, size=400)
    flow = Flow(StandardNormal(3), Linear(np.eye(3), np.zeros(3)))
    fit_lbfgs(lambda: flow.nll_and_grad(x), flow.params, verbose=False, stream=io.StringIO())
    A, b = flow.transform.params["weight"], flow.transform.params["bias"]
    return max(np.max(np.abs(b - x.mean(0))), np.max(np.abs(A @ A.T - np.cov(x.T, bias=True))))
