"""The transformer slot: the base class's implicit inverse pullback on a transformer written
with only ``_forward_and_vjp`` and ``_solve``, that transformer plugged into MAF, IAF and
coupling, and the bounded affine scale. The contract over every shipped transformer is in
``tests/test_transformers.py``."""

import numpy as np
import pytest

from nfref.autoregressive.maf import IAF, MAF
from nfref.autoregressive.coupling import Coupling
from nfref.gradcheck import check_gradient, check_logdet, check_roundtrip, check_vjp
from nfref.autoregressive.transformers import BoundedAffine, Transformer


class TanhBump(Transformer):
    r"""Test transformer :math:`\zeta(t) = a + e^{b}(t + \sigma(c)\tanh t)` (increasing),
    with a bisection-plus-Newton ``_solve`` and no inverse pass of its own, so the base
    class's implicit-function rule is exercised."""

    n_params = 3

    def _forward_and_vjp(self, t, xi):
        a, b, c = xi[..., 0], xi[..., 1], xi[..., 2]
        s = 1.0 / (1.0 + np.exp(-c))
        th = np.tanh(t)
        sech2 = 1.0 - th ** 2
        eb, q = np.exp(b), 1.0 + s * sech2

        def back(gy, gld):
            gt = gy * eb * q + gld * s * (-2.0 * sech2 * th) / q
            gb = gy * eb * (t + s * th) + gld
            gc = (gy * eb * th + gld * sech2 / q) * s * (1.0 - s)
            return gt, np.stack([gy, gb, gc], axis=-1)
        return a + eb * (t + s * th), b + np.log1p(s * sech2), back

    def _solve(self, y, xi):
        a, b = xi[..., 0], xi[..., 1]
        t0 = (y - a) * np.exp(-b)
        lo, hi = t0 - 1.0, t0 + 1.0                      # |sigma tanh| < 1 brackets the root
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            above = self._forward(mid, xi)[0] > y
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        t = 0.5 * (lo + hi)
        for _ in range(2):                               # polish
            yt, ld = self._forward(t, xi)
            t = t - (yt - y) * np.exp(-ld)
        return t


def _scalar(tr, direction, gy, gld):
    f = tr.forward if direction == "forward" else tr.inverse

    def fun(args):
        out, ld = f(args["t"], args["xi"])
        return float((gy * out).sum() + (gld * ld).sum())
    return fun


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_implicit_rule_pullbacks_against_finite_differences(direction, rng):
    tr = TanhBump()
    assert tr.numerical_inverse
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


def test_round_trip_increasing_and_logderiv_at_the_root(rng):
    tr = TanhBump()
    t = np.sort(rng.standard_normal((1, 50)) * 3, axis=1)
    xi = np.broadcast_to(rng.standard_normal(tr.n_params), (1, 50, tr.n_params))
    y, ld = tr.forward(t, xi)
    assert np.all(np.diff(y) > 0)
    t2, ld2 = tr.inverse(y, xi)
    assert np.max(np.abs(t2 - t)) <= 1e-12
    assert np.max(np.abs(ld2 - ld)) <= 1e-12


def test_bounded_affine_bounds_the_log_scale(rng):
    tr = BoundedAffine(scale_bound=2.0)
    xi = np.zeros((1, 3, 2))
    xi[0, :, 1] = [-100.0, 0.0, 100.0]
    _, ld = tr.forward(np.zeros((1, 3)), xi)
    assert np.all(np.abs(ld) <= 2.0) and abs(ld[0, 1]) == 0.0
    with pytest.raises(ValueError, match="scale_bound"):
        BoundedAffine(0.0)


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


# ---------------------------------------------------------------------- argument checks
_BAD_INTS = [None, 2.5, np.nan, np.inf, "3", [2], True, 0]
_BAD_REALS = [None, np.nan, np.inf, "3", [2.0], 1j, -1.0]


@pytest.mark.parametrize("bad", _BAD_INTS)
def test_transformer_counts_are_refused_unless_positive_integers(bad):
    from nfref.autoregressive.transformers import RationalQuadraticSpline, SumOfSquares, UMNN
    for make, name in ((lambda v: RationalQuadraticSpline(v), "n_bins"),
                       (lambda v: SumOfSquares(n_squares=v), "n_squares"),
                       (lambda v: UMNN(v), "n_hidden"), (lambda v: UMNN(2, v), "n_intervals")):
        with pytest.raises(ValueError, match=f"{name}: expected an integer"):
            make(bad)


@pytest.mark.parametrize("bad", _BAD_REALS)
def test_transformer_real_settings_are_refused_unless_finite_and_in_range(bad):
    from nfref.autoregressive.transformers import RationalQuadraticSpline, SumOfSquares
    for make, name in ((lambda v: RationalQuadraticSpline(4, v), "bound"),
                       (lambda v: RationalQuadraticSpline(4, 3.0, min_derivative=v),
                        "min_derivative"),
                       (lambda v: SumOfSquares(scale=v), "scale"),
                       (lambda v: SumOfSquares(floor=v), "floor"),
                       (lambda v: BoundedAffine(v), "scale_bound")):
        with pytest.raises(ValueError, match=f"{name}: expected a finite real"):
            make(bad)
    with pytest.raises(ValueError, match="SumOfSquares: degree: expected an integer >= 0"):
        SumOfSquares(degree=-1)
