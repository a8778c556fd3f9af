"""The transformer slot: affine transformers, the generic implicit inverse VJP, and a
non-affine transformer with a numerical inverse plugged into MAF, IAF and coupling."""

import numpy as np
import pytest

from nfref.autoregressive.maf import IAF, MAF
from nfref.autoregressive.coupling import Coupling
from nfref.gradcheck import check_gradient, check_logdet, check_roundtrip, check_vjp
from nfref.autoregressive.transformers import Affine, BoundedAffine, Transformer


class TanhBump(Transformer):
    r"""Test transformer :math:`\zeta(t) = a + e^{b}(t + \sigma(c)\tanh t)` (increasing),
    with a bisection-plus-Newton inverse and no ``inverse_vjp`` of its own, so the base
    class's implicit-function rule is exercised."""

    n_params = 3
    numerical_inverse = True

    def _parts(self, t, xi):
        a, b, c = xi[..., 0], xi[..., 1], xi[..., 2]
        s = 1.0 / (1.0 + np.exp(-c))
        th = np.tanh(t)
        sech2 = 1.0 - th ** 2
        return a, b, s, th, sech2

    def forward(self, t, xi):
        self.check_xi(t, xi)
        a, b, s, th, sech2 = self._parts(t, xi)
        return a + np.exp(b) * (t + s * th), b + np.log1p(s * sech2)

    def inverse(self, y, xi):
        self.check_xi(y, xi, "y")
        a, b = xi[..., 0], xi[..., 1]
        t0 = (y - a) * np.exp(-b)
        lo, hi = t0 - 1.0, t0 + 1.0                      # |sigma tanh| < 1 brackets the root
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            above = self.forward(mid, xi)[0] > y
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        t = 0.5 * (lo + hi)
        for _ in range(2):                               # polish
            yt, ld = self.forward(t, xi)
            t = t - (yt - y) * np.exp(-ld)
        return t, self.forward(t, xi)[1]

    def forward_vjp(self, t, xi, gy, gld):
        self.check_xi(t, xi)
        a, b, s, th, sech2 = self._parts(t, xi)
        eb, q = np.exp(b), 1.0 + s * sech2
        gt = gy * eb * q + gld * s * (-2.0 * sech2 * th) / q
        ga = gy
        gb = gy * eb * (t + s * th) + gld
        gc = (gy * eb * th + gld * sech2 / q) * s * (1.0 - s)
        return gt, np.stack([ga, gb, gc], axis=-1)


TRANSFORMERS = [Affine(), BoundedAffine(1.5), TanhBump()]


def _scalar(tr, direction, gy, gld):
    f = tr.forward if direction == "forward" else tr.inverse

    def fun(args):
        out, ld = f(args["t"], args["xi"])
        return float((gy * out).sum() + (gld * ld).sum())
    return fun


@pytest.mark.parametrize("tr", TRANSFORMERS, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_transformer_vjps_against_finite_differences(tr, direction, rng):
    t = rng.standard_normal((6, 3))
    xi = 0.7 * rng.standard_normal((6, 3, tr.n_params))
    if direction == "inverse":
        t = tr.forward(t, xi)[0]
    gy, gld = rng.standard_normal((2, 6, 3))
    vjp = tr.forward_vjp if direction == "forward" else tr.inverse_vjp
    gt, gxi = vjp(t, xi, gy, gld)
    res = check_gradient(_scalar(tr, direction, gy, gld), {"t": gt, "xi": gxi},
                         {"t": t, "xi": xi})
    assert res.passed, str(res)


@pytest.mark.parametrize("tr", TRANSFORMERS[:2], ids=lambda t: type(t).__name__)
def test_closed_form_inverse_vjp_equals_the_generic_rule(tr, rng):
    xi = rng.standard_normal((5, 2, 2))
    y = rng.standard_normal((5, 2))
    gt, gld = rng.standard_normal((2, 5, 2))
    mine = tr.inverse_vjp(y, xi, gt, gld)
    generic = Transformer.inverse_vjp(tr, y, xi, gt, gld)
    for a, b in zip(mine, generic):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("tr", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_round_trip_increasing_and_identity(tr, rng):
    t = np.sort(rng.standard_normal((1, 50)) * 3, axis=1)
    xi = np.broadcast_to(rng.standard_normal(tr.n_params), (1, 50, tr.n_params))
    y, ld = tr.forward(t, xi)
    assert np.all(np.diff(y) > 0)
    t2, ld2 = tr.inverse(y, xi)
    assert np.max(np.abs(t2 - t)) <= 1e-12
    assert np.max(np.abs(ld2 - ld)) <= 1e-12
    ident = tr.identity_xi(t.shape)
    if not isinstance(tr, TanhBump):                   # its zeros are not the identity
        np.testing.assert_allclose(tr.forward(t, ident)[0], t, rtol=0, atol=1e-15)


def test_bounded_affine_bounds_the_log_scale(rng):
    tr = BoundedAffine(scale_bound=2.0)
    xi = np.zeros((1, 3, 2))
    xi[0, :, 1] = [-100.0, 0.0, 100.0]
    _, ld = tr.forward(np.zeros((1, 3)), xi)
    assert np.all(np.abs(ld) <= 2.0) and abs(ld[0, 1]) == 0.0
    with pytest.raises(ValueError, match="scale_bound"):
        BoundedAffine(0.0)


def test_wrong_xi_shape_is_refused():
    with pytest.raises(ValueError, match=r"xi of shape \(4, 2, 2\)"):
        Affine().forward(np.zeros((4, 2)), np.zeros((4, 2, 3)))


@pytest.mark.parametrize("make", [
    lambda d, rng: MAF.random(d, rng, transformer=TanhBump(), hidden_sizes=(6,)),
    lambda d, rng: IAF.random(d, rng, transformer=TanhBump(), hidden_sizes=(6,), order="random"),
    lambda d, rng: Coupling.random(d, rng, transformer=TanhBump(), hidden_sizes=(6,)),
], ids=["maf", "iaf", "coupling"])
@pytest.mark.parametrize("d", [1, 3])
def test_any_transformer_plugs_into_the_flows(make, d, rng):
    t = make(d, rng)
    assert t.numerical_inverse
    u = rng.standard_normal((7, d))
    for res in (check_roundtrip(t, u, bound=1e-10), check_logdet(t, u, bound=1e-10),
                check_vjp(t, u, "forward"), check_vjp(t, u, "inverse")):
        assert res.passed, str(res)
