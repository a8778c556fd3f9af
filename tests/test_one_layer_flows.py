"""Planar and radial flows: invertibility, the scalar solver, the closed-form radial inverse."""

import numpy as np
import pytest

from nfref.gradcheck import check_jacobian, check_vjp
from nfref.one_layer import Planar, Radial, solve_tanh_equation


def test_solver_residual_and_bracket(rng):
    z = rng.normal(0, 3, 20000)
    c = np.expm1(rng.normal(0, 1.5, 20000))                       # c > -1, wide range
    tau, it = solve_tanh_equation(z, c)
    assert np.all(np.abs(tau) <= 1)
    assert np.max(np.abs(tau - np.tanh(z - c * tau))) <= 1e-14
    assert it < 100
    with pytest.raises(ValueError, match="z: expected finite values"):
        solve_tanh_equation(np.array([np.nan, 1.0]), 0.5)
    with pytest.raises(ValueError, match="c: expected finite values"):
        solve_tanh_equation(np.array([1.0]), np.inf)
    with pytest.raises(ValueError, match="solve_tanh_equation: .*did not converge"):
        solve_tanh_equation(z[:100], c[:100], maxiter=1)         # never an unconverged value


def test_solver_shapes_broadcast(rng):
    z = rng.normal(0, 2, (4, 3))
    tau, _ = solve_tanh_equation(z, 0.7)
    assert tau.shape == (4, 3)
    assert np.max(np.abs(tau - np.tanh(z - 0.7 * tau))) <= 1e-15


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_planar_round_trip_to_1e12(rng, d):
    worst = 0.0
    for _ in range(50):
        t = Planar.random(d, rng)
        u = rng.standard_normal((40, d))
        x, _ = t.forward(u)
        worst = max(worst, np.max(np.abs(t.inverse(x)[0] - u)))
    assert worst <= 1e-12, worst


def test_planar_reparameterization_makes_wT_rho_hat_above_minus_one(rng):
    for _ in range(200):
        t = Planar.random(3, rng, scale=5.0)
        rho_hat, c, one_plus_c = t.constrained()
        assert one_plus_c > 0
        assert abs(t.params["w"] @ rho_hat - c) <= 1e-12 * max(1.0, abs(c))


def test_planar_raw_refuses_non_invertible_parameters():
    with pytest.raises(ValueError, match=r"w\^T rho >= -1.*-2"):
        Planar([1.0, 0.0], [-2.0, 0.0], [0.0], reparameterize=False)
    t = Planar([1.0, 0.0], [0.5, 0.0], [0.0], reparameterize=False)
    t.params["rho"][0] = -1.5                                      # changed in place
    with pytest.raises(ValueError, match="w\\^T rho >= -1"):
        t.forward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="nonzero w"):
        Planar([0.0, 0.0], [1.0, 0.0], [0.0])
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        Planar([1.0, 0.0], [1.0, 0.0], [0.0, 1.0])


def test_planar_reparameterized_with_bad_raw_rho_is_still_invertible(rng):
    # raw rho with w^T rho = -5 would fold the space; rho_hat repairs it
    t = Planar([1.0, 1.0], [-2.5, -2.5], [0.3])
    u = rng.standard_normal((100, 2)) * 3
    x, ld = t.forward(u)
    assert np.all(np.isfinite(ld))
    assert np.max(np.abs(t.inverse(x)[0] - u)) <= 1e-12


def test_planar_inverse_pass_solves_once_and_shares_the_forward_pass(rng):
    calls = {"solve": 0, "pass": 0}

    class Counting(Planar):
        def _solve_inverse(self, x):
            calls["solve"] += 1
            return super()._solve_inverse(x)

        def _pass(self, u):
            calls["pass"] += 1
            return super()._pass(u)

    t = Counting.random(3, rng)
    u = rng.standard_normal((11, 3))
    x, ld = t.forward(u)
    calls.update({"solve": 0, "pass": 0})
    u_back, ld_inv, pullback = t.inverse_and_vjp(x)
    assert calls == {"solve": 1, "pass": 1}                   # one solve, one forward pass at u
    gu, gl = rng.standard_normal((11, 3)), rng.standard_normal(11)
    gx, gp = pullback(gu, gl)
    gx2, gp2 = pullback(gu, gl)                               # callable again, same numbers
    assert calls == {"solve": 1, "pass": 1}                   # the pullback reruns nothing
    np.testing.assert_array_equal(gx, gx2)
    assert all(np.array_equal(gp[k], gp2[k]) for k in gp)
    np.testing.assert_allclose(ld_inv, -ld, rtol=1e-12, atol=1e-12)
    gx3, gp3 = t.inverse_vjp(x, gu, gl)
    np.testing.assert_allclose(gx3, gx, rtol=1e-14, atol=1e-14)
    assert all(np.allclose(gp3[k], gp[k], rtol=1e-14, atol=1e-14) for k in gp)
    calls.update({"solve": 0, "pass": 0})
    t.inverse(x)
    assert calls["solve"] == 1
    assert t.numerical_inverse and "numerical_inverse" not in vars(t)
    res = check_vjp(t, u, "inverse", bound=1e-6)             # at x = forward(u)
    assert res.passed, str(res)


def test_radial_inverse_pullback_is_exact_and_shares_its_pass(rng):
    passes = []

    class Counting(Radial):
        def _parts(self, u):
            passes.append(1)
            return super()._parts(u)

    t = Counting.random(3, rng)
    u = t.params["z0"] + rng.standard_normal((9, 3)) * np.logspace(-2, 1, 9)[:, None]
    x, ld = t.forward(u)
    passes.clear()
    u_back, ld_inv, pullback = t.inverse_and_vjp(x)
    pullback(np.ones_like(x), np.ones(9))
    assert passes == []                         # closed form: no forward pass at u is rerun
    np.testing.assert_allclose(u_back, u, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ld_inv, -ld, rtol=1e-12, atol=1e-12)
    assert not t.numerical_inverse
    for direction in ("forward", "inverse"):
        res = check_vjp(t, u, direction, bound=1e-6)
        assert res.passed, str(res)


def test_planar_raw_gradient_checks(rng):
    t = Planar.random(3, rng, reparameterize=False)
    u = rng.standard_normal((7, 3))
    for direction in ("forward", "inverse"):
        res = check_vjp(t, u, direction, bound=1e-6)
        assert res.passed, str(res)


def test_radial_inverse_radius_solves_the_quadratic(rng):
    # R = r (gamma + r) / (alpha + r) with gamma = alpha + beta; the inverse's radius is the
    # non-negative root of r^2 + (gamma - R) r - alpha R = 0, both branches of the formula
    for alpha_raw, beta_raw in [(0.0, 0.0), (3.0, -8.0), (-5.0, 4.0), (2.0, 2.0)]:
        t = Radial([0.0, 0.0], [alpha_raw], [beta_raw])
        alpha, gamma = t.alpha, t.alpha + t.beta
        r = np.logspace(-8, 3, 500)
        R = r * (gamma + r) / (alpha + r)
        r_back = t._radius_inverse(R, alpha, gamma)
        assert np.max(np.abs(r_back - r) / r) <= 1e-13
        assert np.all(r_back >= 0) and t._radius_inverse(np.zeros(1), alpha, gamma)[0] == 0.0


def test_radial_round_trip_is_relative_to_1e14(rng):
    t = Radial.random(3, rng)
    u = t.params["z0"] + rng.standard_normal((200, 3)) * np.logspace(-6, 2, 200)[:, None]
    x, _ = t.forward(u)
    assert np.max(np.abs(t.inverse(x)[0] - u) / (1 + np.abs(u))) <= 1e-14


def test_radial_centre_and_extreme_parameters(rng):
    t = Radial([0.5, -0.5], [3.0], [-8.0])                        # beta close to -alpha
    u = np.array([[0.5, -0.5], [0.5 + 1e-9, -0.5], [3.0, 4.0]])
    x, ld = t.forward(u)
    assert np.all(np.isfinite(ld))
    # near the centre the map contracts by f = (gamma + r)/(alpha + r) ~ 1e-4, so the
    # inverse magnifies the rounding of x by 1/f: the bound is a few ulps of x over f
    f = (t.alpha + t.beta) / t.alpha
    bound = 4 * np.finfo(float).eps * np.max(np.abs(x)) / f
    assert np.max(np.abs(t.inverse(x)[0] - u)) <= bound
    # the map is not differentiable at the centre: finite differences (step 1e-4) only
    # at points farther from it than the stencil
    v = np.array([[0.5 + 1e-2, -0.5], [3.0, 4.0]])
    res = check_jacobian(lambda p: t.forward(p)[0], t.jacobian(v), v, bound=1e-6)
    assert res.passed, str(res)


@pytest.mark.parametrize("cls", [Planar, Radial])
def test_inverse_jacobian_is_inverse_of_forward_jacobian(rng, cls):
    t = cls.random(4, rng)
    u = rng.standard_normal((20, 4))
    x, _ = t.forward(u)
    prod = t.inverse_jacobian(x) @ t.jacobian(u)
    assert np.max(np.abs(prod - np.eye(4))) <= 1e-12
    res = check_jacobian(lambda v: t.inverse(v)[0], t.inverse_jacobian(x), x, bound=1e-6)
    assert res.passed, str(res)


def test_planar_refuses_parameters_where_softplus_underflows():
    w = np.array([1.0, 0.0])
    Planar(w, [-700.0, 0.0], [0.0])                                # 1 + c = e^-700 > 0: fine
    with pytest.raises(ValueError, match="underflows to 0"):
        Planar(w, [-800.0, 0.0], [0.0])


def test_planar_raw_boundary_w_T_rho_equal_minus_one():
    # c = -1 is accepted (the map is still a bijection) but J is singular where w^T u + b = 0:
    # the log-determinant there is -inf, refused with a ValueError, never returned as NaN
    t = Planar([1.0, 0.0], [-1.0, 0.0], [0.0], reparameterize=False)
    x, ld = t.forward(np.array([[0.5, 1.0], [-2.0, 0.0]]))
    assert np.all(np.isfinite(ld))
    with pytest.raises(ValueError, match="not finite"):
        t.forward(np.array([[0.0, 1.0]]))
