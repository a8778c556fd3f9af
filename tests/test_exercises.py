"""Every exercise check passes on its worked solution and fails on a deliberately wrong answer.

The solutions are the plain modules ``notebooks/solutions/solutions_0k.py`` that the solution
notebooks import and run (``tests/test_notebooks.py`` runs those notebooks too). The fitted flows
are shared between the right and the wrong answer through module-scoped fixtures.
"""

import pathlib
import sys

import numpy as np
import pytest

import nfref.exercises as E

SOLUTIONS = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "solutions"
sys.path.insert(0, str(SOLUTIONS))

import solutions_01 as s1  # noqa: E402
import solutions_02 as s2  # noqa: E402
import solutions_03 as s3  # noqa: E402
import solutions_04 as s4  # noqa: E402
import solutions_05 as s5  # noqa: E402
import solutions_06 as s6  # noqa: E402
from nfref.datasets import Banana, TwoMoons  # noqa: E402


def both(check, right, wrong):
    """The check passes on ``right`` and fails on ``wrong`` (both argument tuples)."""
    good, bad = check(*right, verbose=False), check(*wrong, verbose=False)
    assert good.ok, str(good)
    assert not bad.ok, str(bad)
    assert any(not p[1] for p in bad.parts)
    return good, bad


# ------------------------------------------------------------------------------- 01
def test_01_swapped_order():
    from nfref.inverse_cdf.examples import example_mixture
    original = example_mixture()
    both(E.check_swapped_order, (s1.G_swapped,), (lambda z: original.inverse(z)[0],))


def test_01_student_t():
    from scipy import stats

    def gaussian_conditional(z):                     # wrong: the conditional of a Gaussian
        m, S = E.STUDENT_T["loc"], E.STUDENT_T["shape"]
        u1 = stats.norm.cdf((z[:, 0] - m[0]) / np.sqrt(S[0, 0]))
        loc = m[1] + S[1, 0] / S[0, 0] * (z[:, 0] - m[0])
        u2 = stats.norm.cdf((z[:, 1] - loc) / np.sqrt(S[1, 1] - S[1, 0] ** 2 / S[0, 0]))
        return np.stack([u1, u2], 1)
    both(E.check_student_t_cdf, (s1.G_student_t,), (gaussian_conditional,))


def test_01_symmetric_sqrt():
    from scipy import stats
    L = np.linalg.cholesky(E.SYMMETRIC_GAUSSIAN["cov"])
    cholesky = lambda u: E.SYMMETRIC_GAUSSIAN["mean"] + stats.norm.ppf(u) @ L.T   # noqa: E731
    _, bad = both(E.check_symmetric_sqrt, (s1.Q_symmetric,), (cholesky,))
    # the Cholesky map is a valid sampler: only the "not triangular" part fails
    assert [p[0] for p in bad.parts if not p[1]] == ["J_Q not triangular"]


# ------------------------------------------------------------------------------- 02
def test_02_radial_logdet():
    def no_rank_one(radial, u):
        r = np.linalg.norm(u - radial.params["z0"], axis=1)
        return u.shape[1] * np.log(1 + radial.beta / (radial.alpha + r))
    both(E.check_radial_logdet, (s2.radial_logdet,), (no_rank_one,))


def test_02_softplus_planar():
    both(E.check_softplus_planar, (s2.softplus_planar_invertible,),
         (lambda w, rho: float(w @ rho) >= -1.0,))           # the tanh condition


def test_02_uniform_linear_loglik():
    everywhere = lambda A, b, x: np.full(len(x), -np.linalg.slogdet(A)[1])   # noqa: E731
    both(E.check_uniform_linear_loglik, (s2.uniform_linear_loglik,), (everywhere,))


# ------------------------------------------------------------------------------- 03
@pytest.fixture(scope="module")
def chain03():
    return s3.trained_chain()


def test_03_reversed_chain(chain03):
    flow, x = chain03
    trained = -float(np.mean(flow.logpdf(x)))
    both(E.check_reversed_chain, (flow, x, s3.reversed_nll(flow, x)), (flow, x, trained))


def test_03_uniform_base():
    flow, x = s3.uniform_base_flow(), TwoMoons().rvs(1000, random_state=1)
    both(E.check_uniform_base_chain, (flow, x, s3.fraction_off_image(flow, x)), (flow, x, 0.0))


def test_03_eq9_gradient():
    def without_implicit_term(base, chain, x):     # wrong: drops -(dphi/dtheta)^T lambda
        nll, grads = s3.eq9_nll_and_grad(base, chain, x)
        n = x.shape[0]
        ys = [x]
        for layer in reversed(list(chain.layers)):
            ys.append(layer.inverse(ys[-1])[0])
        ys = ys[::-1]
        for k, layer in enumerate(chain.layers):
            back = layer.forward_and_vjp(ys[k])[2]
            g = back(np.zeros_like(ys[k]), np.full(n, 1.0 / n))[1]
            grads.update({f"{k}.{name}": g[name] for name in layer.params})
        return nll, grads
    both(E.check_eq9_gradient, (s3.eq9_nll_and_grad,), (without_implicit_term,))


# ------------------------------------------------------------------------------- 04
def test_04_maf_gaussian():
    from nfref.autoregressive.maf import MAF
    from nfref.autoregressive.transformers import Affine
    from nfref.distributions import Flow, StandardNormal
    flow, x = s4.gaussian_maf()
    untrained = Flow(StandardNormal(3), MAF(3, Affine(), (16,), "natural", 0))
    both(E.check_maf_gaussian, (flow, x), (untrained, x))


def test_04_reverse_kl_fit():
    from nfref.autoregressive.maf import IAF, maf_stack
    from nfref.distributions import Flow, StandardNormal
    untrained = Flow(StandardNormal(2), maf_stack(2, 4, (16, 16), random_state=0, cls=IAF))
    both(E.check_reverse_kl_fit, (s4.iaf_banana(), Banana().logpdf),
         (untrained, Banana().logpdf))


def test_04_transformer_swap():
    from nfref.autoregressive.maf import maf_stack
    from nfref.distributions import Flow, StandardNormal
    flow, x = s4.spline_checkerboard()
    affine = Flow(StandardNormal(2), maf_stack(2, 2, (16, 16), random_state=0))
    _, bad = both(E.check_transformer_swap, (flow, x), (affine, x))
    assert not bad.parts[0][1]                               # the Affine stack is named


# ------------------------------------------------------------------------------- 05
def test_05_softplus_log_g():
    from nfref.numerics import sigmoid, softplus
    def forgets_eps(h, eps):
        with np.errstate(invalid="ignore", divide="ignore"):     # 0/0 at h = -800: NaN
            return sigmoid(h) / softplus(h)
    both(E.check_softplus_log_g, (s5.dlogg_dh,), (forgets_eps,))


def test_05_spline_discriminant():
    both(E.check_spline_discriminant, (s5.discriminant,),
         (lambda dk, dk1, s, e0, e1: (dk * e1 - dk1 * e0) ** 2 + s * s * e0 * e1,))


def test_05_gauss_legendre():
    def n_nodes(f, t, N):                                    # N nodes, not N + 1
        nodes, weights = np.polynomial.legendre.leggauss(N)
        return 0.5 * t * float(weights @ f(0.5 * t * (nodes + 1.0)))
    good, _ = both(E.check_gauss_legendre, (s5.gauss_legendre,), (n_nodes,))
    assert len(good.notes) == 3


# ------------------------------------------------------------------------------- 06
def test_06_kl_versus_layers():
    fits = [s6.planar_banana(K) for K in (2, 16)]
    flows, kls = [f for f, _ in fits], [k for _, k in fits]
    both(E.check_kl_versus_layers, (flows, Banana().logpdf, kls),
         (flows, Banana().logpdf, kls[::-1]))


def test_06_duality_nonlinear():
    from nfref.one_layer import Planar
    T = Planar.random(2, random_state=3)
    target = Banana().logpdf
    no_logdet = lambda z: target(T.forward(z)[0])            # noqa: E731
    both(E.check_duality_nonlinear, (s6.pullback_logpdf(T, target), T, target),
         (no_logdet, T, target))


def test_06_rbig_rounds():
    x_train, x_test, k, target = s6.rbig_rounds()
    both(E.check_rbig_rounds, (x_train, x_test, k, target), (x_train, x_test, k - 1, target))


def test_every_exercise_has_a_check():
    checks = [n for n in E.__all__ if n.startswith("check_")]
    assert len(checks) == 18
    tested = {name[len("test_0k_"):] for name in globals() if name.startswith("test_0")}
    assert len(tested) == 18
