"""Every claim of the derivation report, with its bound (the same code ``python -m nfref`` runs)."""

import pytest

from nfref.report.claims import all_claims

CLAIMS = all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[f"{c.module}:{c.name[:60]}" for c in CLAIMS])
def test_claim(claim):
    result = claim.run()
    assert result.error is None, result.error
    cmp = ">=" if claim.at_least else "<="
    assert result.passed, (f"{claim.name} ({claim.where}): measured {result.value:.3e}, "
                           f"expected {cmp} {claim.bound:.1e}. {result.detail}")
