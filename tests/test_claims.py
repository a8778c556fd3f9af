"""Every claim of the derivation report, with its bound (the same code ``python -m nfref`` runs)."""

import pytest

from nfref.report.claims import ALPHA, all_claims

CLAIMS = all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c.module}:{c.name[:60]}" for c in CLAIMS])
def test_claim(claim):
    result = claim.run()
    assert result.error is None, result.error
    cmp = ">=" if claim.at_least else "<="
    assert result.passed, (f"{claim.name} ({claim.where}): measured {result.value:.3e}, "
                           f"expected {cmp} {claim.bound:.1e}. {result.detail}")
    # a bound far above what it measures catches nothing near it: at most about 100 times the
    # measurement, or a stated reason (a significance level, a training-dependent score, ...)
    if not claim.at_least and result.value > 0 and claim.bound > 150 * result.value:
        assert any(w in claim.why for w in ("depends on training", "leaves room")), \
            (f"bound {claim.bound:.0e} is {claim.bound / result.value:.0f}x the measured "
             f"{result.value:.1e}")


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c.module}:{c.name[:60]}" for c in CLAIMS])
def test_claim_states_why_its_bound(claim):
    assert claim.why.strip(), f"{claim.name}: no reason given for the bound {claim.bound:.1e}"


def test_statistical_claims_share_one_level():
    """Claims that pass when a p-value is large enough use ALPHA (false-failure rate 1e-3)."""
    tests = [c for c in CLAIMS if c.why.startswith("significance level")]
    assert len(tests) >= 10
    for c in tests:
        assert c.at_least and c.bound == ALPHA, c.name


def test_no_reference_outside_the_repository():
    for c in CLAIMS:
        text = f"{c.name} {c.where} {c.why}"
        assert "DESIGN" not in text and "shared/" not in text, c.name
