import numpy as np
import pytest

from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear


def test_singular_linear_map_is_refused():
    with pytest.raises(ValueError, match="condition number"):
        Linear([[1.0, 2.0], [2.0, 4.0]], [0.0, 0.0])
    t = Linear(np.eye(2), [0.0, 0.0])
    t.params["weight"][...] = [[1.0, 1.0], [1.0, 1.0 + 1e-14]]   # made singular in place
    with pytest.raises(ValueError, match="singular or ill-conditioned"):
        t.forward(np.zeros((1, 2)))


def test_plu_matrix_and_logdet(rng):
    t = PLULinear.random(4, rng)
    P, L, U = t.factors()
    assert np.allclose(np.tril(U, -1), 0) and np.allclose(np.diag(L), 1)
    # A built here from the raw parameters: (P v)_i = v_perm[i], unit lower L, upper U
    p = t.params
    L_ref = np.tril(p["lower"], -1) + np.eye(4)
    U_ref = np.triu(p["upper"], 1) + np.diag(np.exp(p["log_diag"]))
    A_ref = (L_ref @ U_ref)[t.perm]
    np.testing.assert_allclose(t.matrix, A_ref, rtol=1e-13, atol=1e-13)
    u = rng.standard_normal((10, 4))
    np.testing.assert_allclose(t.forward(u)[0], u @ A_ref.T + p["bias"], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(t.forward(np.zeros((1, 4)))[1],
                               np.linalg.slogdet(t.matrix)[1], atol=1e-12)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="permutation"):
        PLULinear(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2), np.zeros(2), perm=[0, 0])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        Linear(np.zeros((3, 3)), [0.0, 0.0])


@pytest.mark.parametrize("cls", [ElementwiseAffine, PLULinear, Linear])
def test_inverse_jacobian_is_the_inverse_matrix_and_pullbacks_are_reusable(rng, cls):
    t = cls.random(3, rng)
    u = rng.standard_normal((6, 3))
    x, ld = t.forward(u)
    A = t.jacobian(u[:1])[0]
    inv_jac = t.inverse_jacobian(x)
    assert inv_jac.shape == (6, 3, 3)
    np.testing.assert_allclose(inv_jac @ A, np.broadcast_to(np.eye(3), (6, 3, 3)), atol=1e-13)
    np.testing.assert_allclose(ld, np.linalg.slogdet(A)[1], rtol=1e-13, atol=1e-13)
    # inverse pullback: x-gradient A^{-T} g_u (module docstring), the same on a second call
    gu, gl = rng.standard_normal((6, 3)), rng.standard_normal(6)
    u_back, ld_inv, pullback = t.inverse_and_vjp(x)
    np.testing.assert_allclose(u_back, u, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ld_inv, -ld, rtol=1e-13, atol=1e-13)
    gx, gp = pullback(gu, gl)
    np.testing.assert_allclose(gx, np.linalg.solve(A.T, gu.T).T, rtol=1e-12, atol=1e-12)
    gx2, gp2 = pullback(gu, gl)
    np.testing.assert_array_equal(gx, gx2)
    assert all(np.array_equal(gp[k], gp2[k]) for k in gp)


def test_set_params_checks_everything_before_it_writes():
    from nfref import Planar

    t = ElementwiseAffine([0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="shift.*finite"):
        t.set_params({"log_scale": [1.0, 1.0], "shift": [np.nan, 0.0]})
    np.testing.assert_array_equal(t.params["shift"], [0.0, 0.0])
    np.testing.assert_array_equal(t.params["log_scale"], [0.0, 0.0])
    p = Planar([1.0, 0.0], [0.5, 0.0], [0.0])
    with pytest.raises(ValueError, match="nonzero w"):
        p.set_params({"w": [0.0, 0.0]})                 # valid entries, invalid transform
    np.testing.assert_array_equal(p.params["w"], [1.0, 0.0])


# ---------------------------------------------------------------------- float64 limits
def test_plu_and_elementwise_refuse_log_scales_float64_cannot_represent():
    d = 2
    for bad in (-800.0, -710.0, 710.0):
        with pytest.raises(ValueError, match="'log_diag'.*not representable in float64"):
            PLULinear(np.zeros((d, d)), np.zeros((d, d)), [bad, 0.0], [0.0, 0.0])
        with pytest.raises(ValueError, match="'log_scale'.*not representable in float64"):
            ElementwiseAffine([0.0, 0.0], [0.0, bad])
    t = PLULinear(np.zeros((d, d)), np.zeros((d, d)), [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="log_diag"):
        t.set_params({"log_diag": [-1600.0, 0.0]})
    assert np.all(t.params["log_diag"] == 0.0)
    # just inside: the map is nearly singular but exact, and it round trips
    t = PLULinear(np.zeros((d, d)), np.zeros((d, d)), [-700.0, 0.0], [0.0, 0.0])
    u = np.array([[1.0, -1.0]])
    x, ld = t.forward(u)
    assert ld[0] == -700.0
    np.testing.assert_allclose(t.inverse(x)[0], u, rtol=1e-15)


@pytest.mark.parametrize("cls", [ElementwiseAffine, PLULinear, Linear])
@pytest.mark.parametrize("bad", [None, 2.5, -1, 0, [2], np.nan, np.inf, "2", True])
def test_random_constructors_refuse_bad_dimensions(cls, bad):
    with pytest.raises(ValueError, match="dim: expected an integer >= 1"):
        cls.random(bad)


@pytest.mark.parametrize("cls", [ElementwiseAffine, PLULinear, Linear])
def test_random_constructors_take_integral_floats_and_refuse_bad_scales(cls):
    assert cls.random(3.0, 0).dim == 3 and cls.random(np.int64(2), 0).dim == 2
    for bad in (np.nan, -1.0, np.inf, [0.5], "0.5"):
        with pytest.raises(ValueError, match="scale"):
            cls.random(2, 0, scale=bad)


def test_linear_constructors_refuse_complex_and_bad_permutations():
    with pytest.raises(ValueError, match="shift: expected real numbers"):
        ElementwiseAffine([1.0 + 5j], [0.0])
    with pytest.raises(ValueError, match="weight: expected real numbers"):
        Linear([[1j]], [0.0])
    with pytest.raises(ValueError, match="max_condition"):
        Linear([[1.0]], [0.0], max_condition=np.nan)
    with pytest.raises(ValueError, match="perm"):
        PLULinear(np.zeros((2, 2)), np.zeros((2, 2)), [0.0, 0.0], [0.0, 0.0], perm=[0.5, 1.0])
