"""The checker itself: it measures small errors as small and catches wrong derivatives."""

import numpy as np
import pytest

from nfref.gradcheck import (check_gradient, check_jacobian, check_logdet, check_roundtrip,
                             check_vjp, integrate_density, numerical_gradient, relative_error)
from nfref.one_layer.linear import ElementwiseAffine


class WrongVJP(ElementwiseAffine):
    """An affine flow whose forward VJP for log_scale is off by a relative 2e-3."""

    def _forward_and_vjp(self, u):
        x, ld, back = super()._forward_and_vjp(u)

        def wrong(gx, gl):
            gu, gp = back(gx, gl)
            return gu, {**gp, "log_scale": gp["log_scale"] * (1 + 2e-3)}
        return x, ld, wrong


class WrongInputVJP(ElementwiseAffine):
    """An affine flow whose inverse pullback's input gradient is off by a relative 2e-3."""

    def _inverse_and_vjp(self, x):
        u, ld, back = super()._inverse_and_vjp(x)

        def wrong(gu, gl):
            gx, gp = back(gu, gl)
            return gx * (1 + 2e-3), gp
        return u, ld, wrong


class WrongLogdet(ElementwiseAffine):
    """Forgets a constant in the log-determinant (1e-6: small, but far above 1e-10)."""

    def _forward_and_vjp(self, u):
        x, ld, back = super()._forward_and_vjp(u)
        return x, ld + 1e-6, back


class WrongInverse(ElementwiseAffine):
    def _inverse(self, x):
        u, ld = super()._inverse(x)
        return u + 1e-7, ld


def _setup(cls, rng, d=3):
    t = cls(rng.normal(size=d), 0.5 * rng.normal(size=d))
    return t, rng.standard_normal((6, d))


def test_correct_transform_passes_with_small_errors(rng):
    t, u = _setup(ElementwiseAffine, rng)
    for res in (check_vjp(t, u, "forward"), check_vjp(t, u, "inverse"), check_logdet(t, u),
                check_roundtrip(t, u)):
        assert res.passed, str(res)
        assert res.error < 1e-9


def test_wrong_parameter_gradient_is_caught(rng):
    t, u = _setup(WrongVJP, rng)
    res = check_vjp(t, u, "forward")
    assert not res.passed
    assert res.details["param log_scale"] > 1e-3
    assert "analytic" in str(res) and "numeric" in str(res)   # both sides reported


def test_wrong_input_gradient_is_caught(rng):
    t, u = _setup(WrongInputVJP, rng)
    res = check_vjp(t, u, "inverse")
    assert not res.passed and res.details["input"] > 1e-3


def test_wrong_logdet_is_caught(rng):
    t, u = _setup(WrongLogdet, rng)
    res = check_logdet(t, u)
    assert not res.passed
    assert res.details["forward vs slogdet"] == pytest.approx(1e-6, rel=1e-6)


def test_wrong_inverse_is_caught(rng):
    t, u = _setup(WrongInverse, rng)
    res = check_roundtrip(t, u)
    assert not res.passed and res.error == pytest.approx(1e-7, rel=1e-6)


def test_wrong_jacobian_is_caught(rng):
    t, u = _setup(ElementwiseAffine, rng)
    jac = t.jacobian(u)
    jac[:, 0, 1] += 1e-3
    res = check_jacobian(lambda v: t.forward(v)[0], jac, u)
    assert not res.passed and res.error > 1e-4


def test_gradient_check_on_a_known_function(rng):
    A = rng.normal(size=(4, 4))
    x = rng.normal(size=4)
    fun = lambda v: float(np.sin(v) @ A @ np.sin(v))           # noqa: E731
    grad = np.cos(x) * ((A + A.T) @ np.sin(x))
    assert check_gradient(fun, grad, x).error < 1e-10
    assert check_gradient(fun, grad, x, mode="directions").error < 1e-10
    assert not check_gradient(fun, grad * 1.002, x, mode="directions").passed
    np.testing.assert_allclose(numerical_gradient(fun, x), grad, rtol=1e-9)


def test_gradient_check_with_dict_reports_each_key(rng):
    p = {"a": rng.normal(size=3), "b": rng.normal(size=(2, 2))}
    fun = lambda q: float(np.sum(q["a"] ** 3) + np.sum(np.exp(q["b"])))   # noqa: E731
    grad = {"a": 3 * p["a"] ** 2, "b": np.exp(p["b"])}
    res = check_gradient(fun, grad, p)
    assert set(res.details) == {"a", "b"} and res.passed
    grad["b"] = grad["b"] * 1.01
    res = check_gradient(fun, grad, p)
    assert res.details["a"] < 1e-10 and res.details["b"] > 1e-3


def test_relative_error_definition():
    assert relative_error([1.0, 0.0], [1.0, 1e-3]) == pytest.approx(1e-3)
    assert relative_error([0.0], [1e-12]) == pytest.approx(1e-6)      # the floor
    assert relative_error([[1.0], [100.0]], [[1.01], [100.0]], axis=0) == pytest.approx(
        0.01 / 1.01)


def test_param_gradient_check_restores_the_parameters(rng):
    from nfref.distributions import DiagonalNormal, Flow
    from nfref.gradcheck import check_param_gradient
    flow = Flow(DiagonalNormal(rng.normal(size=2), rng.normal(size=2)), ElementwiseAffine.random(2, rng))
    x = rng.standard_normal((10, 2))
    before = {k: v.copy() for k, v in flow.params.items()}
    _, grads = flow.nll_and_grad(x)
    res = check_param_gradient(lambda: flow.nll_and_grad(x)[0], flow.params, grads)
    assert res.passed and res.error < 1e-9, str(res)
    for k, v in flow.params.items():
        np.testing.assert_array_equal(v, before[k])
    grads["transform.shift"] = grads["transform.shift"] * 1.01
    assert not check_param_gradient(lambda: flow.nll_and_grad(x)[0], flow.params, grads).passed


@pytest.mark.parametrize("kwargs, word", [
    (dict(mode="bogus"), "mode"), (dict(mode=None), "mode"), (dict(h=np.nan), "h"),
    (dict(h=0.0), "h"), (dict(h=-1e-4), "h"), (dict(h="1e-4"), "h"),
    (dict(bound=np.nan), "bound"), (dict(n_directions=2.5), "n_directions"),
    (dict(n_directions=0), "n_directions"),
])
def test_check_gradient_refuses_bad_options(kwargs, word):
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=word):
        check_gradient(lambda v: float(v @ v), 2 * x, x, **kwargs)


def test_check_gradient_names_a_missing_or_misshapen_gradient():
    x = {"a": np.ones(2), "b": np.ones(3)}
    with pytest.raises(ValueError, match=r"missing the key\(s\) \['b'\]"):
        check_gradient(lambda p: float(p["a"].sum() + p["b"].sum()), {"a": np.ones(2)}, x)
    with pytest.raises(ValueError, match="complex"):
        check_gradient(lambda v: float(v.sum()), np.ones(2), np.ones(2) + 1j)


@pytest.mark.parametrize("lo, hi", [(1.0, -1.0), (0.0, 0.0), ([0.0, 1.0], [1.0, 0.5]),
                                    (-np.inf, 1.0), ([0.0], [1.0, 2.0]), (1j, 2.0)])
def test_integrate_density_refuses_an_empty_or_reversed_box(lo, hi):
    with pytest.raises(ValueError, match="lo|hi"):
        integrate_density(lambda x: np.zeros(len(x)), lo, hi, n_grid=11)


def test_integrate_density_checks_its_grid_and_the_log_density():
    with pytest.raises(ValueError, match="n_grid"):
        integrate_density(lambda x: np.zeros(len(x)), 0.0, 1.0, n_grid=2.5)
    with pytest.raises(ValueError, match="NaN"):
        integrate_density(lambda x: np.full(len(x), np.nan), 0.0, 1.0, n_grid=11)
    assert integrate_density(lambda x: np.zeros(len(x)), -1.0, 1.0, n_grid=11) == \
        pytest.approx(2.0, rel=1e-15)
