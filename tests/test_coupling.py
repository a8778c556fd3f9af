"""Coupling layers: block-triangular Jacobian, the d = 1 case, alternating blocks."""

import numpy as np
import pytest

from nfref.autoregressive.coupling import Coupling, Permute, coupling_stack
from nfref.gradcheck import check_gradient, check_param_gradient, check_vjp
from nfref.autoregressive.transformers import UMNN, Affine, BoundedAffine


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


@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("flip", [False, True])
def test_pullback_of_one_pass_against_finite_differences(direction, activation, flip, rng):
    t = Coupling.random(5, rng, hidden_sizes=(6, 6), flip=flip, activation=activation)
    assert t.activation == activation
    point = rng.standard_normal((6, 5))
    res = check_vjp(t, point, direction)
    assert res.passed, str(res)
    g, gl = rng.standard_normal((6, 5)), rng.standard_normal(6)
    run = t.forward_and_vjp if direction == "forward" else t.inverse_and_vjp
    value = t.forward if direction == "forward" else t.inverse
    g_in, g_par = run(point)[2](g, gl)

    def loss_input(v):
        out, ld = value(v)
        return float(np.sum(g * out) + np.sum(gl * ld))
    res = check_gradient(loss_input, g_in, point.copy())
    assert res.passed, str(res)
    res = check_param_gradient(lambda: loss_input(point), t.params, g_par)
    assert res.passed, str(res)


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_no_state_survives_between_calls(direction, rng):
    # the first pullback still gives the first point's gradient after a second pass at other
    # points with other parameter values (updated in place), and a fresh pass agrees with it
    t = Coupling.random(4, rng, hidden_sizes=(6,))
    run = t.forward_and_vjp if direction == "forward" else t.inverse_and_vjp
    u1, u2 = rng.standard_normal((2, 5, 4))
    g, gl = rng.standard_normal((5, 4)), rng.standard_normal(5)
    first = {k: v.copy() for k, v in t.params.items()}
    out1, _, pullback = run(u1)
    g_in, g_par = pullback(g, gl)
    for v in t.params.values():
        v += 0.1 * rng.standard_normal(v.shape)                # an optimizer's in-place step
    out2, _, pullback2 = run(u2)
    pullback2(g, gl)
    again_in, again_par = pullback(g, gl)
    np.testing.assert_array_equal(again_in, g_in)
    for k in g_par:
        np.testing.assert_array_equal(again_par[k], g_par[k])
    assert np.max(np.abs(out2 - out1)) > 0.1
    t.set_params(first)
    fresh_in, fresh_par = run(u1)[2](g, gl)
    np.testing.assert_array_equal(fresh_in, g_in)
    for k in g_par:
        np.testing.assert_array_equal(fresh_par[k], g_par[k])


def test_permute_pullbacks_and_numerical_inverse(rng):
    p = Permute([2, 0, 3, 1])
    u, g = rng.standard_normal((2, 3, 4))
    x, ld, pullback = p.forward_and_vjp(u)
    gu, gp = pullback(g, rng.standard_normal(3))
    np.testing.assert_array_equal(ld, 0.0)
    assert gp == {}
    np.testing.assert_array_equal(x[:, [0, 1, 2, 3]], u[:, [2, 0, 3, 1]])
    np.testing.assert_array_equal(gu[:, [2, 0, 3, 1]], g)      # gu = J^T g: x_i = u_perm(i)
    np.testing.assert_allclose(np.sum(gu * u, 1), np.sum(g * x, 1), rtol=1e-15, atol=1e-15)
    gx, _ = p.inverse_and_vjp(x)[2](gu, None)
    np.testing.assert_array_equal(gx, g)
    assert p.numerical_inverse is False
    assert Coupling.random(2, rng, transformer=Affine()).numerical_inverse is False
    assert Coupling.random(2, rng, transformer=UMNN(2, 8)).numerical_inverse is True


def test_bad_transformer_is_refused():
    with pytest.raises(ValueError, match="Transformer"):
        Coupling(2, transformer=object())
    with pytest.raises(ValueError, match="hidden_sizes"):
        Coupling(2, hidden_sizes=(0,))
    with pytest.raises(ValueError, match="hidden_sizes"):
        Coupling(4, hidden_sizes=(8, -1))
    with pytest.raises(ValueError, match="activation"):
        Coupling(4, activation="softplus")
    with pytest.raises(ValueError, match="activation"):
        Coupling.random(3, 0, activation=1)
    with pytest.raises(ValueError, match="activation"):
        coupling_stack(2, 2, (4,), activation="ReLU")
