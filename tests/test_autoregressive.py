"""MAF and IAF: triangular Jacobians, cheap log-determinants, which direction is parallel,
the d = 1 case, a Flow's likelihood gradient, and a fit that reaches the exact entropy."""

import numpy as np
import pytest

from nfref.autoregressive.maf import IAF, MAF, lower_triangular_inverse, maf_stack
from nfref.distributions import Flow, StandardNormal
from nfref.gradcheck import check_param_gradient
from nfref.optim import fit_lbfgs
from nfref.autoregressive.transformers import Affine


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
def test_jacobian_is_triangular_in_the_made_order(cls, order, rng):
    t = cls.random(4, rng, hidden_sizes=(8, 8), order=order)
    u = rng.standard_normal((5, 4))
    jac = t.jacobian(u)                                        # J[n, i, j] = dx_i / du_j
    p = t.made.order
    jp = jac[:, p][:, :, p]
    assert np.all(np.triu(jp, 1) == 0)                         # lower triangular (nfref)
    notes = np.swapaxes(jp, 1, 2)                              # notes: [J]_ij = dphi_j/du_i
    assert np.all(np.tril(notes, -1) == 0)                     # upper triangular (notes)
    assert np.min(np.abs(np.tril(jp, -1)[:, 1:, :1])) > 0      # not diagonal: test can fail
    _, logdet = t.forward(u)
    diag = np.log(np.diagonal(jac, axis1=1, axis2=2)).sum(1)
    assert np.max(np.abs(logdet - diag)) <= 1e-12
    assert np.max(np.abs(logdet - np.linalg.slogdet(jac)[1])) <= 1e-10


def _count_made_passes(t):
    calls = [0]
    inner = t.made.forward

    def counting(x, net):
        calls[0] += 1
        return inner(x, net)
    t.made.forward = counting
    return calls


@pytest.mark.parametrize("cls,parallel", [(MAF, "inverse"), (IAF, "forward")])
def test_one_pass_one_way_d_passes_the_other(cls, parallel, rng):
    d = 5
    t = cls.random(d, rng)
    calls = _count_made_passes(t)
    u = rng.standard_normal((4, d))
    x, _ = t.forward(u)
    n_forward = calls[0]
    t.inverse(x)
    n_inverse = calls[0] - n_forward
    assert (n_forward, n_inverse) == ((d, 1) if parallel == "inverse" else (1, d))


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_dim_one_is_the_transformer_with_constant_parameters(cls, rng):
    t = cls.random(1, rng, hidden_sizes=(5,))
    xi = t.conditioner(np.zeros((1, 1)))[0, 0]                  # (mu, alpha)
    u = rng.standard_normal((6, 1))
    x, logdet = t.forward(u)
    np.testing.assert_allclose(x, xi[0] + np.exp(xi[1]) * u, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(logdet, np.full(6, xi[1]), rtol=1e-14)


def test_lower_triangular_inverse_against_numpy(rng):
    order = rng.permutation(4)
    K = np.tril(rng.standard_normal((3, 4, 4)), -1) + np.eye(4) * 2.0
    inv_perm = np.argsort(order)
    K = K[:, inv_perm][:, :, inv_perm]                         # lower triangular in `order`
    np.testing.assert_allclose(lower_triangular_inverse(K, order), np.linalg.inv(K),
                               rtol=1e-12, atol=1e-12)


def test_maf_likelihood_gradient_through_a_stack(rng):
    flow = Flow(StandardNormal(3), maf_stack(3, n_layers=3, hidden_sizes=(6,), random_state=rng,
                                             output_scale=1.0))
    x = rng.standard_normal((20, 3))
    _, grads = flow.nll_and_grad(x)
    res = check_param_gradient(lambda: flow.nll_and_grad(x)[0], flow.params, grads)
    assert res.passed, str(res)


def test_maf_fits_a_correlated_gaussian_to_its_entropy(rng):
    # A Gaussian is an affine autoregressive map of a standard normal (its Cholesky factor),
    # so one affine MAF layer can represent it up to the conditioner's approximation of the
    # linear mean x_1 -> mu_2(x_1). Score: mean -log q minus mean -log p on held-out data,
    # an estimate of KL(p || q) >= 0.
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    chol = np.linalg.cholesky(cov)
    train = rng.standard_normal((2000, 2)) @ chol.T
    test = rng.standard_normal((4000, 2)) @ chol.T
    maf = MAF(2, Affine(), hidden_sizes=(8,), random_state=rng)
    flow = Flow(StandardNormal(2), maf)
    fit_lbfgs(lambda: flow.nll_and_grad(train), flow.params, maxiter=60, verbose=False)
    exact = -np.mean(-0.5 * np.einsum("ni,ij,nj->n", test, np.linalg.inv(cov), test)
                     - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(cov)))
    gap = -np.mean(flow.logpdf(test)) - exact
    assert abs(gap) <= 0.02, f"held-out NLL minus exact: {gap:.4f}"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Transformer"):
        MAF(2, transformer="affine")
    with pytest.raises(ValueError, match="order"):
        IAF(3, order="diagonal")
    with pytest.raises(ValueError, match="dim"):
        MAF(0)
