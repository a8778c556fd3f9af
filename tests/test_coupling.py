"""Coupling layers: block-triangular Jacobian, the d = 1 case, alternating blocks."""

import numpy as np
import pytest

from nfref.autoregressive.coupling import Coupling, Permute, coupling_stack
from nfref.gradcheck import check_vjp
from nfref.autoregressive.transformers import BoundedAffine


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_jacobian_is_block_triangular_and_logdet_is_a_sum(d, flip, rng):
    t = Coupling.random(d, rng, hidden_sizes=(6,), flip=flip)
    A, B = t.cond_idx, t.trans_idx
    assert len(A) == d // 2 and sorted([*A, *B]) == list(range(d))
    u = rng.standard_normal((4, d))
    x, logdet = t.forward(u)
    np.testing.assert_array_equal(x[:, A], u[:, A])             # x_A = u_A exactly
    jac = t.jacobian(u)
    np.testing.assert_array_equal(jac[:, A][:, :, A], np.broadcast_to(np.eye(len(A)),
                                                                      (4, len(A), len(A))))
    assert np.all(jac[:, A][:, :, B] == 0)
    jbb = jac[:, B][:, :, B]
    assert np.all(jbb - np.diagonal(jbb, axis1=1, axis2=2)[:, :, None] * np.eye(len(B)) == 0)
    assert np.min(np.abs(jac[:, B][:, :, A])) > 0                # B depends on A: can fail
    diag = np.log(np.diagonal(jbb, axis1=1, axis2=2)).sum(1)
    assert np.max(np.abs(logdet - diag)) <= 1e-12


def test_dim_one_is_the_transformer_with_constant_parameters(rng):
    t = Coupling.random(1, rng, hidden_sizes=(16, 16))
    assert sorted(t.params) == ["b0"] and t.params["b0"].shape == (2,)
    mu, alpha = t.params["b0"]
    u = rng.standard_normal((5, 1))
    x, logdet = t.forward(u)
    np.testing.assert_allclose(x, mu + np.exp(alpha) * u, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(logdet, alpha, rtol=1e-14)


def test_alternating_stack_reaches_every_coordinate(rng):
    d = 4
    one = coupling_stack(d, n_layers=1, hidden_sizes=(6,), random_state=rng, output_scale=1.0)
    two = coupling_stack(d, n_layers=2, hidden_sizes=(6,), random_state=rng, output_scale=1.0)
    three = coupling_stack(d, n_layers=3, hidden_sizes=(6,), random_state=rng, output_scale=1.0)
    u = rng.standard_normal((3, d))
    assert np.sum(one.jacobian(u)[0] == 0) == 8                 # I_AA, 0_AB, diagonal J_BB
    # Two layers: x_B of layer 1 is elementwise in u_B given u_A, and passes through
    # layer 2 unchanged, so dx_2/du_3 = dx_3/du_2 = 0 still; the third layer fills them.
    assert np.sum(two.jacobian(u)[0] == 0) == 2
    assert np.all(np.abs(three.jacobian(u)) > 0)
    res = check_vjp(three, u, "inverse")
    assert res.passed, str(res)


def test_bounded_transformer_and_permute(rng):
    t = Coupling(3, BoundedAffine(1.0), hidden_sizes=(4,), random_state=rng, output_scale=50.0)
    _, logdet = t.forward(rng.standard_normal((10, 3)))
    assert np.all(np.abs(logdet) < 2.0)                        # |alpha| < 1 on 2 dims
    p = Permute([2, 0, 1])
    u = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(p.forward(u)[0], u[:, [2, 0, 1]])
    np.testing.assert_array_equal(p.inverse(p.forward(u)[0])[0], u)
    with pytest.raises(ValueError, match="permutation"):
        Permute([0, 0, 1])


def test_bad_transformer_is_refused():
    with pytest.raises(ValueError, match="Transformer"):
        Coupling(2, transformer=object())
    with pytest.raises(ValueError, match="hidden sizes"):
        Coupling(2, hidden_sizes=(0,))
    with pytest.raises(ValueError, match="hidden sizes"):
        Coupling(4, hidden_sizes=(8, -1))
