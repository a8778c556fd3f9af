"""Claims of notes 000, section 1: partial CDFs, uniformization, generation and morphing.

Every claim compares the code with an independent computation: finite differences,
``scipy.stats`` densities, Schur complements written out here, points drawn without ``Q``
(:func:`nfref.inverse_cdf.examples.sample_direct`) and exact marginal CDFs. Statistical
claims use a fixed seed and report a p-value, Bonferroni-adjusted over the tests they
combine, that must be at least ``ALPHA`` = 1e-3 (the false-failure rate of each claim for a
fresh seed); the test statistics are in the detail column. The joint law of ``Q(U)`` (not
only its marginals) is tested by a chi-square test of an 8 x 8 table against exact cell
probabilities, integrated here from the conditional densities. The figures are in :mod:`nfref.report.derivations.s01_inverse_cdf_figures`.
"""

import numpy as np
from scipy import stats

from nfref.gradcheck import check_vjp, numerical_jacobian
from nfref.inverse_cdf import GaussianCDF, GaussianMixtureCDF, Morph, banana
from nfref.inverse_cdf.examples import (example_banana, example_gaussian, example_gumbel,
                                    example_mixture, marginal_cdf, sample_direct)
from nfref.report.claims import ALPHA, benchmark, bonferroni, claim
from nfref.report.derivations._quadrature import gl_nodes

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
       where="000 sec. 1.1, J_G", bound=0.0,
       why="exact: G_j does not read z_i for i > j, so its differences in z_i are 0 in "
           "floating point; any dependence would show",
       measures=("largest |finite-difference entry dG_j/dz_i|, i > j (density units; exactly 0 "
                 "expected)"))
def _():
    worst = 0.0
    for law in _laws().values():
        z = _points(law)
        num = numerical_jacobian(lambda v: law.partial_cdf(v), z)        # (n, d, d)
        worst = max(worst, np.max(np.abs(np.triu(num, 1))))
    return worst, "G_j does not move when z_i, i > j, moves (5 laws, d = 2, 3)"


@claim("J_G (analytic) against central finite differences of G, relative",
       where="000 sec. 1.1, J_G", bound=1e-9,
       why="fourth-order differences at step 1e-4: rounding eps/h ~ 1e-12 and truncation "
           "h^4 ~ 1e-16 relative, times the laws' curvature; measured 1e-11",
       measures=("largest relative error of the analytic J_G against finite differences "
                 "(unitless)"))
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
       where="000 sec. 1.1", bound=5e-13,
       why="float64 floor: a relative error of a few ulps in exp and the Schur solves; "
           "measured 6e-15",
       measures=("largest relative error of diag J_G against the conditional densities "
                 "(unitless)"))
def _():
    errs = []
    for law in _laws().values():
        z = _points(law, 200, seed=2)
        diag = np.einsum("njj->nj", law.partial_cdf_jacobian(z))
        ref = _conditional_density(law, z)
        errs.append(np.max(np.abs(diag - ref) / ref))
    return max(errs), "relative, 5 laws"


@claim("det J_G(z) = prod_j p(z_j | z_<j) = p_Z(z) (scipy log-density)",
       where="000 sec. 1.1", bound=5e-12,
       why="float64 floor: the relative error of a determinant is the absolute error of its "
           "log, eps times |log p_Z| <= 30 summed over d terms; measured 1e-13",
       measures="largest relative error of det J_G against p_Z(z) (unitless)")
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


_WHY_P = ("significance level: false-failure rate 1e-3 for a fresh seed (Bonferroni over "
          "the tests combined); 1e5 points detect a change of 0.006 in a CDF")


# ---------------------------------------------------------------------- uniformity of W
def _uniformity(law, seed):
    z = sample_direct(law, N_STAT, seed)
    w = law.partial_cdf(z)                                               # (n, d)
    ks = [stats.kstest(w[:, j], "uniform") for j in range(law.dim)]
    counts, _, _ = np.histogram2d(w[:, 0], w[:, 1], bins=10, range=[[0, 1], [0, 1]])
    indep = stats.chi2_contingency(counts)
    flat = stats.chisquare(counts.ravel())
    p = bonferroni([k.pvalue for k in ks] + [indep.pvalue, flat.pvalue])
    ks_txt = ", ".join(f"D{j + 1}={k.statistic:.4f} (p={k.pvalue:.2f})" for j, k in enumerate(ks))
    return p, (f"KS {ks_txt}; chi2 indep {indep.statistic:.1f} (p={indep.pvalue:.2f}); "
               f"chi2 uniform {flat.statistic:.1f} (p={flat.pvalue:.2f})")


@claim("W = G(Z) ~ Uni[0,1]^2, Gaussian: Bonferroni p of KS per axis, 10x10 chi2",
       where="000 sec. 1.1, eq. (2)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the uniformity tests (probability; large is "
                 "good)"))
def _():
    return _uniformity(example_gaussian(2), 11)


@claim("W = G(Z) ~ Uni[0,1]^2, mixture: Bonferroni p of KS per axis, 10x10 chi2",
       where="000 sec. 1.1, eq. (2)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the uniformity tests (probability; large is "
                 "good)"))
def _():
    return _uniformity(example_mixture(), 12)


@claim("W = G(Z) ~ Uni[0,1]^2, banana: Bonferroni p of KS per axis, 10x10 chi2",
       where="000 sec. 1.1, eq. (2)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the uniformity tests (probability; large is "
                 "good)"))
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
       where="000 sec. 1.2, eqs. (3)-(5)", bound=5e-13,
       why="float64 floor: Phi^-1 at w = 0.001 amplifies rounding by 1/phi ~ 300, eps * 300 "
           "~ 7e-14; measured 7e-15",
       measures=("largest of |Q(G(z)) - z| / (1 + |z|) (relative) and |G(Q(w)) - w| "
                 "(probability)"))
def _():
    err = max(_round_trip(example_gaussian(3), 21), _round_trip(example_banana(), 22))
    return err, "|dz|/(1+|z|) and |dw|, 2000 points each"


@claim("Q(G(z)) = z, G(Q(w)) = w: numerical inverses (mixture, banana, Gumbel)",
       where="000 sec. 1.2, eqs. (3)-(5)", bound=5e-11,
       why="the solver stops at a step of 4 eps (1 + |t|) or a residual at rounding, then "
           "the same Phi^-1 amplification as the closed form; measured 9e-13",
       measures=("largest of |Q(G(z)) - z| / (1 + |z|) (relative) and |G(Q(w)) - w| "
                 "(probability)"))
def _():
    laws = (example_mixture(), GaussianMixtureCDF.random(3, 7), example_banana(False),
            example_gumbel())
    return max(_round_trip(law, 23 + i) for i, law in enumerate(laws)), \
        "bracketed Newton, every point at once"


# ---------------------------------------------------------------------- generation Z = Q(U)
def _marginals(law, z):
    ks = [stats.kstest(z[:, j], marginal_cdf(law, j)) for j in range(law.dim)]
    return ([k.pvalue for k in ks],
            ", ".join(f"D{j + 1}={k.statistic:.4f} (p={k.pvalue:.2f})" for j, k in enumerate(ks)))


def _components(law):
    """The 2-D law as ``(weight, m1, s1, cond_mean(z1), cond_sd)`` components,
    ``p = sum_k w N(z1; m1, s1^2) N(z2; cond_mean(z1), cond_sd^2)``,
    from the law's definition (Schur complements; the banana's recipe), not from ``G``."""
    if isinstance(law, GaussianCDF):
        mus, covs, ws = [law.mean_vector()], [law.covariance()], [1.0]
    elif isinstance(law, GaussianMixtureCDF):
        mus, covs, ws = law.means, law.covs, law.weights
    else:
        return [(1.0, 0.0, 1.0, lambda z1: law.b * z1 ** 2, law.s)]
    return [(w, m[0], np.sqrt(c[0, 0]),
             lambda z1, m=m, c=c: m[1] + c[0, 1] / c[0, 0] * (z1 - m[0]),
             np.sqrt(c[1, 1] - c[0, 1] ** 2 / c[0, 0])) for w, m, c in zip(ws, mus, covs)]


def cell_probabilities(law, e1, e2):
    r"""Exact probabilities of the cells ``(e1[i], e1[i+1]] x (e2[j], e2[j+1]]`` of a 2-D law
    (``e1, e2`` increasing, the outer ones infinite):
    :math:`\int_{e1_i}^{e1_{i+1}} p_1(z_1)\,[F_{2|1}(e2_{j+1}\mid z_1)
    - F_{2|1}(e2_j\mid z_1)]\,dz_1`
    by composite Gauss-Legendre (16 pieces of 16 nodes per strip, infinite ends cut 12
    standard deviations out: truncation below 1e-30)."""
    P = 0.0
    for w, m1, s1, cond_mean, cond_sd in _components(law):
        ends = np.clip(e1, m1 - 12 * s1, m1 + 12 * s1)
        z1, wz = gl_nodes(np.stack([ends[:-1], ends[1:]], 1), 16, 16)      # (strips, nodes)
        F = stats.norm.cdf((e2[:, None, None] - cond_mean(z1)) / cond_sd)  # (edges2, strips, nodes)
        dens = wz * stats.norm.pdf(z1, m1, s1)
        P = P + w * np.einsum("jsn,sn->sj", np.diff(F, axis=0), dens)
    return P                                                               # (cells1, cells2)


def _joint_test(law, z, seed, bins=8):
    """Chi-square of the ``bins x bins`` table of ``z`` against :func:`cell_probabilities`;
    cell edges at the deciles-like quantiles of an independent direct sample."""
    ref = sample_direct(law, 20_000, seed)
    q = np.linspace(0, 1, bins + 1)[1:-1]
    e1, e2 = (np.concatenate([[-np.inf], np.quantile(ref[:, j], q), [np.inf]]) for j in (0, 1))
    P = cell_probabilities(law, e1, e2)
    counts = np.histogram2d(z[:, 0], z[:, 1], bins=[e1, e2])[0]
    expected = z.shape[0] * P
    stat = float(np.sum((counts - expected) ** 2 / expected))
    p = stats.chi2.sf(stat, bins * bins - 1)
    return p, (f"joint chi2 {stat:.1f} on {bins * bins - 1} df (p={p:.2f}; cells sum to "
               f"1 - {1 - P.sum():.0e})")


def _generation(law, z, seed):
    ps, txt = _marginals(law, z)
    pj, jtxt = _joint_test(law, z, seed)
    return bonferroni(ps + [pj]), f"KS {txt}; {jtxt}"


@claim("Z = Q(U): KS of each marginal against its exact CDF, Gaussian d=3 (Bonferroni p)",
       where="000 sec. 1.2, eq. (5)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the marginal KS tests (probability; large is "
                 "good)"))
def _():
    law = example_gaussian(3)
    ps, txt = _marginals(law, law.rvs(N_STAT, random_state=31))
    return bonferroni(ps), txt


@claim("Z = Q(U) ~ Z, joint law, Gaussian d=2: KS of marginals, 8x8 chi2 against exact cells",
       where="000 sec. 1.2, eq. (5)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the marginal KS and 8x8 chi-square tests "
                 "(probability)"))
def _():
    law = example_gaussian(2)
    return _generation(law, law.rvs(N_STAT, random_state=36), 136)


@claim("Z = Q(U) ~ Z, joint law, mixture: KS of marginals, 8x8 chi2 against exact cells",
       where="000 sec. 1.2, eq. (5)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the marginal KS and 8x8 chi-square tests "
                 "(probability)"))
def _():
    law = example_mixture()
    return _generation(law, law.rvs(N_STAT, random_state=32), 132)


@claim("Z = Q(U) ~ Z, joint law, banana: KS of marginals, 8x8 chi2 against exact cells",
       where="000 sec. 1.2, eq. (5)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the marginal KS and 8x8 chi-square tests "
                 "(probability)"))
def _():
    law = example_banana()
    return _generation(law, law.rvs(N_STAT, random_state=33), 133)


@claim("Z = Q(U), Gaussian d=3: sample mean and covariance (Bonferroni p)",
       where="000 sec. 1.2, eq. (5)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of z-tests on the mean and covariance entries "
                 "(probability)"))
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
       where="000 sec. 1, Z = F^-1(U)", bound=ALPHA, at_least=True, why=_WHY_P,
       measures="KS-test p-value of F^-1(U) against the Gumbel CDF (probability; large is good)")
def _():
    z = example_gumbel().rvs(N_STAT, random_state=35)
    ks = stats.kstest(z[:, 0], "gumbel_r")
    return ks.pvalue, f"D={ks.statistic:.4f}"


# ---------------------------------------------------------------------- morphing
def _standard_normal(d):
    return GaussianCDF(np.zeros(d), np.zeros((d, d)))


@claim("morph N(0, I) -> mixture: phi(Y) ~ Z, KS of marginals and 8x8 chi2 of the joint law",
       where="000 sec. 1.2, phi = Q_Z o G_Y", bound=ALPHA, at_least=True, why=_WHY_P,
       measures=("Bonferroni-adjusted p-value of the marginal KS and 8x8 chi-square tests "
                 "(probability)"))
def _():
    target = example_mixture()
    y = np.random.default_rng(41).standard_normal((N_STAT, 2))
    return _generation(target, Morph(_standard_normal(2), target).forward(y)[0], 141)


def _scipy_logpdf(law, z):
    """``log p(z)`` of a 2-D example law from ``scipy.stats`` (its definition, not nfref)."""
    return np.log(sum(w * stats.norm.pdf(z[:, 0], m1, s1) * stats.norm.pdf(z[:, 1], cm(z[:, 0]), cs)
                      for w, m1, s1, cm, cs in _components(law)))


@claim("morph: log|det J_phi| against slogdet of a finite-difference Jacobian and against "
       "log p_Y(y) - log p_Z(phi(y)) from scipy densities", where="000 sec. 1.2", bound=5e-10,
       why="finite differences at step 1e-4 give J to about 1e-11 relative, the log-determinant "
           "to cond(J_phi) times that; measured 9e-12. The scipy half alone agrees to 4e-15",
       measures=("largest |log|det J_phi| - FD slogdet| and |log|det J_phi| - (log p_Y - log "
                 "p_Z)| (nats)"))
def _():
    errs, dens = [], []
    pairs = [(_standard_normal(2), example_mixture()), (example_banana(), example_mixture()),
             (example_mixture(), example_gaussian(2))]
    for source, target in pairs:
        m = Morph(source, target)
        y = sample_direct(source, 100, 42)
        z, logdet = m.forward(y)
        dens.append(np.max(np.abs(logdet - (_scipy_logpdf(source, y) - _scipy_logpdf(target, z)))))
        fd = np.linalg.slogdet(numerical_jacobian(lambda v: m.forward(v)[0], y))[1]
        errs.append(np.max(np.abs(logdet - fd)))
    return max(errs + dens), (f"against FD slogdet {max(errs):.1e}; against scipy "
                              f"log p_Y - log p_Z {max(dens):.1e}; 3 pairs of laws")


@claim("morph: Jacobian J_QZ J_GY against finite differences, relative",
       where="000 sec. 1.2", bound=1e-8,
       why="fourth-order differences at step 1e-4 of a map with a numerical Q (solved to "
           "rounding): eps/h ~ 1e-12 times cond(J); measured 1e-10",
       measures=("largest relative error (Frobenius) of J_QZ J_GY against finite differences "
                 "(unitless)"))
def _():
    m = Morph(example_banana(), example_mixture())
    y = sample_direct(example_banana(), 50, 43)
    num = numerical_jacobian(lambda v: m.forward(v)[0], y)
    ana = m.jacobian(y)
    return np.max(np.linalg.norm(ana - num, axis=(1, 2)) / np.linalg.norm(num, axis=(1, 2)))


@claim("both tails: morph N(0,1) -> N(3, 2^2) is 3 + 2y for |y| <= 30",
       where="000 sec. 1.2", bound=2e-14,
       why="float64 floor, relative: a few ulps; measured 9e-16",
       measures="largest of |dz| / (1 + |z|) (relative) and the log-determinant error (nats)")
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
       where="000 sec. 1.1-1.2, J_Q = J_G^-1", bound=5e-7,
       why="finite differences at step 1e-4 through the mixture's numerical Q, whose solve "
           "stops at rounding: its error over h dominates; measured 7e-8",
       measures="largest relative error of 8 pullbacks against finite differences (unitless)")
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
       where="000 sec. 1.1; 2.2", bound=1e-12,
       why="float64 floor, relative to |log N| up to 450: a few ulps; measured 2e-14",
       measures="largest |logpdf - log N(z)| / |log N(z)| (relative, unitless)")
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
       where="000 sec. 1.1, eq. (1)", bound=2e-14,
       why="float64 floor: two ways of solving a 5 x 5 system, a few ulps; measured 9e-16",
       measures=("largest |difference| of the conditional means and sds from two formulas (data "
                 "units)"))
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
