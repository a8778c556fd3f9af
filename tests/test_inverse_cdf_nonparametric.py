"""Mixture, conditional-defined laws and morphing (notes 000 sec. 1): checks beyond the contract."""

import numpy as np
import pytest
from scipy import stats

from nfref.gradcheck import (check_jacobian, check_logdet, check_roundtrip, check_vjp,
                             numerical_jacobian)
from nfref.inverse_cdf import (Conditional, ConditionalCDF, GaussianCDF, GaussianMixtureCDF,
                               InverseCDFTransform, Morph, banana, morph)
from nfref.inverse_cdf.examples import (example_banana, example_gumbel, example_mixture,
                                       sample_direct)
from nfref.numerics import solve_monotone, tril_inverse, tril_solve
from nfref.transform import Transform


def test_tril_helpers_against_numpy(rng):
    jac = np.tril(rng.standard_normal((7, 4, 4))) + 3 * np.eye(4)
    inv = tril_inverse(jac)
    assert np.max(np.abs(inv - np.linalg.inv(jac))) <= 1e-13
    assert np.all(np.triu(inv, 1) == 0.0)
    v = rng.standard_normal((7, 4))
    for transpose in (False, True):
        a = np.swapaxes(jac, 1, 2) if transpose else jac
        ref = np.linalg.solve(a, v[..., None])[..., 0]
        assert np.max(np.abs(tril_solve(jac, v, transpose) - ref)) <= 1e-13


def test_solve_monotone_as_the_laws_call_it_matches_ndtri_in_both_tails():
    # As the mixture and the conditionals call it: Newton on log F below 1/2, tol 1e-13.
    # Lower half on F; the upper half solved as 1 - F(-x) = 1 - w, increasing in x.
    from scipy.special import ndtr, ndtri
    w = np.array([1e-300, 1e-50, 1e-5, 0.3, 0.5])

    def cdf_and_pdf(x, idx):
        return ndtr(x), np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    x = solve_monotone(cdf_and_pdf, w, np.full(5, -40.0), np.full(5, 10.0), tol=1e-13,
                       log_newton_below=0.5).x
    assert np.max(np.abs(x - ndtri(w)) / (1 + np.abs(x))) <= 1e-14
    w_bar = np.array([1e-12, 1e-100])                   # w = 1 - w_bar rounds or is inexact
    x = -solve_monotone(cdf_and_pdf, w_bar, np.full(2, -40.0), np.full(2, 10.0), tol=1e-13,
                        log_newton_below=0.5).x
    assert np.max(np.abs(x + ndtri(w_bar)) / (1 + np.abs(x))) <= 1e-14
    # from the conditionals' proposed bracket [-1, 1], which the solver has to grow
    x = solve_monotone(cdf_and_pdf, w, -np.ones(5), np.ones(5), tol=1e-13,
                       log_newton_below=0.5).x
    assert np.max(np.abs(x - ndtri(w)) / (1 + np.abs(x))) <= 1e-14


def test_one_component_mixture_is_the_gaussian(rng):
    g = GaussianCDF.random(3, rng)
    m = GaussianMixtureCDF([1.0], g.mean_vector()[None], g.covariance()[None])
    z = g.rvs(100, random_state=1)
    assert np.max(np.abs(m.partial_cdf(z) - g.partial_cdf(z))) <= 1e-13
    assert np.max(np.abs(m.logpdf(z) - g.logpdf(z))) <= 1e-12
    assert np.max(np.abs(m.partial_cdf_jacobian(z) - g.partial_cdf_jacobian(z))) <= 1e-12
    u = rng.uniform(0.01, 0.99, (100, 3))
    assert np.max(np.abs(m.quantile(u) - g.quantile(u))) <= 1e-11


def test_mixture_2d_closed_form(rng):
    # G_1 and G_2 of eq. (1) written out for d = 2, against the class.
    m = example_mixture()
    z = rng.standard_normal((50, 2)) * 2
    pi, mu, cov = m.weights, m.means, m.covs
    s1 = np.sqrt(cov[:, 0, 0])
    g1 = np.sum(pi * stats.norm.cdf((z[:, :1] - mu[:, 0]) / s1), axis=1)
    post = pi * stats.norm.pdf(z[:, :1], mu[:, 0], s1)
    post /= post.sum(1, keepdims=True)
    cmean = mu[:, 1] + cov[:, 0, 1] / cov[:, 0, 0] * (z[:, :1] - mu[:, 0])
    csd = np.sqrt(cov[:, 1, 1] - cov[:, 0, 1] ** 2 / cov[:, 0, 0])
    g2 = np.sum(post * stats.norm.cdf((z[:, 1:] - cmean) / csd), axis=1)
    w = m.partial_cdf(z)
    assert np.max(np.abs(w[:, 0] - g1)) <= 1e-13 and np.max(np.abs(w[:, 1] - g2)) <= 1e-13


@pytest.mark.parametrize("make", [lambda: GaussianMixtureCDF.random(2, 3, spread=3.0),
                                  lambda: GaussianMixtureCDF.random(3, 4, n_components=5),
                                  example_mixture, lambda: example_banana(False),
                                  example_gumbel])
def test_round_trip_logdet_jacobian(make, rng):
    law = make()
    u = rng.uniform(0.001, 0.999, (40, law.dim))
    assert check_roundtrip(law, u, bound=1e-8).passed
    assert check_logdet(law, u, bound=1e-10).passed
    z = law.quantile(u)
    res = check_jacobian(law.partial_cdf, law.partial_cdf_jacobian(z), z, bound=1e-6)
    assert res.passed, str(res)


def test_far_tails_of_the_mixture_are_accurate():
    # Lower tail through w, upper tail through 1 - w (computed directly, not as 1 - w).
    m = example_mixture()
    tiny = 1e-300
    u = np.array([[tiny, 0.5], [0.5, tiny], [1 - 2.0 ** -53, 0.5], [0.5, 1 - 2.0 ** -53]])
    z, logdet = m.forward(u)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(logdet))
    w, w_bar = m.partial_cdf_pair(z)
    small = np.where(u <= 0.5, u, 1.0 - u)          # exact: 1 - u has no rounding for u > 1/2
    got = np.where(u <= 0.5, w, w_bar)
    assert np.max(np.abs(got - small) / small) <= 1e-8


def test_numerical_and_closed_form_banana_agree(rng):
    u = rng.uniform(1e-6, 1 - 1e-6, (500, 3))
    a, b = banana(0.7, 0.6, 3, with_ppf=True), banana(0.7, 0.6, 3, with_ppf=False)
    assert not a.numerical_inverse and b.numerical_inverse
    za, zb = a.quantile(u), b.quantile(u)
    assert np.max(np.abs(za - zb) / (1 + np.abs(za))) <= 1e-12


def test_missing_callables_are_named():
    def cond(**extra):
        return Conditional(cdf=lambda t, p: stats.norm.cdf(t),
                           logpdf=lambda t, p: stats.norm.logpdf(t), **extra)
    law = ConditionalCDF([cond(), cond()])
    z = np.zeros((2, 2))
    assert np.all(law.partial_cdf(z) == 0.5)
    with pytest.raises(ValueError, match="coordinate 1 has no cdf_grad"):
        law.partial_cdf_jacobian(z)
    grad = cond(cdf_grad=lambda t, p: np.zeros_like(p))
    law = ConditionalCDF([grad, grad])
    with pytest.raises(ValueError, match="coordinate 0 has no logpdf_grad"):
        law.forward_vjp(np.full((2, 2), 0.5), np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="sequence of Conditional"):
        ConditionalCDF([lambda t: t])
    for dim in (0, -1, 2.5):
        with pytest.raises(ValueError, match="dim a positive integer"):
            banana(dim=dim)


def test_density_given_as_pdf_and_wrong_shapes():
    logistic = Conditional(cdf=lambda t, p: stats.logistic.cdf(t),
                           pdf=lambda t, p: stats.logistic.pdf(t))
    law = ConditionalCDF([logistic])
    u = np.linspace(0.01, 0.99, 50)[:, None]
    z, logdet = law.forward(u)
    assert np.max(np.abs(z[:, 0] - stats.logistic.ppf(u[:, 0]))) <= 1e-10
    assert np.max(np.abs(logdet + stats.logistic.logpdf(z[:, 0]))) <= 1e-12
    with pytest.raises(ValueError, match="logpdf or pdf"):
        Conditional(cdf=lambda t, p: t)
    bad = ConditionalCDF([Conditional(cdf=lambda t, p: np.zeros(len(t) + 1),
                                      logpdf=lambda t, p: np.zeros(len(t)))])
    with pytest.raises(ValueError, match=r"cdf of coordinate 0 returned shape \(4,\); expected \(3,\)"):
        bad.inverse(np.zeros((3, 1)))


def test_bad_mixtures_are_refused():
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixtureCDF([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixtureCDF([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]])
    with pytest.raises(ValueError, match="positive weights"):
        GaussianMixtureCDF([1.0, -0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]])
    with pytest.raises(ValueError, match=r"covs \(K, d, d\)"):
        GaussianMixtureCDF([1.0], [[0.0, 0.0]], [[[1.0]]])


@pytest.mark.parametrize("law", [example_mixture(), example_banana(), example_banana(False)])
def test_q_refuses_w_outside_the_open_cube(law):
    for bad in (0.0, 1.0, -1e-3, 1.2):
        with pytest.raises(ValueError, match=r"open unit cube \(0, 1\)"):
            law.forward(np.array([[0.5, bad]]))


def test_morph_composes_and_refuses_mismatches(rng):
    y_law, z_law = example_banana(), example_mixture()
    y = y_law.rvs(30, random_state=2)
    z, logdet = morph(y, y_law, z_law)
    assert np.max(np.abs(z - z_law.quantile(y_law.partial_cdf(y)))) <= 1e-10
    assert np.max(np.abs(logdet - (y_law.logpdf(y) - z_law.logpdf(z)))) <= 1e-10
    jac = Morph(y_law, z_law).jacobian(y)
    assert np.all(np.triu(jac, 1) == 0.0)
    num = numerical_jacobian(lambda v: morph(v, y_law, z_law)[0], y)
    assert np.max(np.linalg.norm(jac - num, axis=(1, 2)) / np.linalg.norm(jac, axis=(1, 2))) <= 1e-6
    with pytest.raises(ValueError, match="dimension"):
        Morph(example_gumbel(), z_law)
    with pytest.raises(ValueError, match="inverse CDF"):
        Morph(y_law, object())


def test_morph_refuses_points_beyond_float64_tails():
    m = Morph(GaussianCDF([0.0], [[0.0]]), GaussianCDF([0.0], [[0.0]]))
    with pytest.raises(ValueError, match="underflows to 0"):
        m.forward(np.array([[40.0]]))


def test_mixture_logpdf_far_in_the_tails():
    # No log(0): the log-density at |z| up to 30 against scipy's per-component log-densities.
    from scipy.special import logsumexp
    m = example_mixture()
    z = np.array([[-30.0, 0.0], [30.0, 30.0], [0.0, -30.0], [-30.0, 30.0]])
    ref = logsumexp([np.log(w) + stats.multivariate_normal(mk, Sk).logpdf(z)
                     for w, mk, Sk in zip(m.weights, m.means, m.covs)], axis=0)
    assert np.max(np.abs(m.logpdf(z) - ref) / np.abs(ref)) <= 1e-13
    assert np.all(np.isfinite(m.partial_cdf_jacobian(z)))


def test_far_tails_of_a_numerical_conditional_grow_the_bracket():
    # Gumbel from its CDF only: the solver grows [-1, 1] to about [-7, 37] for these levels.
    law = example_gumbel()
    u = np.array([[1e-300], [1e-50], [1e-16], [0.5], [1 - 1e-8], [1 - 1e-16]])
    z = law.quantile(u)
    w, w_bar = law.partial_cdf_pair(z)
    small = np.where(u <= 0.5, u, 1.0 - u)
    got = np.where(u <= 0.5, w, w_bar)
    assert np.max(np.abs(got - small) / small) <= 1e-10
    assert z[0, 0] < -6.5 and z[-1, 0] > 36.5


@pytest.mark.parametrize("cls", [InverseCDFTransform, GaussianCDF, GaussianMixtureCDF,
                                 ConditionalCDF, Morph])
def test_classes_write_the_pass_hooks_only(cls):
    for old in ("_forward_vjp", "_inverse_vjp", "_solve_jacobian_transpose", "_G_pair",
                "_Q_pair", "_jacobian_G", "_grad_logpdf"):
        assert not hasattr(cls, old), f"{cls.__name__} still has {old}"
    # the base's hooks (and their legacy branches) are never reached
    for hook in ("_forward_and_vjp", "_inverse_and_vjp", "_jacobian", "_forward", "_inverse"):
        assert getattr(cls, hook) is not getattr(Transform, hook), f"{cls.__name__}.{hook}"
    assert isinstance(vars(cls).get("numerical_inverse", property()), property)


def test_numerical_inverse_is_derived_and_read_only():
    g = GaussianCDF.random(2, 0)
    laws = [(example_mixture(), True), (example_banana(), False), (example_banana(False), True),
            (g, False), (Morph(example_banana(), g), False), (Morph(g, example_mixture()), True)]
    for law, expected in laws:
        assert law.numerical_inverse is expected, repr(law)
        with pytest.raises(AttributeError):
            law.numerical_inverse = not expected


def test_morph_pullback_in_both_tails_is_the_affine_map():
    # N(0, 1) -> N(3, 2^2) is z = 3 + 2y: gy = 2 gz and the log-det (log 2) has no gradient,
    # although the pass goes through w = Phi(y) down to 1e-198 on either side. The pullback
    # multiplies 1/phi(eps_z) by phi(eps_y), each near e^{-450} at |y| = 30: an error d eps
    # of the quantile becomes a relative error |eps| d eps, so the bound grows like 1 + y^2
    # (as the log-det bound of the s01 morph claim does).
    m = Morph(GaussianCDF([0.0], [[0.0]]), GaussianCDF.from_mean_cov([3.0], [[4.0]]))
    y = np.linspace(-30, 30, 61)[:, None]
    gz, gl = np.linspace(-1, 1, 61)[:, None], np.linspace(2, -3, 61)
    z, logdet, back = m.forward_and_vjp(y)
    gy, gp = back(gz, gl)
    assert gp == {}
    scale = 1.0 + y ** 2
    assert np.max(np.abs(gy - 2.0 * gz) / scale) <= 5e-14
    x, _, back_inv = m.inverse_and_vjp(z)
    gz_back, _ = back_inv(gy, gl)
    assert np.max(np.abs(gz_back - 0.5 * gy) / scale) <= 5e-14
    assert np.max(np.abs(x - y) / (1 + np.abs(y))) <= 1e-13


@pytest.mark.parametrize("pair", ["gaussian->mixture", "mixture->gaussian", "banana->gaussian"])
def test_morph_between_learnable_and_numerical_laws_pulls_back(pair):
    g = GaussianCDF.random(2, 3)
    source, target = {"gaussian->mixture": (g, example_mixture()),
                      "mixture->gaussian": (example_mixture(), g),
                      "banana->gaussian": (example_banana(False), g)}[pair]
    m = Morph(source, target)
    y = sample_direct(source, 12, 5)
    for direction in ("forward", "inverse"):
        res = check_vjp(m, y, direction, bound=1e-6)
        assert res.passed, str(res)


def test_gaussian_pullbacks_near_and_in_the_tails():
    # Parameter and input gradients of both directions: the forward one where u can move by
    # a finite-difference step (its far tails are checked exactly by the affine morph above),
    # the inverse one at z = Q(u) for u = 1e-12 and 1 - 1e-12 (where z moves freely; the
    # upper tail goes through the survival side).
    g = GaussianCDF.random(2, 8)
    u = np.array([[0.02, 0.5], [0.5, 0.98], [0.98, 0.02], [0.3, 0.7]])
    res = check_vjp(g, u, "forward", bound=1e-6)
    assert res.passed, str(res)
    u = np.array([[1e-12, 0.5], [0.5, 1 - 1e-12], [1 - 1e-12, 1e-12], [0.3, 0.7]])
    res = check_vjp(g, u, "inverse", bound=1e-6)
    assert res.passed, str(res)


def test_numerical_quantile_refuses_a_level_its_cdf_does_not_resolve():
    # scipy's normal CDF underflows to 0 below about -37.7 and jumps to 6e-311 above: the
    # bracket closed on that jump and returned z off by 0.56 for u = 5e-324
    from nfref.inverse_cdf import banana
    t = banana(0.5, 0.7, 2, with_ppf=False)
    with pytest.raises(ValueError, match="not resolved in float64 at level 4.94e-324"):
        t.forward(np.array([[0.5, 5e-324]]))
    # just above, the quantile is right: against the closed form
    u = np.array([[0.5, 1e-300], [0.3, 1e-310]])
    np.testing.assert_allclose(t.forward(u)[0], banana(0.5, 0.7, 2).forward(u)[0], rtol=1e-11)


def test_mixture_quantile_refuses_a_subnormal_level_its_cdf_does_not_resolve():
    # u = 5e-324 gave z = -23.10 whose CDF is 9.1e-312 (and u = 1e-320 one whose CDF is 0)
    from nfref.inverse_cdf import GaussianMixtureCDF
    t = GaussianMixtureCDF.random(1, np.random.default_rng(0))
    for u in (5e-324, 1e-320):
        with pytest.raises(ValueError, match="not resolved in float64"):
            t.forward(np.array([[u]]))
    z = t.forward(np.array([[1e-300]]))[0]
    assert abs(t.inverse(z)[0][0, 0] - 1e-300) <= 1e-12 * 1e-300
