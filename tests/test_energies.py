"""Rezende and Mohamed (2015) energies: values, gradients by finite differences, log Z."""

import math

import numpy as np
import pytest

from nfref.energies import (CONFINEMENT_SCALE, ENERGIES, grad_u1, grad_u2, grad_u3, grad_u4,
                            log_normalizer, u1, u2, u3, u4)
from nfref.gradcheck import check_gradient

PAIRS = [(u1, grad_u1), (u2, grad_u2), (u3, grad_u3), (u4, grad_u4)]


def _points(rng, n=40):
    z = rng.uniform(-4, 4, (n, 2))
    return z[np.hypot(z[:, 0], z[:, 1]) > 0.1]          # away from U1's cone point


@pytest.mark.parametrize("energy,grad", PAIRS, ids=["U1", "U2", "U3", "U4"])
def test_gradient_matches_finite_differences(energy, grad, rng):
    z = _points(rng)
    res = check_gradient(lambda v: float(np.sum(energy(v))), grad(z), z, bound=1e-6)
    assert res.passed, res


@pytest.mark.parametrize("name", list(ENERGIES))
def test_target_gradient_matches_finite_differences(name, rng):
    e = ENERGIES[name]
    z = _points(rng)
    res = check_gradient(lambda v: float(np.sum(e.log_target(v))), e.grad_log_target(z), z,
                         bound=1e-6)
    assert res.passed, res


def test_values_by_hand():
    # U1 at (2, 0): ring term 0, mixture -log(1 + exp(-(4/0.6)^2/2)).
    expected = -math.log1p(math.exp(-0.5 * (4 / 0.6) ** 2))
    assert u1(np.array([[2.0, 0.0]]))[0] == pytest.approx(expected, abs=1e-15)
    # U2 at (1, 0): w1 = sin(pi/2) = 1, so U2 = (1/0.4)^2/2 = 3.125.
    assert u2(np.array([[1.0, 0.0]]))[0] == pytest.approx(3.125, rel=1e-14)
    # U3 at (1, 1): w1 = 1, w2 = 3; bumps at z2 = 1 and -2: -log(1 + exp(-(3/0.35)^2/2)).
    assert u3(np.array([[1.0, 1.0]]))[0] == pytest.approx(
        -math.log1p(math.exp(-0.5 * (3 / 0.35) ** 2)), abs=1e-15)
    # U4 at (1, -0.5): w1 = 1, w3 = 1.5; bumps at 1 (width 0.4) and -0.5 (width 0.35).
    expected = -math.log(math.exp(-0.5 * (1.5 / 0.4) ** 2) + 1.0)
    assert u4(np.array([[1.0, -0.5]]))[0] == pytest.approx(expected, rel=1e-14)


def test_confinement_is_the_stated_gaussian_factor(rng):
    z = _points(rng)
    assert np.array_equal(ENERGIES["U1"].log_target(z), -u1(z))
    for name, energy in (("U2", u2), ("U3", u3), ("U4", u4)):
        np.testing.assert_allclose(ENERGIES[name].log_target(z),
                                   -energy(z) - z[:, 0] ** 2 / (2 * CONFINEMENT_SCALE ** 2),
                                   rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", list(ENERGIES))
def test_log_z_converged_under_refinement(name):
    value, change = ENERGIES[name].log_z(refine=True)
    assert change < 1e-10
    assert np.isfinite(value)


@pytest.mark.parametrize("name,widths", [("U2", (0.4,)), ("U3", (0.35, 0.35)),
                                         ("U4", (0.4, 0.35))])
def test_log_z_matches_closed_form(name, widths):
    # Z = sqrt(2 pi) s * sum(widths) * sqrt(2 pi), computed here from the widths of U.
    exact = math.log(2 * math.pi * CONFINEMENT_SCALE * sum(widths))
    assert ENERGIES[name].log_z() == pytest.approx(exact, abs=1e-10)


def test_log_z_box_holds_the_mass():
    # A larger box changes nothing: the mass outside the stated box is negligible.
    for e in ENERGIES.values():
        (a, b), (c, d) = e.box
        wider = ((a - 2, b + 2), (c - 2, d + 2))
        assert log_normalizer(e.log_target, wider, 1001) == pytest.approx(e.log_z(), abs=1e-10)


def test_bad_input_refused():
    with pytest.raises(ValueError, match="z"):
        u2(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n"):
        log_normalizer(lambda z: -u1(z), ((-1, 1), (-1, 1)), n=2)
