"""Claims of notes 000, section 1: partial CDFs, uniformization, generation and morphing.

Every claim compares the code with an independent computation: finite differences,
``scipy.stats`` densities, Schur complements written out here, points drawn without ``Q``
(:func:`nfref.inverse_cdf.examples.sample_direct`) and exact marginal CDFs. Statistical
claims report a p-value (``at_least=True``) with a fixed seed; the test statistics are in
the detail column. The figures are in :mod:`nfref.report.derivations.s01_inverse_cdf_figures`.
"""

import numpy as np
from scipy import stats

from nfref.gradcheck import check_vjp, numerical_jacobian
from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, Morph, banana
from nfref.inverse_cdf.examples import (example_banana, example_gaussian, example_gumbel,
                                    example_mixture, marginal_cdf, sample_direct)
from nfref.report.claims import benchmark, claim

N_STAT = 100_000      # sample size of the statistical claims


def _laws():
    """The laws every structural claim runs on (name -> law)."""
    return {"gaussian d=3": example_gaussian(3), "mixture d=2": example_mixture(),
            "mixture d=3": GaussianMixtureCDF.random(3, 7), "banana d=2": example_banana(),
            "banana chain d=3": banana(0.6, 0.7, 3)}


def _points(law, n=200, seed=0):
    return law.rvs(n, random_state=seed)


# ---------------------------------------------------------------------- the Jacobian of G
@claim("J_G is lower triangular: finite-difference entries above the diagonal",
       where="000 sec. 1.1, J_G", bound=1e-12)
def _():
    worst = 0.0
    for law in _laws().values():
        z = _points(law)
        num = numerical_jacobian(lambda v: law.partial_cdf(v), z)        # (n, d, d)
        worst = max(worst, np.max(np.abs(np.triu(num, 1))))
    return worst, "G_j does not move when z_i, i > j, moves (5 laws, d = 2, 3)"


@claim("J_G (analytic) against central finite differences of G, relative",
       where="000 sec. 1.1, J_G", bound=1e-6)
def _():
    errs = []
    for law in _laws().values():
        z = _points(law, 50, seed=1)
        num = numerical_jacobian(lambda v: law.partial_cdf(v), z)
        ana = law.partial_cdf_jacobian(z)
        errs.append(np.max(np.linalg.norm(ana - num, axis=(1, 2))
                           / np.linalg.norm(num, axis=(1, 2))))
    return max(errs)


def _conditional_density(law, z):
    """p(z_j | z_<j) computed from the joint law directly (scipy), shape (n, d)."""
    if isinstance(law, GaussianCDF):
        mu, cov = law.mean_vector(), law.covariance()
        out = np.empty_like(z)
        for j in range(law.dim):                       # Schur complement of cov[:j, :j]
            beta = np.linalg.solve(cov[:j, :j], cov[:j, j]) if j else np.zeros(0)
            m = mu[j] + (z[:, :j] - mu[:j]) @ beta
            out[:, j] = stats.norm.pdf(z[:, j], m, np.sqrt(cov[j, j] - cov[j, :j] @ beta))
        return out
    if isinstance(law, GaussianMixtureCDF):            # ratio of marginal densities
        def marg(k):
            return sum(w * stats.multivariate_normal(m[:k], c[:k, :k]).pdf(z[:, :k])
                       for w, m, c in zip(law.weights, law.means, law.covs))
        dens = [np.ones(len(z))] + [np.reshape(marg(k), -1) for k in range(1, law.dim + 1)]
        return np.stack([dens[j + 1] / dens[j] for j in range(law.dim)], axis=1)
    b, s = law.b, law.s                                 # the banana chain
    past = np.concatenate([np.zeros((len(z), 1)), z[:, :-1]], axis=1)
    out = stats.norm.pdf(z, b * past ** 2, s)
    out[:, 0] = stats.norm.pdf(z[:, 0])
    return out


@claim("diagonal of J_G = p(z_j | z_<j) (Schur complements, scipy densities)",
       where="000 sec. 1.1", bound=1e-10)
def _():
    errs = []
    for law in _laws().values():
        z = _points(law, 200, seed=2)
        diag = np.einsum("njj->nj", law.partial_cdf_jacobian(z))
        ref = _conditional_density(law, z)
        errs.append(np.max(np.abs(diag - ref) / ref))
    return max(errs), "relative, 5 laws"


@claim("det J_G(z) = prod_j p(z_j | z_<j) = p_Z(z) (scipy log-density)",
       where="000 sec. 1.1", bound=1e-10)
def _():
    errs = []
    for name, law in _laws().items():
        z = _points(law, 200, seed=3)
        _, logdet = np.linalg.slogdet(law.partial_cdf_jacobian(z))
        if isinstance(law, GaussianCDF):
            ref = stats.multivariate_normal(law.mean_vector(), law.covariance()).logpdf(z)
        else:
            ref = np.sum(np.log(_conditional_density(law, z)), axis=1)
        errs.append(np.max(np.abs(np.expm1(logdet - ref))))              # relative error of det
        errs.append(np.max(np.abs(np.expm1(law.logpdf(z) - ref))))       # and of the log-det
    return max(errs), "relative error of the determinant"


# ---------------------------------------------------------------------- uniformity of W
def _uniformity(law, seed):
    z = sample_direct(law, N_STAT, seed)
    w = law.partial_cdf(z)                                               # (n, d)
    ks = [stats.kstest(w[:, j], "uniform") for j in range(law.dim)]
    counts, _, _ = np.histogram2d(w[:, 0], w[:, 1], bins=10, range=[[0, 1], [0, 1]])
    indep = stats.chi2_contingency(counts)
    flat = stats.chisquare(counts.ravel())
    p = min([k.pvalue for k in ks] + [indep.pvalue, flat.pvalue])
    ks_txt = ", ".join(f"D{j + 1}={k.statistic:.4f} (p={k.pvalue:.2f})" for j, k in enumerate(ks))
    return p, (f"KS {ks_txt}; chi2 indep {indep.statistic:.1f} (p={indep.pvalue:.2f}); "
               f"chi2 uniform {flat.statistic:.1f} (p={flat.pvalue:.2f})")


@claim("W = G(Z) ~ Uni[0,1]^2, Gaussian: min p (KS per axis, 10x10 chi2)",
       where="000 sec. 1.1, eq. (2)", bound=0.01, at_least=True)
def _():
    return _uniformity(example_gaussian(2), 11)


@claim("W = G(Z) ~ Uni[0,1]^2, mixture: min p (KS per axis, 10x10 chi2)",
       where="000 sec. 1.1, eq. (2)", bound=0.01, at_least=True)
def _():
    return _uniformity(example_mixture(), 12)


@claim("W = G(Z) ~ Uni[0,1]^2, banana: min p (KS per axis, 10x10 chi2)",
       where="000 sec. 1.1, eq. (2)", bound=0.01, at_least=True)
def _():
    return _uniformity(example_banana(), 13)


# ---------------------------------------------------------------------- round trips
def _round_trip(law, seed):
    z = sample_direct(law, 2000, seed) if law.dim == 2 else law.rvs(2000, seed)
    w = law.partial_cdf(z)
    inside = np.all((w > 0) & (w < 1), axis=1)    # G rounds to 1 past 8.3 sd in float64
    z, w = z[inside], w[inside]
    u = np.random.default_rng(seed).uniform(0.001, 0.999, (2000, law.dim))
    return max(np.max(np.abs(law.quantile(w) - z) / (1 + np.abs(z))),
               np.max(np.abs(law.partial_cdf(law.quantile(u)) - u)))


@claim("Q(G(z)) = z, G(Q(w)) = w: closed-form inverses (Gaussian, banana)",
       where="000 sec. 1.2, eqs. (3)-(5)", bound=1e-10)
def _():
    err = max(_round_trip(example_gaussian(3), 21), _round_trip(example_banana(), 22))
    return err, "|dz|/(1+|z|) and |dw|, 2000 points each"


@claim("Q(G(z)) = z, G(Q(w)) = w: numerical inverses (mixture, banana, Gumbel)",
       where="000 sec. 1.2, eqs. (3)-(5)", bound=1e-8)
def _():
    laws = (example_mixture(), GaussianMixtureCDF.random(3, 7), example_banana(False),
            example_gumbel())
    return max(_round_trip(law, 23 + i) for i, law in enumerate(laws)), \
        "bracketed Newton, every point at once"


# ---------------------------------------------------------------------- generation Z = Q(U)
def _marginals(law, z):
    ks = [stats.kstest(z[:, j], marginal_cdf(law, j)) for j in range(law.dim)]
    return (min(k.pvalue for k in ks),
            ", ".join(f"D{j + 1}={k.statistic:.4f} (p={k.pvalue:.2f})" for j, k in enumerate(ks)))


@claim("Z = Q(U): KS of each marginal against its exact CDF, Gaussian d=3",
       where="000 sec. 1.2, eq. (5)", bound=0.01, at_least=True)
def _():
    law = example_gaussian(3)
    return _marginals(law, law.rvs(N_STAT, random_state=31))


@claim("Z = Q(U): KS of each marginal against its exact CDF, mixture",
       where="000 sec. 1.2, eq. (5)", bound=0.01, at_least=True)
def _():
    law = example_mixture()
    return _marginals(law, law.rvs(N_STAT, random_state=32))


@claim("Z = Q(U): KS of each marginal against its exact CDF, banana",
       where="000 sec. 1.2, eq. (5)", bound=0.01, at_least=True)
def _():
    law = example_banana()
    return _marginals(law, law.rvs(N_STAT, random_state=33))


@claim("Z = Q(U), Gaussian d=3: sample mean and covariance (Bonferroni p)",
       where="000 sec. 1.2, eq. (5)", bound=0.01, at_least=True)
def _():
    law = example_gaussian(3)
    z = law.rvs(N_STAT, random_state=34)
    mu, cov, n = law.mean_vector(), law.covariance(), N_STAT
    z_mean = (z.mean(0) - mu) / np.sqrt(np.diag(cov) / n)
    # Var of a sample covariance entry: (S_ii S_jj + S_ij^2) / n for a Gaussian.
    iu = np.triu_indices(law.dim)
    sd = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2)[iu] / n)
    z_cov = (np.cov(z.T)[iu] - cov[iu]) / sd
    scores = np.abs(np.concatenate([z_mean, z_cov]))
    p = min(1.0, scores.size * 2 * stats.norm.sf(scores.max()))
    return p, f"largest |z-score| {scores.max():.2f} over {scores.size} entries"


@claim("d = 1: F^-1(U) ~ Z for a Gumbel given by its CDF only (KS)",
       where="000 sec. 1, Z = F^-1(U)", bound=0.01, at_least=True)
def _():
    z = example_gumbel().rvs(N_STAT, random_state=35)
    ks = stats.kstest(z[:, 0], "gumbel_r")
    return ks.pvalue, f"D={ks.statistic:.4f}"


# ---------------------------------------------------------------------- morphing
def _standard_normal(d):
    return GaussianCDF(np.zeros(d), np.zeros((d, d)))


@claim("morph N(0, I) -> mixture: KS of each marginal of phi(Y)",
       where="000 sec. 1.2, phi = Q_Z o G_Y", bound=0.01, at_least=True)
def _():
    target = example_mixture()
    y = np.random.default_rng(41).standard_normal((N_STAT, 2))
    return _marginals(target, Morph(_standard_normal(2), target).forward(y)[0])


@claim("morph: log|det J_phi| = log p_Y(y) - log p_Z(phi(y)) vs slogdet",
       where="000 sec. 1.2", bound=1e-10)
def _():
    errs = []
    pairs = [(_standard_normal(2), example_mixture()), (example_banana(), example_mixture()),
             (example_mixture(), example_gaussian(2))]
    for source, target in pairs:
        m = Morph(source, target)
        y = sample_direct(source, 100, 42)
        z, logdet = m.forward(y)
        ref = source.logpdf(y) - target.logpdf(z)
        errs.append(np.max(np.abs(logdet - ref)))
        errs.append(np.max(np.abs(logdet - np.linalg.slogdet(m.jacobian(y))[1])))
    return max(errs)


@claim("morph: Jacobian J_QZ J_GY against finite differences, relative",
       where="000 sec. 1.2", bound=1e-6)
def _():
    m = Morph(example_banana(), example_mixture())
    y = sample_direct(example_banana(), 50, 43)
    num = numerical_jacobian(lambda v: m.forward(v)[0], y)
    ana = m.jacobian(y)
    return np.max(np.linalg.norm(ana - num, axis=(1, 2)) / np.linalg.norm(num, axis=(1, 2)))


@claim("both tails: morph N(0,1) -> N(3, 2^2) is 3 + 2y for |y| <= 30",
       where="000 sec. 1.2", bound=1e-12)
def _():
    y = np.linspace(-30, 30, 121)[:, None]
    m = Morph(_standard_normal(1), GaussianCDF.from_mean_cov([3.0], [[4.0]]))
    z, logdet = m.forward(y)
    # log|det| = log p_Y - log p_Z is a difference of two numbers near -450 at |y| = 30:
    # its error is measured relative to 1 + |log p_Y(y)|.
    err_z = np.max(np.abs(z - (3 + 2 * y)) / (1 + np.abs(3 + 2 * y)))
    err_ld = np.max(np.abs(logdet - np.log(2.0)) / (1 + 0.5 * y[:, 0] ** 2))
    return max(err_z, err_ld), (f"|dz|/(1+|z|) {err_z:.1e}, log-det {err_ld:.1e}; the upper "
                                "tail goes through survival functions")


@claim("pullbacks of Q, G and the morph (one pass each) against finite differences",
       where="000 sec. 1.1-1.2, J_Q = J_G^-1", bound=1e-6)
def _():
    # Q's pullback is one back substitution with J_G(z)^T at the z the pass found; G's is a
    # product with J_G(z)^T; the morph chains the two. GaussianCDF's mean and Cholesky
    # factor are checked too (check_vjp perturbs every parameter).
    rng = np.random.default_rng(47)
    cases = [("Gaussian d=3", GaussianCDF.random(3, 48), rng.uniform(0.02, 0.98, (20, 3))),
             ("mixture d=2", example_mixture(), rng.uniform(0.02, 0.98, (20, 2))),
             ("banana numerical Q", example_banana(False), rng.uniform(0.02, 0.98, (20, 2))),
             ("morph banana -> mixture", Morph(example_banana(), example_mixture()),
              sample_direct(example_banana(), 20, 49))]
    errs = {f"{name} {direction}": check_vjp(t, u, direction, bound=1e-6).error
            for name, t, u in cases for direction in ("forward", "inverse")}
    worst = max(errs, key=errs.get)
    return errs[worst], f"relative; worst {worst}, 8 pullbacks"


@claim("Gaussian: Flow(UniformCube, G).logpdf = log N(z) out to 30 sd",
       where="000 sec. 1.1; 2.2", bound=1e-10)
def _():
    from nfref.distributions import Flow, UniformCube
    law = example_gaussian(3)
    eps = np.random.default_rng(44).standard_normal((200, 3))
    eps *= np.linspace(0.1, 30.0, 200)[:, None] / np.linalg.norm(eps, axis=1, keepdims=True)
    z = law.mean_vector() + eps @ np.linalg.cholesky(law.covariance()).T
    ref = stats.multivariate_normal(law.mean_vector(), law.covariance()).logpdf(z)
    got = Flow(UniformCube(3), law).logpdf(z)
    return np.max(np.abs(got - ref) / np.abs(ref)), "relative; Mahalanobis radius 0.1 to 30"


@claim("Gaussian: Cholesky conditionals = Schur complements (mean, sd)",
       where="000 sec. 1.1, eq. (1)", bound=1e-12)
def _():
    law = GaussianCDF.random(5, 45)
    z = law.rvs(100, random_state=46)
    (m1, s1), (m2, s2) = law.conditional(z), law.conditional_schur(z)
    return max(np.max(np.abs(m1 - m2)), np.max(np.abs(s1 - s2)))


@benchmark("s01_inverse_cdf")
def _(stream):
    """Seconds for G and Q on 10^5 points, each law (best of 3)."""
    import time
    laws = [("Gaussian d=3", example_gaussian(3)), ("mixture d=2", example_mixture()),
            ("banana, closed-form Q", example_banana()),
            ("banana, numerical Q", example_banana(False)), ("Gumbel, numerical Q", example_gumbel())]
    print(f"{'law':<24} {'G (s)':>8} {'Q (s)':>8}   10^5 points, best of 3", file=stream)
    for name, law in laws:
        u = np.random.default_rng(0).uniform(size=(N_STAT, law.dim))
        z = law.quantile(u)
        times = []
        for f, a in ((law.partial_cdf, z), (law.quantile, u)):
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                f(a)
                best = min(best, time.perf_counter() - start)
            times.append(best)
        print(f"{name:<24} {times[0]:8.3f} {times[1]:8.3f}", file=stream, flush=True)
