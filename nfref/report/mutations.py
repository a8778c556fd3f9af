r"""Mutation tests of the report: does each claim catch the error it is about?

A *mutation* is a small, deliberate error injected into the library in memory (a context
manager that patches one function or method from the outside and restores it on exit):
a log-determinant doubled or shifted, a Jacobian transposed, a pullback scaled by
:math:`1 + 10^{-6}`, :math:`h'` replaced by :math:`h`, a MADE mask with one forbidden
connection, an inverse off by :math:`10^{-9}`, a spline derivative taken at the wrong knot,
and so on. Each mutation lists its *home* sections of the report (every claim of which runs
under it, in the same process; at least one must fail) and the claims expected to fail
(these run too, wherever they are). ``python -m nfref report --mutations`` prints, for every
mutation, the claims that fail; ``tests/test_mutations.py`` asserts that every expected claim fails, that
at least one claim of a home section fails, and that every claim rewritten to measure its
identity independently fails under a mutation that breaks what it names.

Only those claims run (no mutation has ``s04_fitting`` or ``s07`` as its home: their claims
measure saved or cached fits), so the whole table takes about half a minute of CPU time.
"""

import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Mutation", "MUTATIONS", "run_mutation", "run_mutations", "claims_named"]

SCALE = 1.0 + 1e-6          # the pullback mutation
OFFSET = 1e-9               # the inverse mutation


@contextmanager
def patched(owner, name, new):
    """Set ``owner.name = new`` (an attribute of a class or a module) for the ``with`` block,
    then restore it exactly (deleting it if ``owner`` did not define it itself)."""
    own = name in vars(owner)
    old = vars(owner).get(name)
    setattr(owner, name, new)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, old)
        else:
            delattr(owner, name)


@contextmanager
def _all(*managers):
    from contextlib import ExitStack
    with ExitStack() as stack:
        for m in managers:
            stack.enter_context(m)
        yield


def _map_logdet(cls, forward, inverse):
    """Patch ``cls``'s pass hooks so the forward log-determinant becomes ``forward(ld)`` and
    the inverse one ``inverse(ld)`` (values and pullbacks unchanged)."""
    fwd, inv = cls._forward_and_vjp, cls._inverse_and_vjp

    def f(self, u):
        x, ld, back = fwd(self, u)
        return x, forward(ld), back

    def g(self, x):
        u, ld, back = inv(self, x)
        return u, inverse(ld), back
    managers = [patched(cls, "_forward_and_vjp", f), patched(cls, "_inverse_and_vjp", g)]
    for name, hook, fn in (("_forward", "_forward", forward), ("_inverse", "_inverse", inverse)):
        if name in vars(cls):                          # a value-only shortcut of its own
            orig = vars(cls)[name]
            managers.append(patched(cls, name, lambda self, a, o=orig, fn=fn:
                                    (lambda r: (r[0], fn(r[1])))(o(self, a))))
    return _all(*managers)


# ---------------------------------------------------------------------- the mutations
def plu_logdet_doubled():
    from nfref.one_layer.linear import PLULinear
    return _map_logdet(PLULinear, lambda ld: 2 * ld, lambda ld: 2 * ld)


def affine_logderiv_shifted():
    from nfref.autoregressive.transformers.affine import Affine
    fwd, inv = Affine._forward_and_vjp, Affine._inverse_and_vjp

    def f(self, t, xi):
        y, ld, back = fwd(self, t, xi)
        return y, ld + 0.1, back

    def g(self, y, xi):
        t, ld, back = inv(self, y, xi)
        return t, ld + 0.1, back
    return _all(patched(Affine, "_forward_and_vjp", f), patched(Affine, "_inverse_and_vjp", g))


def jacobian_transposed():
    from nfref.transform import Transform
    orig = Transform.jacobian
    return patched(Transform, "jacobian", lambda self, u: np.swapaxes(orig(self, u), 1, 2))


def planar_vjp_scaled():
    from nfref.one_layer.planar import Planar
    orig = Planar._pass

    def f(self, u):
        x, ld, back, solve = orig(self, u)

        def scaled(gx, gl):
            gu, gp = back(gx, gl)
            return SCALE * gu, {k: SCALE * v for k, v in gp.items()}
        return x, ld, scaled, solve
    return patched(Planar, "_pass", f)


def planar_hprime_is_h():
    import nfref.one_layer.planar as planar
    return patched(planar, "sech2", np.tanh)


def planar_inverse_off():
    from nfref.one_layer.planar import Planar
    orig = Planar._solve_inverse
    return patched(Planar, "_solve_inverse", lambda self, x: orig(self, x) + OFFSET)


def made_forbidden_connection():
    from nfref.autoregressive.made import MADE
    orig = MADE.__init__

    def init(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        if self.dim >= 2:
            # the last hidden unit of the highest degree feeds the shift of the first
            # dimension in the order (degree 1): a path from inputs of degree >= 1
            g = int(np.argmax(self.degrees[-1]))
            first = int(np.argmin(self.input_degrees))
            self.masks[-1][g, first * self.n_outputs] = 1.0
    return patched(MADE, "__init__", init)


def spline_derivative_wrong_knot():
    import nfref.autoregressive.transformers.spline as spline
    orig = spline._bins

    def bins(*args, **kwargs):
        b = orig(*args, **kwargs)               # read the pass's own fields, whatever the call
        # delta_k and delta_(k+1) exchanged in M: the derivative read at the wrong knot
        M = b.d0 * b.u * b.u + 2.0 * b.s * b.q + b.d1 * (1.0 - b.u) ** 2
        with np.errstate(all="ignore"):
            ld = np.where(b.inside, 2.0 * np.log(b.s / b.D) + np.log(M), 0.0)
        return b._replace(logderiv=ld)
    return patched(spline, "_bins", bins)


def uniform_base_density():
    from nfref.distributions import UniformCube
    orig = UniformCube._logpdf
    return patched(UniformCube, "_logpdf", lambda self, x: orig(self, x) + 1e-3)


def morph_logdet_shifted():
    from nfref.inverse_cdf.morph import Morph
    return _map_logdet(Morph, lambda ld: ld + 1e-6, lambda ld: ld - 1e-6)


def gaussian_q_offdiagonal_negated():
    from nfref.inverse_cdf.gaussian import GaussianCDF

    def q_pass(self, w, w_bar):
        L = self.cholesky()
        L = 2 * np.diag(np.diag(L)) - L            # same row norms: the marginals are unchanged
        eps = self._eps_from_cube(w, w_bar)
        return self.params["mean"] + eps @ L.T, self._logp_from_eps(eps, L), (L, eps)
    return patched(GaussianCDF, "_Q_pass", q_pass)


def gaussian_g_scale():
    from nfref.inverse_cdf.gaussian import GaussianCDF
    from scipy.special import ndtr
    orig = GaussianCDF._G_pass

    def g_pass(self, z):
        _, _, logp, pieces = orig(self, z)
        eps = 1.05 * pieces[1]                     # the partial CDF with a 5% wrong scale
        return ndtr(eps), ndtr(-eps), logp, pieces
    return patched(GaussianCDF, "_G_pass", g_pass)


def chain_reversed():
    from nfref.k_layers import Chain

    def forward(self, u):
        y, total = u, 0.0
        for layer in reversed(self.layers):          # eq. (6) as printed
            y, ld = layer._forward(y)
            total = total + ld
        return y, total
    return patched(Chain, "_forward", forward)


@dataclass(frozen=True)
class Mutation:
    """One deliberate error: ``make()`` returns the context manager that injects it."""

    name: str
    what: str
    make: Callable
    home: tuple            # sections (module names) whose claims all run; one must fail
    expected: tuple        # names (or unique prefixes) of the claims expected to fail
    #: exceptions that count as the library refusing the mutated result (a claim that raises
    #: anything else, a TypeError of a stale patch say, has not caught the mutation)
    refusals: tuple = ()


MUTATIONS = [
    Mutation("plu_logdet_doubled", "PLULinear log-determinant doubled (both directions)",
             plu_logdet_doubled, ("s00_change_of_variables", "s06_kl_and_vi"),
             ("pushed-forward density integrates to 1", "eq. (8), forward trick",
              "flow ELBO's density", "eq. (9) with cached Y_k",
              "uniform base: the Omega_0 term")),
    Mutation("affine_logderiv_shifted", "affine transformer log-derivative + 0.1",
             affine_logderiv_shifted, ("s04_autoregressive",),
             ("sec. 4: log|det J|", "sec. 4.1 slip: the last formula needs the log",
              "pushed-forward density integrates to 1")),
    Mutation("jacobian_transposed", "Transform.jacobian returns J^T (the notes' convention)",
             jacobian_transposed, ("s04_autoregressive", "s02_one_layer"),
             ("eq. (10): Jacobian lower triangular", "coupling = two-block case",
              "planar Jacobian entries", "morph: Jacobian J_QZ J_GY")),
    Mutation("planar_vjp_scaled", "Planar forward pullback scaled by 1 + 1e-6",
             planar_vjp_scaled, ("s02_one_layer",),
             ("planar inverse VJP", "gradient of the mean log-likelihood",
              "backprop through K = 16 layers")),
    Mutation("planar_hprime_is_h", "Planar uses h = tanh where h' = 1 - tanh^2 belongs",
             planar_hprime_is_h, ("s02_one_layer",),
             ("planar: matrix determinant lemma", "uniform base: log-likelihood = -log|det",
              "pushed-forward density integrates to 1", "duality with a non-linear T (planar"),
             refusals=(ValueError,)),     # h' -> h makes 1 + h c negative: NaN, refused
    Mutation("planar_inverse_off", "Planar inverse off by 1e-9", planar_inverse_off,
             ("s02_one_layer",),
             ("planar: reparameterized flow invertible", "eq. (9)'s phi_k^-1")),
    Mutation("made_forbidden_connection", "MADE output mask with one forbidden connection",
             made_forbidden_connection, ("s04_autoregressive",),
             ("MADE: finite-difference Jacobian", "MADE: mask product",
              "eq. (10): Jacobian lower triangular", "MAF: density pass")),
    Mutation("spline_derivative_wrong_knot",
             "spline log-derivative with delta_k and delta_(k+1) exchanged",
             spline_derivative_wrong_knot, ("s05_transformers",),
             ("zeta strictly increasing", "pushed-forward density integrates to 1")),
    Mutation("uniform_base_density", "UniformCube log-density 1e-3 on the cube (not 0)",
             uniform_base_density,
             ("s00_change_of_variables",),
             ("uniform base: log-likelihood = log|det J_phi^-1(x)| = -sum log s_i",
              "uniform base: log-likelihood = -log|det", "uniform base: the Omega_0 term")),
    Mutation("morph_logdet_shifted", "Morph log-determinant + 1e-6", morph_logdet_shifted,
             ("s01_inverse_cdf",), ("morph: log|det J_phi|",)),
    Mutation("gaussian_q_offdiagonal_negated",
             "Gaussian Q with the off-diagonal Cholesky entries negated (marginals unchanged)",
             gaussian_q_offdiagonal_negated, ("s01_inverse_cdf",),
             ("Z = Q(U) ~ Z, joint law, Gaussian", "Z = Q(U), Gaussian d=3: sample mean")),
    Mutation("gaussian_g_scale", "Gaussian partial CDF G with a 5% wrong scale",
             gaussian_g_scale, ("s01_inverse_cdf",),
             ("W = G(Z) ~ Uni[0,1]^2, Gaussian", "morph N(0, I) -> mixture")),
    Mutation("chain_reversed", "Chain.forward composes phi_1 o ... o phi_K (eq. (6) as printed)",
             chain_reversed, ("s03_k_layers",),
             ("sampling procedure Y_k", "eq. (6) as printed")),
]


def claims_named(prefix, claims=None):
    """The claims whose name starts with ``prefix``."""
    from nfref.report.claims import all_claims
    return [c for c in (claims or all_claims()) if c.name.startswith(prefix)]


@dataclass(frozen=True)
class MutationResult:
    mutation: Mutation
    results: list          # ClaimResult of every claim run
    seconds: float

    def _counts(self, r):
        """A claim catches the mutation when it measures a failure, or raises one of the
        mutation's ``refusals`` (the library refusing a non-finite result)."""
        if r.passed:
            return False
        return r.error is None or r.error.split(":")[0] in {e.__name__ for e in
                                                             self.mutation.refusals}

    @property
    def failed(self):
        return [r for r in self.results if self._counts(r)]

    @property
    def broken(self):
        """Claims that raised something else: a stale patch, not a catch."""
        return [r for r in self.results if not r.passed and not self._counts(r)]

    @property
    def failed_names(self):
        return [r.claim.name for r in self.failed]

    def missed(self):
        """Expected claims that did not fail."""
        return [p for p in self.mutation.expected
                if not any(n.startswith(p) for n in self.failed_names)]

    def caught_at_home(self):
        return any(r.claim.module in self.mutation.home for r in self.failed)


def run_mutation(mutation, claims=None):
    """Run the claims of ``mutation.home`` and the expected ones with the mutation applied."""
    from nfref.report.claims import all_claims
    claims = [c for c in (claims or all_claims())
              if c.module in mutation.home or c.name.startswith(mutation.expected)]
    start = time.perf_counter()
    # a mutated map may produce NaN that the library then refuses: its warnings are noise here
    with mutation.make(), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        results = [c.run() for c in claims]
    return MutationResult(mutation, results, time.perf_counter() - start)


def run_mutations(select=None, stream=None):
    """Apply each mutation in turn (those whose name contains ``select``) and print the
    claims that fail under it. Returns 0 when every mutation is caught at home and every
    expected claim fails, else 1."""
    stream = stream or sys.stdout
    chosen = [m for m in MUTATIONS if not select or select.lower() in m.name.lower()]
    if not chosen:
        print(f"no mutation name contains {select!r}; expected one of: "
              f"{', '.join(m.name for m in MUTATIONS)}", file=stream)
        return 2
    ok, total = True, time.perf_counter()
    print(f"{'mutation':<32} {'failed':>9} {'seconds':>8}  claims that fail (measured vs bound)",
          file=stream)
    for m in chosen:
        r = run_mutation(m)
        missed = r.missed()
        good = r.caught_at_home() and not missed and not r.broken
        ok &= good
        print(f"{m.name:<32} {len(r.failed):>4}/{len(r.results):<4} {r.seconds:>8.1f}  "
              f"{m.what}{'' if good else '  <-- NOT CAUGHT AS EXPECTED'}", file=stream)
        for f in r.failed:
            cmp = ">=" if f.claim.at_least else "<="
            value = "raised" if f.error else f"{f.value:.2e} {cmp} {f.claim.bound:.0e}"
            print(f"{'':<32}   - {f.claim.module}: {f.claim.name[:90]}  ({value})",
                  file=stream)
        for f in r.broken:
            print(f"{'':<32}   ! raised, not caught: {f.claim.name[:60]} ({f.error[:80]})",
                  file=stream)
        for p in missed:
            print(f"{'':<32}   ! expected to fail, did not: {p}", file=stream)
        stream.flush()
    print(f"{len(chosen)} mutations, {'all caught' if ok else 'SOME NOT CAUGHT'} "
          f"({time.perf_counter() - total:.1f} s)", file=stream)
    return 0 if ok else 1
