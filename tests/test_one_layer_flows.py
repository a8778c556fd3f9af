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


# ---------------------------------------------------------------------- float64 limits
def _radial_inverse_objective(x, z0, a_raw, b_raw, gu, gl):
    """``gu . u + gl * log|det J_inverse|`` at ``x`` in 80-digit decimal arithmetic (the
    closed-form inverse of the module docstring, written independently)."""
    from decimal import Decimal as D

    def softplus(s):
        return (D(1) + (-abs(s)).exp()).ln() + max(s, D(0))
    alpha, gamma = softplus(a_raw), softplus(b_raw)
    y = [xi - zi for xi, zi in zip(x, z0)]
    R = sum(v * v for v in y).sqrt()
    m = R - gamma
    r = (m + (m * m + 4 * alpha * R).sqrt()) / 2
    q = alpha + r
    u = [zi + v * q / (gamma + r) for zi, v in zip(z0, y)]
    P = r * r + 2 * alpha * r + alpha * gamma
    logdet = (len(x) - 1) * ((gamma + r).ln() - q.ln()) + P.ln() - 2 * q.ln()
    return sum(D(g) * ui for g, ui in zip(gu, u)) - D(gl) * logdet


def _radial_reference_vjp(x, z0, a_raw, b_raw, gu, gl):
    """Central differences of the decimal objective, step 1e-30 at 80 digits: the truncation
    error is ~1e-60 and the rounding ~1e-50, a reference far below float64's 1e-16."""
    from decimal import Decimal as D, localcontext
    with localcontext() as ctx:
        ctx.prec = 80
        h = D("1e-30")
        args = [[D(float(v)) for v in x], [D(float(v)) for v in z0], D(a_raw), D(b_raw)]
        grads = []
        for which in range(4):
            entries = range(len(args[which])) if which < 2 else [None]
            g = []
            for c in entries:
                def at(delta):
                    a2 = [list(a) if isinstance(a, list) else a for a in args]
                    if c is None:
                        a2[which] += delta
                    else:
                        a2[which][c] += delta
                    return _radial_inverse_objective(*a2, gu, gl)
                g.append(float((at(h) - at(-h)) / (2 * h)))
            grads.append(np.array(g))
    return grads


@pytest.mark.parametrize("offset", [3e-10, 1e-12, 0.4])
def test_radial_inverse_vjp_near_the_centre_against_a_high_precision_reference(offset):
    z0 = np.array([1.3, -0.7])
    t = Radial(z0, [0.2], [0.5])
    x = z0 + offset * np.array([[1.5, -1.0]])
    gx, gp = t.inverse_vjp(x, np.array([[1.0, -2.0]]), np.array([0.5]))
    ref = _radial_reference_vjp(x[0], z0, 0.2, 0.5, [1.0, -2.0], 0.5)
    scale = max(np.max(np.abs(r)) for r in ref)
    for mine, theirs in zip((gx[0], gp["z0"], gp["alpha_raw"], gp["beta_raw"]), ref):
        # exact to 1e-15 relative to the largest gradient entry: the z0 gradient is
        # -(gu - gx) summed, a difference of numbers the size of gx, so its rounding is
        # eps times those, not times itself (it was 9e-8 off at 3e-10, 1e-5 at 1e-11)
        assert np.max(np.abs(mine - theirs)) <= 1e-15 * scale, (mine, theirs)


def test_radial_with_a_distant_centre_round_trips_to_rounding():
    # u - z0 is about -1e8: the inverse as z0 + (u - z0) lost 1e8 eps = 3e-9
    t = Radial([1e8, 0.0], [0.0], [1.0])
    u = np.array([[0.3, -0.2], [-1.0, 2.0]])
    back = t.inverse(t.forward(u)[0])[0]
    assert np.max(np.abs(back - u)) <= 4 * np.finfo(float).eps * 2.0


def test_radial_refuses_alpha_or_gamma_that_underflow():
    for kwargs, key in (({"alpha_raw": [-800.0], "beta_raw": [0.0]}, "alpha_raw"),
                        ({"alpha_raw": [0.0], "beta_raw": [-760.0]}, "beta_raw")):
        with pytest.raises(ValueError, match=f"'{key}'.*underflow.*float64"):
            Radial([0.0, 0.0], **kwargs)
    t = Radial([0.0, 0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="'alpha_raw'.*underflow"):
        t.set_params({"alpha_raw": [-1000.0]})
    assert t.params["alpha_raw"][0] == 0.0                      # unchanged
    Radial([0.0, 0.0], [-700.0], [0.0]).forward(np.array([[1.0, 0.0]]))   # still normal


@pytest.mark.parametrize("cls", [Planar, Radial])
@pytest.mark.parametrize("bad", [None, 2.5, -1, 0, [2], np.nan, np.inf, "2", True])
def test_random_constructors_refuse_bad_dimensions(cls, bad):
    with pytest.raises(ValueError, match="dim: expected an integer >= 1"):
        cls.random(bad)


@pytest.mark.parametrize("cls", [Planar, Radial])
@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf, [1.0], "1"])
def test_random_constructors_refuse_bad_scales(cls, bad):
    with pytest.raises(ValueError, match="scale"):
        cls.random(2, 0, scale=bad)


def test_planar_and_radial_refuse_complex_parameters_and_bad_flags():
    with pytest.raises(ValueError, match="Planar: w: expected real numbers"):
        Planar([1.0 + 1j, 0.0], [0.0, 0.0], [0.0])
    with pytest.raises(ValueError, match="Radial: z0: expected real numbers"):
        Radial([1j, 0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="reparameterize: expected True or False"):
        Planar([1.0, 0.0], [0.0, 0.0], [0.0], reparameterize="no")
