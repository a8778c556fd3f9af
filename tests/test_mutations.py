"""Mutation tests of the report: every deliberate error of ``nfref.report.mutations`` is
caught by the claims it concerns, and every claim that was rewritten to measure its identity
independently fails under a mutation that breaks what it names."""

import pytest

from nfref.report.claims import all_claims
from nfref.report.mutations import MUTATIONS, claims_named, run_mutation

CLAIMS = all_claims()

#: claim (name prefix) -> the mutations that break what it names: the claims of the report
#: that could not fail as written, and those whose bounds or scope were too wide
BREAKS = {
    "flow ELBO's density": ("plu_logdet_doubled",),
    "sec. 4: log|det J|": ("affine_logderiv_shifted",),
    "sec. 4.1 slip: the last formula needs the log": ("affine_logderiv_shifted",),
    "eq. (10): Jacobian lower triangular": ("made_forbidden_connection", "jacobian_transposed"),
    "morph: log|det J_phi|": ("morph_logdet_shifted",),
    "uniform base: log-likelihood = log|det J_phi^-1(x)| = -sum log s_i": ("uniform_base_density",),
    "uniform base: log-likelihood = -log|det": ("uniform_base_density", "planar_hprime_is_h"),
    "uniform base: the Omega_0 term": ("uniform_base_density", "plu_logdet_doubled"),
    "sampling procedure Y_k": ("chain_reversed",),
    "eq. (6) as printed": ("chain_reversed",),
    "pushed-forward density integrates to 1": ("spline_derivative_wrong_knot",
                                               "planar_hprime_is_h", "affine_logderiv_shifted",
                                               "plu_logdet_doubled"),
    "eq. (8), forward trick": ("plu_logdet_doubled",),
    "Z = Q(U) ~ Z, joint law, Gaussian": ("gaussian_q_offdiagonal_negated",),
    "morph N(0, I) -> mixture": ("gaussian_g_scale",),
    "duality with a non-linear T (planar": ("planar_hprime_is_h",),
    "planar: reparameterized flow invertible": ("planar_inverse_off",),
}

BY_NAME = {m.name: m for m in MUTATIONS}


@pytest.fixture(scope="module")
def results():
    """Each mutation's run (the claims of its home sections and its expected ones)."""
    return {m.name: run_mutation(m, CLAIMS) for m in MUTATIONS}


def test_every_prefix_names_one_claim():
    prefixes = {p for m in MUTATIONS for p in m.expected} | set(BREAKS)
    for p in prefixes:
        n = len(claims_named(p, CLAIMS))
        assert n == 1, f"{p!r} names {n} claims"
    modules = {c.module for c in CLAIMS}
    for m in MUTATIONS:
        assert set(m.home) <= modules, m.name


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_is_caught(mutation, results):
    r = results[mutation.name]
    assert r.caught_at_home(), (f"{mutation.name}: no claim of {mutation.home} fails; failed: "
                                f"{r.failed_names}")
    assert not r.missed(), f"{mutation.name}: expected to fail but did not: {r.missed()}"
    assert not r.broken, (f"{mutation.name}: claims raised instead of measuring (a stale "
                          f"patch?): {[(b.claim.name[:40], b.error) for b in r.broken]}")


@pytest.mark.parametrize("prefix", sorted(BREAKS))
def test_rewritten_claim_fails_under_what_it_names(prefix, results):
    for name in BREAKS[prefix]:
        assert any(n.startswith(prefix) for n in results[name].failed_names), \
            f"{prefix!r} passes under {name}"


def test_mutations_leave_the_library_as_it_was(results):
    """After every mutation the claims of a home section pass again (nothing left patched)."""
    from nfref.report.mutations import claims_named as named
    for prefix in ("eq. (8), forward trick", "sec. 4: log|det J|", "morph: log|det J_phi|",
                   "planar inverse VJP"):
        (c,) = named(prefix, CLAIMS)
        r = c.run()
        assert r.passed, (prefix, r.value, r.error)
