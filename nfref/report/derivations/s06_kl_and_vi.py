r"""Claims of notes 001 (forward/reverse KL and their duality), 002 (the flow ELBO) and 003
(maximum likelihood with a Gaussian base).

Names. Note 001's "reverse KL" is the base-space divergence :math:`KL(p^*_z \| p_z)` of the
pulled-back target (the duality); the variational objective :math:`KL(q \| p^*)`, with
:math:`q` the model, is the "reverse KL" of Papamakarios et al. (2021, sec. 2.3). The
``where`` column cites each for what it is.
"""

import io

import numpy as np
from scipy import stats

from nfref.autoregressive.maf import MAF
from nfref.distributions import DiagonalNormal, Flow, StandardNormal
from nfref.gradcheck import check_param_gradient, numerical_jacobian
from nfref.k_layers import Chain
from nfref.kl import elbo, gaussian_kl, reverse_kl_and_grad
from nfref.one_layer import Planar
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.optim import fit_lbfgs
from nfref.report.claims import claim
from nfref.report.derivations._quadrature import gl_nodes


def _gaussian_target(d, seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=d)
    B = rng.normal(size=(d, d))
    return m, B @ B.T + 0.5 * np.eye(d)


def _nonlinear_T(d, seed):
    """A non-linear bijection: planar, elementwise affine, affine MAF."""
    rng = np.random.default_rng(seed)
    return Chain([Planar.random(d, rng, scale=1.0), ElementwiseAffine.random(d, rng),
                  MAF.random(d, rng, hidden_sizes=(8,))])


def _fd_logdet(T, z):
    return np.linalg.slogdet(numerical_jacobian(lambda v: T.forward(v)[0], z))[1]


@claim("duality with a non-linear T (planar, affine, MAF): log p*(x) - log p_X(x) = "
       "log p*_z(z) - log p_z(z) point by point, p*_z(z) = p*(T(z)) |det J_T(z)| from a "
       "finite-difference Jacobian", where="001 reverse KL and duality", bound=1e-9,
       why="fourth-order differences at step 1e-4: log|det J_T| to cond(J_T) times 1e-12; "
           "measured 2e-11",
       measures=("largest |difference of the two sides| of the pointwise log-ratio identity "
                 "(nats)"))
def _():
    from nfref.datasets import Banana
    target = Banana()
    errs = []
    for d, seed in ((2, 1), (2, 2)):
        T = _nonlinear_T(d, seed)
        flow = Flow(StandardNormal(d), T)
        x = target.rvs(300, random_state=seed)
        z = T.inverse(x)[0]
        left = target.logpdf(x) - flow.logpdf(x)           # nfref: the inverse direction
        right = (target.logpdf(T.forward(z)[0]) + _fd_logdet(T, z)
                 - StandardNormal(d).logpdf(z))
        errs.append(np.max(np.abs(left - right)))
    return max(errs), "banana target, 300 points each, 2 flows"


def _mixture_1d(x):
    return np.log(0.6 * stats.norm.pdf(x, -1.0, 0.7) + 0.4 * stats.norm.pdf(x, 1.5, 0.5))


@claim("duality with a non-linear T, d = 1: KL(p* || T_* p_z) by quadrature in x equals "
       "KL(T^-1_* p* || p_z) by quadrature in z (two integrals in two spaces)",
       where="001 reverse KL and duality", bound=1e-11,
       why="Gauss-Legendre with 64 pieces of 16 nodes on smooth integrands (the planar layer "
           "has 1 + c = 1.36, no sharp fold): quadrature error below 1e-13, unchanged with 128 "
           "pieces; the z-side density uses a finite-difference T' (1e-12 relative); "
           "measured 2e-13",
       measures="|KL by quadrature in x - KL by quadrature in z| (nats)")
def _():
    T = _nonlinear_T(1, 5)
    flow = Flow(StandardNormal(1), T)
    x, wx = gl_nodes([-9.0, 9.0], 16, 64)
    log_px = flow.logpdf(x[:, None])
    kl_x = float(wx @ (np.exp(_mixture_1d(x)) * (_mixture_1d(x) - log_px)))
    zb = T.inverse(np.array([[-9.0], [9.0]]))[0][:, 0]         # T is increasing in 1-D here
    z, wz = gl_nodes(np.sort(zb), 16, 64)
    log_pz_star = _mixture_1d(T.forward(z[:, None])[0][:, 0]) + _fd_logdet(T, z[:, None])
    kl_z = float(wz @ (np.exp(log_pz_star) * (log_pz_star - stats.norm.logpdf(z))))
    return abs(kl_x - kl_z), f"KL in x {kl_x:.12f}, in z {kl_z:.12f}"


@claim("duality for an affine T and a Gaussian target: log p*(x) - log p_X(x) = "
       "log p*_z(z) - log p_z(z) with p*_z = N(A^-1(m - b), A^-1 S A^-T) (scipy)",
       where="001 reverse KL and duality", bound=1e-11,
       why="float64 floor: four Gaussian log-densities of size <= 30 with cond(A) <= 30; "
           "measured 4e-13",
       measures=("largest |difference of the two sides| of the pointwise log-ratio identity "
                 "(nats)"))
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
       where="001 reverse KL and duality", bound=1e-14,
       why="float64 floor, relative: two closed forms of size 1 to 10; measured 4e-16",
       measures="largest relative |KL in x - KL in z| of the closed forms (unitless)")
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


@claim("reverse KL(q || p*) gradient (transform and base parameters) against finite "
       "differences", where="Papamakarios et al. 2021 sec. 2.3; 002 VI", bound=2e-10,
       why="fourth-order differences at step 1e-4 with common random numbers: eps/h relative; "
           "measured 2e-12. A gradient off by 1 + 1e-6 fails",
       measures=("relative error of the reverse-KL gradient against finite differences "
                 "(unitless)"))
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


@claim("flow ELBO's density: log q_L(z_L) = log q_0(z_0) - sum_l log|det J_l| with nfref's "
       "forward log-determinants, against N(c, M M^T) (linear chain) and finite-difference "
       "Jacobians (planar, affine, MAF); 002 prints this '-' right",
       where="002 flow VI, log q_L", bound=1e-9,
       why="the linear chain agrees to the float64 floor (1e-14); the non-linear one through "
           "fourth-order differences at step 1e-4, cond(J) times 1e-12; measured 1e-11",
       measures="largest |log q_L(z_L) - reference log-density| (nats)")
def _():
    rng = np.random.default_rng(7)
    layers = [PLULinear.random(2, rng), ElementwiseAffine.random(2, rng), Linear.random(2, rng)]
    M, c = np.eye(2), np.zeros(2)
    for t in layers:                               # the explicit matrices, from the parameters
        if isinstance(t, PLULinear):
            p = t.params
            A = (t.factors()[0] @ (np.tril(p["lower"], -1) + np.eye(2))
                 @ (np.triu(p["upper"], 1) + np.diag(np.exp(p["log_diag"]))))
            b = p["bias"]
        elif isinstance(t, ElementwiseAffine):
            A, b = np.diag(np.exp(t.params["log_scale"])), t.params["shift"]
        else:
            A, b = t.params["weight"], t.params["bias"]
        M, c = A @ M, A @ c + b
    chain = Chain(layers)
    base = StandardNormal(2)
    z0 = base.rvs(500, rng)
    zL, logdet = chain.forward(z0)
    exact = stats.multivariate_normal(c, M @ M.T).logpdf(zL)
    lin = np.max(np.abs(base.logpdf(z0) - logdet - exact))
    wrong = np.max(np.abs(base.logpdf(z0) + logdet - exact))
    T = _nonlinear_T(2, 8)
    z0 = base.rvs(200, rng)
    nonlin = np.max(np.abs(T.forward(z0)[1] - _fd_logdet(T, z0)))
    return max(lin, nonlin), (f"linear chain {lin:.1e}, non-linear {nonlin:.1e}; with '+' in "
                              f"place of '-': off by {wrong:.2f}")


@claim("flow ELBO = log p(x) - KL(q || posterior): Monte Carlo error in standard errors; "
       "002's ELBO prints '-' before the sum of log-determinants (it is '+')",
       where="002 loss function (ELBO)", bound=4.0,
       why="a z-score: |z| > 4 has probability 6e-5 for a fresh seed (two-sided normal); the "
           "printed sign is off by 700 standard errors",
       measures="|ELBO - (log p(x) - KL)| in Monte Carlo standard errors (z-score)")
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
       where="003 loss function", bound=1e-6,
       why="L-BFGS stops at its gradient tolerance: the distance to the optimum is that over "
           "the curvature; measured 7e-8, the bound leaves room for another iteration count",
       measures=("largest |b - sample mean| and |A A^T - sample covariance| entries (data units,"
                 " squared for the covariance)"))
def _():
    rng = np.random.default_rng(11)
    m, S = _gaussian_target(3, 11)
    x = rng.multivariate_normal(m, S, size=400)
    flow = Flow(StandardNormal(3), Linear(np.eye(3), np.zeros(3)))
    fit_lbfgs(lambda: flow.nll_and_grad(x), flow.params, verbose=False, stream=io.StringIO())
    A, b = flow.transform.params["weight"], flow.transform.params["bias"]
    return max(np.max(np.abs(b - x.mean(0))), np.max(np.abs(A @ A.T - np.cov(x.T, bias=True))))


# ---------------------------------------------------------------------- saved VI fits
#: fresh base draws for re-measuring the saved VI fits (the metadata's score used seed 12345)
N_VI_CHECK, VI_CHECK_SEED = 50_000, 2026


def saved_vi_kl(name):
    r"""Re-measure the saved reverse-KL fit ``name`` (:func:`nfref.report.fits.load_fit`):
    :math:`KL(q\,\|\,p) = E_q[\log q(Z) + U(Z)] + \log Z_U` (the reverse-KL loss plus the
    quadrature :math:`\log Z_U`, Papamakarios et al. 2021 sec. 2.3) on ``N_VI_CHECK`` fresh base
    draws with seed ``VI_CHECK_SEED``, from the loaded parameters. Returns ``(kl, se, meta)``."""
    from nfref.energies import ENERGIES
    from nfref.report.fits import load_fit, reverse_kl_estimate
    flow, meta = load_fit(name)
    kl, se = reverse_kl_estimate(flow, ENERGIES[meta["energy"]], n=N_VI_CHECK,
                                 random_state=VI_CHECK_SEED)
    return kl, se, meta


def _vi_rows(names):
    rows = [(name, *saved_vi_kl(name)[:2]) for name in names]
    worst = max(rows, key=lambda r: r[1])
    return worst[1], "; ".join(f"{n.split('_')[1]} {kl:.4f} +- {se:.4f}" for n, kl, se in rows)


@claim("spline IAF fitted by reverse KL to U1 and U2 of Rezende and Mohamed (saved fits): "
       "largest KL(q || p) in nats", where="Papamakarios et al. 2021 sec. 2.3; Rezende and "
       "Mohamed 2015 Table 1; 002 IAF", bound=0.01,
       why="depends on training: the saved fits (4 spline IAF layers, 5000 Adam steps) measure "
           "0.0081 and 0.0088 (s.e. 0.0005); 0.01 nats is the target for U1 and U2, so U1 "
           "passes by about two standard errors only (a fixed seed: the estimate is "
           "reproducible)",
       measures=("largest over U1, U2 of KL(q || p) = reverse-KL loss + log Z on 50000 fresh "
                 "base draws (nats)"))
def _():
    return _vi_rows(["vi_U1_spline_iaf", "vi_U2_spline_iaf"])


@claim("spline IAF fitted by reverse KL to U3 and U4 of Rezende and Mohamed (saved fits): "
       "largest KL(q || p) in nats", where="Papamakarios et al. 2021 sec. 2.3; Rezende and "
       "Mohamed 2015 Table 1; 002 IAF", bound=0.05,
       why="depends on training: the saved fits measure 0.027 and 0.015 (s.e. under 0.002); "
           "0.05 nats is the target for the two-mode U3 and U4",
       measures=("largest over U3, U4 of KL(q || p) = reverse-KL loss + log Z on 50000 fresh "
                 "base draws (nats)"))
def _():
    return _vi_rows(["vi_U3_spline_iaf", "vi_U4_spline_iaf"])


@claim("K table (saved reverse-KL fits): 32 planar layers stay above the spline IAF on every "
       "U1-U4; smallest KL(q || p) gap in nats", where="Rezende and Mohamed 2015 Table 1; "
       "000 sec. 3", bound=0.1, at_least=True,
       why="depends on training: the planar K = 32 fits (1500 steps, undertrained) measure 0.19 to 0.70 nats, "
           "the spline IAF under 0.03, so the smallest gap is about 0.18; 0.1 leaves room for "
           "Monte Carlo error (s.e. under 0.01) and says planar layers are the weaker family here",
       measures=("smallest over U1-U4 of KL(planar K=32) - KL(spline IAF), each KL(q || p) on "
                 "50000 fresh base draws (nats)"))
def _():
    gaps, text = [], []
    for e in ("U1", "U2", "U3", "U4"):
        planar = saved_vi_kl(f"vi_{e}_planar32")[0]
        iaf = saved_vi_kl(f"vi_{e}_spline_iaf")[0]
        gaps.append(planar - iaf)
        text.append(f"{e} planar {planar:.3f} vs IAF {iaf:.4f}")
    return min(gaps), "; ".join(text)
