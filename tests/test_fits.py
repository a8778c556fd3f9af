"""Saved fits (nfref/fits/*.npz): they load, and what they measure is what their metadata says."""

import numpy as np
import pytest

from nfref.energies import ENERGIES
from nfref.report import fits

SAVED = fits.saved_fits()
TOY = [n for n in SAVED if n in fits.TOY_FITS]
VI = [n for n in SAVED if n in fits.VI_FITS]


def test_fits_are_saved():
    # The spline MAF reference fits and the VI fits are committed.
    for data in ("eight_gaussians", "two_moons", "checkerboard", "gmm8"):
        assert f"{data}_spline_maf" in SAVED
    assert len(VI) == len(fits.VI_FITS)


@pytest.mark.parametrize("name", TOY)
def test_toy_fit_heldout_kl_matches_metadata(name):
    # A fresh sample (the "check" draw, independent of the training, validation and test
    # sets): the KL estimate agrees with the saved one within 4 combined standard errors.
    flow, meta = fits.load_fit(name)
    x = fits.toy_data(meta["data"], "check")
    kl, se, _ = fits.heldout_kl(flow, fits.toy_target(meta["data"]), x)
    assert abs(kl - meta["kl"]) <= 4 * np.hypot(se, meta["kl_se"]), (kl, se, meta["kl"])
    # The estimate resolves the gap: standard error under a fifth of it.
    assert meta["kl_se"] < meta["kl"] / 5


@pytest.mark.parametrize("name", VI)
def test_vi_fit_kl_matches_metadata(name):
    flow, meta = fits.load_fit(name)
    energy = ENERGIES[meta["energy"]]
    kl, se = fits.reverse_kl_estimate(flow, energy, n=20_000, random_state=777,
                                      log_z=meta["log_z"])
    assert abs(kl - meta["kl"]) <= 4 * np.hypot(se, meta["kl_se"]), (kl, se, meta["kl"])
    assert meta["log_z"] == pytest.approx(energy.log_z(), abs=1e-10)


@pytest.mark.parametrize("name", TOY[:1] + VI[:1])
def test_metadata_records_how_the_fit_was_made(name):
    _, meta = fits.load_fit(name)
    assert meta["command"].endswith("python -m nfref bench -k fits_toy") or \
        meta["command"].endswith("python -m nfref bench -k fits_vi")
    for key in ("model", "train", "steps", "seconds", "kl", "kl_se", "fit_random_state"):
        assert key in meta
    assert meta["history"].shape[1] == 4 and meta["history"][-1, 0] == meta["steps"]


def test_save_and_load_round_trip(tmp_path):
    spec = dict(kind="maf", dim=2, n_layers=2, transformer="spline", n_bins=4, bound=3.0,
                hidden=(8,))
    flow = fits.build_flow(spec, [0.5, -0.5], [0.1, 0.2], random_state=3)
    for v in flow.params.values():
        v += 0.01 * np.arange(v.size).reshape(v.shape) % 0.07      # away from the start
    fits.save_fit("roundtrip", flow, {"model": spec, "note": "test"}, folder=tmp_path)
    loaded, meta = fits.load_fit("roundtrip", folder=tmp_path)
    x = np.random.default_rng(0).standard_normal((50, 2))
    assert np.array_equal(loaded.logpdf(x), flow.logpdf(x))
    assert meta["note"] == "test"


def test_unknown_fit_refused(tmp_path):
    with pytest.raises(ValueError, match="no saved fit"):
        fits.load_fit("nothing_here", folder=tmp_path)


def test_rbig_rule_keeps_the_best_round_and_stops_after_patience():
    rng = np.random.default_rng(0)
    x = fits.toy_target("two_moons").rvs(3000, rng)
    train, held = x[:2000], x[2000:]
    layers, curve = fits.rbig_until_converged(train, held, max_rounds=12, patience=2,
                                              max_centers=50, random_state=1)
    ks, best = curve["ks"], curve["best"]
    assert best == int(np.argmin(ks)) and len(layers) == 2 * best
    rounds = len(ks) - 1
    assert rounds == 12 or (rounds - best == 2 and np.all(ks[best + 1:] >= ks[best]))
    # The kept layers give the curve's log-likelihood at the best round.
    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain
    flow = Flow(StandardNormal(2), Chain(layers))
    assert np.mean(flow.logpdf(held)) == pytest.approx(curve["loglik"][best - 1], abs=1e-9)


def test_rbig_curve_is_saved():
    with np.load(fits.FITS_DIR / "rbig_two_moons_curve.npz") as z:
        ks = z["ks"]
        meta = __import__("json").loads(str(z["metadata"]))
    assert ks[meta["best_round"]] == ks.min() and ks.min() < ks[0] / 5
