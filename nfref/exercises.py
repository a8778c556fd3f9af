r"""Checks for the exercises of notebooks 01-06: call one on your answer, read what passed.

Each ``check_*`` function takes what its exercise asks for (a function, a fitted flow or a
number), compares it with an independent computation (finite differences from
:mod:`nfref.gradcheck`, SciPy's densities, a closed form, or nfref's own maps on the cases of
:mod:`nfref.registry`), prints one line per part with the measured numbers, and returns an
:class:`ExerciseResult` whose ``.ok`` says whether every part passed. Nothing here is needed by
the library; it is the course's grader, so it may import :mod:`nfref.gradcheck` and
:mod:`nfref.registry` (library modules never import this one).

A check never changes its argument's parameters (the fitted flows are only evaluated).

Examples
--------
>>> import numpy as np
>>> from nfref.exercises import check_radial_logdet
>>> def my_logdet(radial, u):                   # wrong on purpose: forgets the rank-one term
...     r = np.linalg.norm(u - radial.params["z0"], axis=1)
...     f = 1 + radial.beta / (radial.alpha + r)
...     return u.shape[1] * np.log(f)
>>> check_radial_logdet(my_logdet, verbose=False).ok
False
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ExerciseResult",
           "check_swapped_order", "check_student_t_cdf", "check_symmetric_sqrt",
           "check_radial_logdet", "check_softplus_planar", "check_uniform_linear_loglik",
           "check_reversed_chain", "check_uniform_base_chain", "check_eq9_gradient",
           "check_maf_gaussian", "check_reverse_kl_fit", "check_transformer_swap",
           "check_softplus_log_g", "check_spline_discriminant", "check_gauss_legendre",
           "check_kl_versus_layers", "check_duality_nonlinear", "check_rbig_rounds",
           "STUDENT_T", "SYMMETRIC_GAUSSIAN"]

#: The 2-D Student-t of exercise 01.2: ``nu`` degrees of freedom, location, dispersion matrix.
STUDENT_T = {"nu": 5.0, "loc": np.array([0.5, -1.0]), "shape": np.array([[2.0, 0.6], [0.6, 1.0]])}
#: The Gaussian of exercise 01.3.
SYMMETRIC_GAUSSIAN = {"mean": np.array([0.5, -1.0]), "cov": np.array([[1.0, 0.8], [0.8, 1.5]])}


@dataclass
class ExerciseResult:
    """The outcome of one exercise check.

    Attributes
    ----------
    name : str
        The exercise.
    parts : list of (str, bool, str)
        One entry per part: what was checked, whether it passed, the numbers.
    notes : list of str
        Measured numbers to think about (not pass/fail), for example an error to compare.
    """

    name: str
    parts: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        """Every part passed (and there was at least one)."""
        return bool(self.parts) and all(p[1] for p in self.parts)

    def __bool__(self):
        return self.ok

    def add(self, what, passed, numbers):
        self.parts.append((what, bool(passed), numbers))

    def __str__(self):
        head = f"{self.name}: {'all parts passed' if self.ok else 'FAILED'}"
        lines = [f"  [{'ok' if p else 'FAILED'}] {w}: {n}" for w, p, n in self.parts]
        return "\n".join([head] + lines + [f"  note: {n}" for n in self.notes])


def _finish(result, verbose):
    if verbose:
        print(result)
    return result


def _call(result, what, fn, *args):
    """Call the student's function; a raised error is a failed part, not a crash."""
    try:
        return np.asarray(fn(*args), dtype=float), True
    except Exception as exc:                                  # the student's code, any error
        result.add(what, False, f"raised {type(exc).__name__}: {exc}")
        return None, False


def _as_map(answer):
    """A callable ``z -> u``: the answer itself, or the ``inverse`` of an inverse-CDF transform
    (whose ``forward`` is :math:`Q`, from the cube to the data)."""
    if hasattr(answer, "inverse"):
        return lambda z: answer.inverse(z)[0]
    if not callable(answer):
        raise TypeError(f"expected a function or a transform, got {type(answer).__name__}")
    return answer


def _jacobians(f, z):
    from nfref.gradcheck import numerical_jacobian
    return numerical_jacobian(f, z)


def _triangular_and_logdet(result, f, z, logpdf, lower=True, bound=1e-7):
    """Parts shared by the inverse-CDF exercises: triangular Jacobian, log|det J| = log p."""
    J = _jacobians(f, z)
    off = np.abs(np.triu(J, 1) if lower else np.tril(J, -1)).max()
    result.add("Jacobian lower triangular (finite differences)", off < 1e-8,
               f"largest entry above the diagonal {off:.1e} (bound 1e-8)")
    logdet = np.linalg.slogdet(J)[1]
    err = np.max(np.abs(logdet - logpdf) / np.maximum(1.0, np.abs(logpdf)))
    result.add("log|det J_G(z)| = log p(z)", err < bound,
               f"largest error {err:.1e} (bound {bound:.0e})")


# ----------------------------------------------------------------------------- notebook 01
def check_swapped_order(G_swapped, verbose=True):
    r"""Exercise 01.1: the partial CDFs of ``example_mixture()`` in the order :math:`(z_2, z_1)`.

    Pass ``G_swapped(z)``, taking points ``z[:, ::-1]`` (second coordinate first) of shape
    ``(n, 2)`` and returning :math:`u \in (0,1)^2`, or the transform itself. Checked: values in
    the open cube; a lower-triangular Jacobian in the swapped order; :math:`\log|\det J| =
    \log p_Z(z)` with the mixture's density (SciPy), the same for both orders; and that the
    map differs from the original order's (both are valid, neither is "the" map).
    """
    from scipy import stats

    from nfref.inverse_cdf.examples import example_mixture, sample_direct

    result = ExerciseResult("exercise 01.1 (variable order)")
    law = example_mixture()
    z = sample_direct(law, 40, random_state=1)
    zs = np.ascontiguousarray(z[:, ::-1])
    G = _as_map(G_swapped)
    u, fine = _call(result, "G_swapped(z[:, ::-1])", G, zs)
    if fine:
        inside = np.all((u > 0) & (u < 1))
        result.add("values in the open unit square", inside,
                   f"range [{u.min():.3g}, {u.max():.3g}]")
        weights = [0.45, 0.35, 0.20]
        means = [[-2.0, -1.0], [2.0, 1.0], [0.5, 2.5]]
        covs = [[[1.0, 0.6], [0.6, 1.0]], [[0.6, -0.3], [-0.3, 0.8]], [[0.4, 0.0], [0.0, 0.2]]]
        logp = np.log(sum(wk * stats.multivariate_normal(mk, ck).pdf(z)
                          for wk, mk, ck in zip(weights, means, covs)))
        _triangular_and_logdet(result, G, zs, logp)
        u0 = law.inverse(z)[0]
        gap = np.abs(u - u0).max()
        result.add("a different map from the original order", gap > 1e-3,
                   f"largest |G_swapped - G| {gap:.3f} (must exceed 1e-3)")
    return _finish(result, verbose)


def check_student_t_cdf(G, verbose=True):
    r"""Exercise 01.2: the partial CDFs of the 2-D Student-t :data:`STUDENT_T`.

    Pass ``G(z)`` (shape ``(n, 2)`` to ``(n, 2)``) or your ``ConditionalCDF``. Checked against
    ``scipy.stats.multivariate_t``: lower-triangular Jacobian, :math:`\log|\det J_G| =
    \log p(z)`, and the uniformity test of notebook 01 sec. 5 (Kolmogorov-Smirnov per
    coordinate, p-value above 1e-3, on 20000 draws; correlation of the two coordinates below
    0.03).
    """
    from scipy import stats

    result = ExerciseResult("exercise 01.2 (Student-t partial CDFs)")
    law = stats.multivariate_t(STUDENT_T["loc"], STUDENT_T["shape"], df=STUDENT_T["nu"])
    f = _as_map(G)
    z = law.rvs(20000, random_state=np.random.default_rng(2))
    u, fine = _call(result, "G(z)", f, z)
    if fine:
        _triangular_and_logdet(result, f, z[:30], law.logpdf(z[:30]))
        p = [stats.kstest(u[:, j], "uniform").pvalue for j in range(2)]
        result.add("KS uniformity of each coordinate", min(p) > 1e-3,
                   f"p-values {p[0]:.3f}, {p[1]:.3f} (must exceed 1e-3)")
        r = abs(np.corrcoef(u.T)[0, 1])
        result.add("coordinates uncorrelated", r < 0.03, f"|corr| {r:.4f} (bound 0.03)")
    return _finish(result, verbose)


def check_symmetric_sqrt(Q, verbose=True):
    r"""Exercise 01.3: :math:`Q(u) = \mu + \Sigma^{1/2}\Phi^{-1}(u)` for :data:`SYMMETRIC_GAUSSIAN`.

    Pass ``Q(u)`` (shape ``(n, 2)`` to ``(n, 2)``). Checked: the push-forward of the uniform
    density is :math:`N(\mu, \Sigma)`, i.e. :math:`\log N(Q(u); \mu, \Sigma) + \log|\det J_Q(u)|
    = 0` (finite-difference Jacobian); the sample mean and covariance of 20000 draws; and that
    :math:`J_Q` is *not* triangular (the property of section 1 that is lost: one coordinate at a
    time, the autoregressive structure).
    """
    from scipy import stats

    result = ExerciseResult("exercise 01.3 (symmetric square root)")
    mean, cov = SYMMETRIC_GAUSSIAN["mean"], SYMMETRIC_GAUSSIAN["cov"]
    u = np.random.default_rng(3).uniform(0.02, 0.98, size=(20000, 2))
    x, fine = _call(result, "Q(u)", Q, u)
    if fine:
        J = _jacobians(Q, u[:30])
        total = stats.multivariate_normal(mean, cov).logpdf(x[:30]) + np.linalg.slogdet(J)[1]
        err = np.abs(total).max()
        result.add("log N(Q(u)) + log|det J_Q(u)| = 0", err < 1e-7,
                   f"largest {err:.1e} (bound 1e-7)")
        x = Q(np.random.default_rng(4).uniform(size=(20000, 2)))
        em = np.abs(x.mean(0) - mean).max()
        ec = np.abs(np.cov(x.T) - cov).max()
        result.add("sample mean and covariance", em < 0.05 and ec < 0.08,
                   f"largest errors {em:.3f} (bound 0.05), {ec:.3f} (bound 0.08)")
        upper = np.abs(J[:, 0, 1]).max()
        result.add("J_Q not triangular", upper > 1e-3, f"largest upper entry {upper:.3f}")
    return _finish(result, verbose)


# ----------------------------------------------------------------------------- notebook 02
def check_radial_logdet(logdet, verbose=True):
    r"""Exercise 02.1: :math:`\log|\det J|` of the radial flow by the matrix determinant lemma.

    Pass ``logdet(radial, u)`` returning shape ``(n,)`` for a
    :class:`~nfref.one_layer.Radial` layer (``radial.params["z0"]``, ``radial.alpha``,
    ``radial.beta``) and points ``u``. Compared with ``slogdet`` of the finite-difference
    Jacobian on the registry's radial cases in d = 1, 2, 5 (relative 1e-8), and at the centre
    :math:`u = z_0`, where :math:`r` is not differentiable, against ``Radial.jacobian``.
    """
    from nfref.registry import example

    result = ExerciseResult("exercise 02.1 (radial log-determinant)")
    for d in (1, 2, 5):
        radial, u = example("radial", d, seed=5, n=8)
        mine, fine = _call(result, f"logdet(radial, u), d = {d}", logdet, radial, u)
        if not fine:
            continue
        ref = np.linalg.slogdet(_jacobians(lambda v: radial.forward(v)[0], u))[1]
        err = np.max(np.abs(mine - ref) / np.maximum(1.0, np.abs(ref))) if mine.shape == ref.shape \
            else np.inf
        result.add(f"d = {d}, against slogdet of the numerical Jacobian", err < 1e-8,
                   f"largest error {err:.1e} (bound 1e-8)")
        # at the centre r = 0 is not differentiable: compare with the explicit Jacobian there
        centre = radial.params["z0"][None]
        mine, fine = _call(result, f"logdet(radial, z0), d = {d}", logdet, radial, centre)
        if fine:
            ref = np.linalg.slogdet(radial.jacobian(centre))[1]
            err = np.max(np.abs(mine - ref)) if mine.shape == ref.shape else np.inf
            result.add(f"d = {d}, at the centre against Radial.jacobian", err < 1e-12,
                       f"error {err:.1e} (bound 1e-12)")
    return _finish(result, verbose)


def check_softplus_planar(condition, verbose=True):
    r"""Exercise 02.2: when is :math:`x = u + \rho\,\mathrm{softplus}(w^\top u + b)` invertible?

    Pass ``condition(w, rho) -> bool``: True exactly when the map is a bijection of
    :math:`\mathbb{R}^d` for every ``b``. Along :math:`w` the map is the scalar
    :math:`g(s) = s + c\,\mathrm{softplus}(s)`, :math:`c = w^\top\rho` (here :math:`\|w\| = 2`, and
    :math:`c` exact in float64); the reference decides by evaluating
    :math:`g'(s) = 1 + c\,\sigma(s)` on
    :math:`s \in [-50, 50]` (where :math:`\sigma(50) = 1` in float64): a bijection needs
    :math:`g' > 0` everywhere *and* in the limits. Cases include :math:`c = -1` exactly (one
    to one but not onto: the image of :math:`g` is :math:`(-\infty, 0)`) and :math:`-1\pm10^{-3}`.
    """
    from nfref.numerics import sigmoid

    result = ExerciseResult("exercise 02.2 (softplus planar condition)")
    s = np.linspace(-50.0, 50.0, 20001)
    cs = [-3.0, -1.5, -1.001, -1.0, -0.999, -0.5, 0.0, 0.7, 2.0]
    rng = np.random.default_rng(6)
    wrong = []
    for c in cs:
        j, k = rng.permutation(3)[:2]
        w = 2.0 * np.eye(3)[j]
        rho = 0.5 * c * np.eye(3)[j] + rng.normal() * np.eye(3)[k]     # w @ rho == c exactly
        truth = bool(np.all(1.0 + (w @ rho) * sigmoid(s) > 0))
        try:
            said = bool(condition(w, rho))
        except Exception as exc:                          # the student's code, any error
            result.add(f"condition at w.rho = {c}", False, f"raised {type(exc).__name__}: {exc}")
            continue
        if said != truth:
            wrong.append(f"w.rho = {c}: said {said}, truth {truth}")
    result.add(f"agrees with the reference on {len(cs)} cases", not wrong,
               "; ".join(wrong) if wrong else "all agree")
    return _finish(result, verbose)


def check_uniform_linear_loglik(loglik, verbose=True):
    r"""Exercise 02.3: the log-likelihood of a linear flow :math:`x = Au + b` with a uniform base.

    Pass ``loglik(A, b, x)`` returning the per-point log-likelihood, shape ``(n,)``:
    :math:`-\log|\det A|` on the image of the cube and :math:`-\infty` off it (never NaN).
    Compared with eq. (7) (:func:`nfref.one_layer.log_likelihood_eq7`) on points inside,
    outside and on the boundary of the image.
    """
    from nfref.distributions import UniformCube
    from nfref.one_layer import log_likelihood_eq7
    from nfref.one_layer.linear import Linear

    result = ExerciseResult("exercise 02.3 (uniform-base linear flow)")
    rng = np.random.default_rng(7)
    A = np.array([[2.0, 0.5], [-0.3, 1.5]])
    b = np.array([-1.0, 0.5])
    u = np.vstack([rng.uniform(0.01, 0.99, (20, 2)), rng.uniform(1.05, 2.0, (5, 2)),
                   rng.uniform(-1.0, -0.05, (5, 2))])
    x = u @ A.T + b
    ref = log_likelihood_eq7(UniformCube(2), Linear(A, b), x)
    mine, fine = _call(result, "loglik(A, b, x)", loglik, A, b, x)
    if fine:
        if mine.shape != ref.shape:
            result.add("shape (n,)", False, f"got {mine.shape}, expected {ref.shape}")
        else:
            nan = np.isnan(mine).sum()
            same_inf = np.array_equal(np.isneginf(mine), np.isneginf(ref))
            fin = np.isfinite(ref)
            err = np.abs(mine[fin] - ref[fin]).max() if same_inf else np.inf
            result.add("no NaN", nan == 0, f"{nan} NaN values")
            result.add("-inf exactly off the image", same_inf,
                       f"{np.isneginf(mine).sum()} -inf, expected {np.isneginf(ref).sum()}")
            result.add("value on the image", err < 1e-12, f"largest error {err:.1e} (bound 1e-12)")
    return _finish(result, verbose)


# ----------------------------------------------------------------------------- notebook 03
def check_reversed_chain(flow, x, your_nll, verbose=True):
    r"""Exercise 03.1: the test NLL of a trained chain with its list of layers reversed.

    Pass the trained ``flow`` (a :class:`~nfref.distributions.Flow` over a
    :class:`~nfref.k_layers.Chain`), the test points ``x`` and your number. The check builds
    ``Chain(list(reversed(layers)))`` on the same base itself, compares its mean NLL with yours
    (relative 1e-10), and checks that it is worse than the trained order's: the fit used the
    order of the sampling procedure (``layers[0]`` acts first on ``u``), and the reversed chain
    is another model. A reversed chain whose inverse leaves the base's support has NLL ``inf``.
    """
    from nfref.distributions import Flow
    from nfref.k_layers import Chain

    result = ExerciseResult("exercise 03.1 (reversed chain)")
    chain = flow.transform
    reversed_flow = Flow(flow.base, Chain(list(reversed(list(chain.layers)))))
    nll = -float(np.mean(reversed_flow.logpdf(x)))
    trained = -float(np.mean(flow.logpdf(x)))
    err = abs(float(your_nll) - nll) / max(1.0, abs(nll)) if np.isfinite(nll) else \
        (0.0 if float(your_nll) == nll else np.inf)
    result.add("your number is the reversed chain's NLL", err < 1e-10,
               f"yours {float(your_nll):.6f}, measured {nll:.6f}")
    result.add("worse than the trained order", nll > trained,
               f"reversed {nll:.4f} against trained {trained:.4f} nats")
    return _finish(result, verbose)


def check_uniform_base_chain(flow, x, your_fraction_off, verbose=True):
    r"""Exercise 03.2: a chain on the uniform cube; the fraction of points off its image.

    Pass the ``flow`` (base :class:`~nfref.distributions.UniformCube`), the points ``x`` and
    your fraction of points whose log-likelihood is :math:`-\infty`. Measured with eq. (9)
    (:func:`nfref.k_layers.log_likelihood_eq9`, which reports :math:`-\infty` there); also
    checked: ``flow.logpdf`` agrees with eq. (9) and is never NaN.
    """
    from nfref.k_layers import log_likelihood_eq9

    result = ExerciseResult("exercise 03.2 (uniform base)")
    ll9 = log_likelihood_eq9(flow.base, flow.transform, x)[0]
    ll = flow.logpdf(x)
    off = float(np.mean(np.isneginf(ll9)))
    result.add("your fraction off the image", abs(float(your_fraction_off) - off) < 0.5 / len(x),
               f"yours {float(your_fraction_off):.4f}, eq. (9) {off:.4f}")
    fin = np.isfinite(ll9)
    agree = np.array_equal(np.isneginf(ll), ~fin) and np.allclose(ll[fin], ll9[fin], rtol=1e-10)
    result.add("Flow.logpdf agrees with eq. (9), no NaN", agree and not np.isnan(ll).any(),
               f"{int(np.isnan(ll).sum())} NaN, {int((~fin).sum())} points at -inf")
    return _finish(result, verbose)


def check_eq9_gradient(nll_and_grad, verbose=True):
    r"""Exercise 03.3: the reverse pass of eq. (9) from forward VJPs and the implicit rule.

    Pass ``nll_and_grad(base, chain, x) -> (nll, grads)`` with ``grads`` keyed like
    ``chain.params``. Compared with ``Flow.nll_and_grad`` (relative 1e-8) and with central
    finite differences (:func:`nfref.gradcheck.check_param_gradient`, relative 1e-6) on the
    registry's mixed chain (planar, radial, elementwise affine) in d = 2 and 3.
    """
    from nfref.distributions import Flow
    from nfref.gradcheck import check_param_gradient, relative_error
    result = ExerciseResult("exercise 03.3 (eq. (9) reverse pass)")
    for d in (2, 3):
        flow, x = _mixed_chain_flow(d)
        chain = flow.transform
        try:
            nll, grads = nll_and_grad(flow.base, chain, x)
        except Exception as exc:                          # the student's code, any error
            result.add(f"d = {d}", False, f"raised {type(exc).__name__}: {exc}")
            continue
        ref, rgrads = Flow(flow.base, chain).nll_and_grad(x)
        if set(grads) != set(chain.params):
            result.add(f"d = {d}, keys", False,
                       f"got {sorted(grads)}, expected {sorted(chain.params)}")
            continue
        err = max(relative_error(grads[k], rgrads["transform." + k]) for k in grads)
        result.add(f"d = {d}, NLL", abs(nll - ref) < 1e-10 * max(1, abs(ref)),
                   f"yours {nll:.10f}, Flow.nll_and_grad {ref:.10f}")
        result.add(f"d = {d}, against Flow.nll_and_grad", err < 1e-8, f"largest error {err:.1e}")
        fd = check_param_gradient(lambda: Flow(flow.base, chain).nll_and_grad(x)[0],
                                  chain.params, grads)
        result.add(f"d = {d}, against finite differences", fd.passed,
                   f"error {fd.error:.1e} (bound {fd.bound:.0e})")
    return _finish(result, verbose)


def _mixed_chain_flow(d):
    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain
    from nfref.one_layer import Planar, Radial
    from nfref.one_layer.linear import ElementwiseAffine

    rng = np.random.default_rng(30 + d)
    layers = [ElementwiseAffine(rng.normal(0, 0.3, d), rng.normal(0, 0.3, d)),
              Planar.random(d, random_state=rng), Radial.random(d, random_state=rng),
              Planar.random(d, random_state=rng)]
    return Flow(StandardNormal(d), Chain(layers)), rng.normal(size=(16, d))


# ----------------------------------------------------------------------------- notebook 04
def check_maf_gaussian(flow, x, rtol=0.05, verbose=True):
    r"""Exercise 04.1: one affine MAF layer fitted to a correlated Gaussian.

    An affine autoregressive map :math:`x_\ell = \mu_\ell(x_{<\ell}) + e^{\alpha_\ell} u_\ell`
    of :math:`N(0, I)` is :math:`N(m, LL^\top)` when :math:`e^{\alpha_\ell} = L_{\ell\ell}` and
    :math:`\mu` is linear: :math:`\partial x_\ell/\partial u_\ell` is the Cholesky diagonal
    everywhere. Pass the fitted ``flow`` (natural variable order) and the samples ``x``. Checked:
    the diagonal of ``flow.transform.jacobian(u)`` at the base points of the first 500 samples,
    averaged over them (a network fitted to samples is only constrained where they lie), against
    the Cholesky factor of ``np.cov(x.T)`` (relative ``rtol``; the spread over the points is
    reported), and the mean log-density of ``x`` against the Gaussian MLE's (within 0.05 nats).
    """
    from scipy import stats

    result = ExerciseResult("exercise 04.1 (MAF on a Gaussian)")
    L = np.linalg.cholesky(np.cov(x.T))
    u = flow.transform.inverse(x[:500])[0]
    diag = np.diagonal(flow.transform.jacobian(u), axis1=1, axis2=2)
    err = np.max(np.abs(diag.mean(0) / np.diag(L) - 1))
    spread = np.max(diag.std(0) / np.diag(L))
    result.add("mean e^alpha = diag(L)", err < rtol,
               f"largest relative error {err:.3f} (bound {rtol}); "
               f"diag(L) {np.round(np.diag(L), 3)}, "
               f"mean e^alpha {np.round(diag.mean(0), 3)}, relative spread {spread:.3f}")
    gap = abs(np.mean(flow.logpdf(x)) -
              np.mean(stats.multivariate_normal(x.mean(0), np.cov(x.T)).logpdf(x)))
    result.add("mean log-density of the Gaussian MLE", gap < 0.05,
               f"gap {gap:.4f} nats (bound 0.05)")
    return _finish(result, verbose)


def check_reverse_kl_fit(flow, log_target, bound=0.1, n=20000, verbose=True):
    r"""Exercise 04.2: an IAF fitted by reverse KL to a normalized 2-D target.

    Estimates :math:`KL(q\,\|\,p) = E_q[\log q(x) - \log p(x)]` from ``n`` draws of the flow
    (the IAF samples in one pass; :math:`\log q` of its own samples is the base density minus
    the forward log-determinant, also one pass). Passes when the estimate plus three standard
    errors is below ``bound`` nats. ``log_target`` must be normalized (for example
    ``nfref.datasets.Banana().logpdf``).
    """
    result = ExerciseResult("exercise 04.2 (IAF by reverse KL)")
    u = flow.base.rvs(n, random_state=np.random.default_rng(9))
    xs, logdet = flow.transform.forward(u)
    gap = flow.base.logpdf(u) - logdet - log_target(xs)
    kl, se = float(np.mean(gap)), float(np.std(gap) / np.sqrt(n))
    result.add("reverse KL estimate", kl + 3 * se < bound,
               f"{kl:.4f} +- {se:.4f} nats (bound {bound}, estimate + 3 s.e.)")
    return _finish(result, verbose)


def check_transformer_swap(flow, x, verbose=True):
    r"""Exercise 04.3: ``maf_stack`` with another transformer, refitted.

    Pass the fitted flow and the data. Checked: some layer's transformer is not
    :class:`~nfref.autoregressive.transformers.Affine`; every layer passes
    :func:`nfref.gradcheck.check_vjp` (the contract the stack relies on, which is why no other
    code had to change); and the fitted mean NLL of ``x`` is below the NLL of the best Gaussian.
    """
    from scipy import stats

    from nfref.autoregressive.transformers import Affine
    from nfref.gradcheck import check_vjp

    result = ExerciseResult("exercise 04.3 (another transformer)")
    kinds = {type(getattr(layer, "transformer", None)).__name__ for layer in flow.transform.layers}
    other = any(k not in ("Affine", "NoneType") for k in kinds) and not all(
        isinstance(getattr(layer, "transformer", None), Affine) for layer in flow.transform.layers)
    result.add("a transformer other than Affine", other, f"transformers {sorted(kinds)}")
    worst = max(check_vjp(layer, x[:6]).error for layer in flow.transform.layers)
    result.add("every layer passes check_vjp", worst <= 1e-6,
               f"largest error {worst:.1e} (bound 1e-6)")
    nll = -float(np.mean(flow.logpdf(x)))
    gauss = -float(np.mean(stats.multivariate_normal(x.mean(0), np.cov(x.T)).logpdf(x)))
    result.add("better than the best Gaussian", nll < gauss, f"NLL {nll:.4f}, Gaussian {gauss:.4f}")
    return _finish(result, verbose)


# ----------------------------------------------------------------------------- notebook 05
def check_softplus_log_g(dlogg_dh, verbose=True):
    r"""Exercise 05.1: derivatives of :math:`\log g`, :math:`g = \mathrm{softplus}(h) + \epsilon`.

    The chain rule then gives :math:`\partial_t\log g = (\partial\log g/\partial h)\,\partial_t h`
    and :math:`\partial\log g/\partial\xi = (\partial\log g/\partial h)\,\partial h/\partial\xi`.
    Pass ``dlogg_dh(h, eps)`` (vectorized over ``h``). Compared with central finite differences
    (:func:`nfref.gradcheck.check_gradient`, relative 1e-6) for :math:`h \in [-12, 30]` and
    ``eps`` in (1e-3, 0.1) (further left the derivative, about :math:`e^h/\epsilon`, is below
    the resolution of finite differences of :math:`\log\epsilon`); finite and non-negative for
    :math:`|h|` up to 800.
    """
    from nfref.gradcheck import check_gradient
    from nfref.numerics import softplus

    result = ExerciseResult("exercise 05.1 (softplus integrand)")
    h = np.linspace(-12, 30, 43)        # further left the derivative is below FD resolution
    for eps in (1e-3, 0.1):
        mine, fine = _call(result, f"dlogg_dh(h, {eps})", dlogg_dh, h, eps)
        if not fine:
            continue
        errs = [check_gradient(lambda v, e=eps: float(np.log(softplus(v[0]) + e)),
                               np.array([mine[i]]), np.array([h[i]])).error for i in range(h.size)]
        result.add(f"eps = {eps}, against finite differences", max(errs) <= 1e-6,
                   f"largest error {max(errs):.1e} (bound 1e-6)")
    big, fine = _call(result, "dlogg_dh(+-800, 1e-3)", dlogg_dh, np.array([-800.0, 800.0]), 1e-3)
    if fine:
        result.add("finite, non-negative at |h| = 800", np.all(np.isfinite(big) & (big >= 0)),
                   f"values {big}")
    return _finish(result, verbose)


def check_spline_discriminant(discriminant, verbose=True):
    r"""Exercise 05.2: :math:`b^2 - 4ac = (\delta_k e_1 - \delta_{k+1} e_0)^2 + 4 s^2 e_0 e_1`.

    With :math:`e_0 = y - y_k`, :math:`e_1 = y_{k+1} - y`, :math:`h_k = e_0 + e_1`,
    :math:`s = h_k / w_k` and the coefficients of the rational-quadratic spline's inverse
    (Durkan et al., 2019, eqs. 6-8): :math:`a = h_k(s - \delta_k) + e_0\Delta`,
    :math:`b = h_k\delta_k - e_0\Delta`, :math:`c = -s e_0`, :math:`\Delta = \delta_{k+1} +
    \delta_k - 2s`. Pass ``discriminant(delta_k, delta_k1, s, e0, e1)`` (your expanded form).
    Compared with :math:`b^2 - 4ac` in exact rational arithmetic (``fractions.Fraction``) on
    200 random cases, relative 1e-12, and checked non-negative.
    """
    from fractions import Fraction

    result = ExerciseResult("exercise 05.2 (spline discriminant)")
    rng = np.random.default_rng(10)
    worst, negative = 0.0, 0
    for _ in range(200):
        dk, dk1, s, e0, e1 = np.exp(rng.normal(0, 1, 5))
        try:
            mine = float(discriminant(dk, dk1, s, e0, e1))
        except Exception as exc:                          # the student's code, any error
            result.add("discriminant(...)", False, f"raised {type(exc).__name__}: {exc}")
            return _finish(result, verbose)
        D, S, E0, E1, DK = (Fraction(float(v)) for v in (dk1, s, e0, e1, dk))
        h, delta = E0 + E1, D + DK - 2 * S
        a, b, c = h * (S - DK) + E0 * delta, h * DK - E0 * delta, -S * E0
        exact = float(b * b - 4 * a * c)
        worst = max(worst, abs(mine - exact) / max(abs(exact), 1e-300))
        negative += mine < 0
    result.add("equals b^2 - 4ac (exact arithmetic)", worst < 1e-12, f"largest error {worst:.1e}")
    result.add("never negative", negative == 0, f"{negative} negative values")
    return _finish(result, verbose)


def check_gauss_legendre(integrate, verbose=True):
    r"""Exercise 05.3: Gauss-Legendre with :math:`N+1` nodes on :math:`[0, t]`.

    Pass ``integrate(f, t, N)`` returning :math:`\int_0^t f` by Gauss-Legendre with ``N + 1``
    nodes (``f`` vectorized). Checked: exact (relative 1e-13) on random polynomials of degree
    :math:`2N+1`, and not exact on degree :math:`2N+2` (so it is really :math:`N+1` nodes). Its
    error on
    :math:`\int_0^2 e^{\sin 3s}ds` (SciPy ``quad`` reference) and Clenshaw-Curtis's at N = 4, 8,
    16 are printed as notes, for the comparison the exercise asks about.
    """
    from scipy import integrate as sint

    result = ExerciseResult("exercise 05.3 (Gauss-Legendre)")
    rng = np.random.default_rng(11)
    for N in (2, 5, 9):
        c = rng.normal(size=2 * N + 3)
        t = 1.7
        exact = [np.polyval(np.polyint(c[1:]), t), np.polyval(np.polyint(c), t)]
        try:
            got = [float(integrate(lambda s, cc=c[1:]: np.polyval(cc, s), t, N)),
                   float(integrate(lambda s, cc=c: np.polyval(cc, s), t, N))]
        except Exception as exc:                          # the student's code, any error
            result.add(f"N = {N}", False, f"raised {type(exc).__name__}: {exc}")
            continue
        e1 = abs(got[0] - exact[0]) / max(1.0, abs(exact[0]))
        e2 = abs(got[1] - exact[1]) / max(1.0, abs(exact[1]))
        result.add(f"N = {N}: exact to degree 2N+1, not 2N+2", e1 < 1e-13 and e2 > 1e-13,
                   f"errors {e1:.1e} (degree {2 * N + 1}), {e2:.1e} (degree {2 * N + 2})")
    from nfref.autoregressive.transformers.quadrature import clenshaw_curtis

    f = lambda s: np.exp(np.sin(3 * s))                                   # noqa: E731
    ref = sint.quad(f, 0, 2.0, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    for N in (4, 8, 16):
        nodes, weights = clenshaw_curtis(N)
        cc = abs(float(weights @ f(nodes + 1.0)) - ref) / ref              # [-1, 1] -> [0, 2]
        try:
            gl = abs(float(integrate(f, 2.0, N)) - ref) / ref
        except Exception as exc:                          # the student's code, any error
            gl = f"raised {type(exc).__name__}"
        result.notes.append(f"N = {N} on exp(sin 3s) over [0, 2]: Gauss-Legendre error "
                            f"{gl if isinstance(gl, str) else format(gl, '.1e')}, "
                            f"Clenshaw-Curtis {cc:.1e}")
    return _finish(result, verbose)


# ----------------------------------------------------------------------------- notebook 06
def check_kl_versus_layers(flows, log_target, your_kls, n=20000, verbose=True):
    r"""Exercise 06.1: the final reverse KL of banana fits with K planar layers.

    Pass the fitted flows (one per K), the normalized ``log_target`` and your KL numbers. Each
    is re-estimated from ``n`` fresh draws, :math:`E_q[\log q - \log p]`; yours must lie within
    four standard errors plus 0.01 nats; and the largest K must not be worse than the smallest
    (within the same margin).
    """
    result = ExerciseResult("exercise 06.1 (reverse KL against K)")
    measured = []
    for k, (flow, yours) in enumerate(zip(flows, your_kls)):
        u = flow.base.rvs(n, random_state=np.random.default_rng(12 + k))
        xs, logdet = flow.transform.forward(u)
        gap = flow.base.logpdf(u) - logdet - log_target(xs)
        kl, se = float(np.mean(gap)), float(np.std(gap) / np.sqrt(n))
        measured.append((kl, se))
        K = len(getattr(flow.transform, "layers", [flow.transform]))
        result.add(f"K = {K}", abs(float(yours) - kl) < 4 * se + 0.01,
                   f"yours {float(yours):.4f}, measured {kl:.4f} +- {se:.4f}")
    if len(measured) != len(list(flows)) or not measured:
        result.add("one number per flow", False, f"{len(measured)} pairs")
    else:
        (k0, s0), (k1, s1) = measured[0], measured[-1]
        result.add("more layers fit no worse", k1 <= k0 + 4 * (s0 + s1) + 0.01,
                   f"first {k0:.4f}, last {k1:.4f} nats")
    return _finish(result, verbose)


def check_duality_nonlinear(log_pstar_z, transform, log_target, verbose=True):
    r"""Exercise 06.2: :math:`p^*_z(z) = p^*(T(z))\,|\det J_T(z)|` for a non-linear ``T``.

    Pass your ``log_pstar_z(z)``, the transform ``T`` (a planar layer) and ``log_target``.
    Checked: yours against :math:`\log p^*(T(z)) + \log|\det J|` with the *finite-difference*
    Jacobian at 30 points (relative 1e-7); and the duality point by point: with
    :math:`q = T_\# N(0, I)`, :math:`\log q(T(z)) - \log p^*(T(z)) = \log N(z) - \log p^*_z(z)`
    for every draw (so both Monte Carlo KL estimates are equal to rounding, 1e-10).
    """
    from scipy import stats

    result = ExerciseResult("exercise 06.2 (duality for a non-linear T)")
    d = transform.dim
    z = np.random.default_rng(13).standard_normal((2000, d))
    mine, fine = _call(result, "log_pstar_z(z)", log_pstar_z, z)
    if fine:
        J = _jacobians(lambda v: transform.forward(v)[0], z[:30])
        ref = log_target(transform.forward(z[:30])[0]) + np.linalg.slogdet(J)[1]
        err = np.max(np.abs(mine[:30] - ref) / np.maximum(1.0, np.abs(ref)))
        result.add("against the finite-difference Jacobian", err < 1e-7, f"largest error {err:.1e}")
        x, logdet = transform.forward(z)
        log_n = stats.multivariate_normal(np.zeros(d), np.eye(d)).logpdf(z)
        kl_x = (log_n - logdet) - log_target(x)
        kl_z = log_n - mine
        gap = np.max(np.abs(kl_x - kl_z))
        result.add("duality point by point", gap < 1e-10,
                   f"largest gap {gap:.1e}; KL estimates {kl_x.mean():.6f} and {kl_z.mean():.6f}")
    return _finish(result, verbose)


def check_rbig_rounds(x_train, x_test, your_rounds, target, verbose=True):
    r"""Exercise 06.3: rounds of RBIG with random rotations to reach a held-out log-likelihood.

    Pass the data, your number of rounds with ``rotation="random"`` and the target (the mean
    held-out log-likelihood the PCA rotations reach). The check refits with your number and
    with one round fewer (``random_state=0``, as a fit with seed 0 would): the first must reach
    the target, the second must not.
    """
    from nfref.destructors import fit_rbig
    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain

    result = ExerciseResult("exercise 06.3 (RBIG with random rotations)")
    d = x_train.shape[1]

    def heldout(rounds):
        layers = fit_rbig(x_train, n_rounds=rounds, rotation="random", random_state=0)
        return float(np.mean(Flow(StandardNormal(d), Chain(layers)).logpdf(x_test)))

    k = int(your_rounds)
    at = heldout(k)
    before = heldout(k - 1) if k > 1 else -np.inf
    result.add(f"{k} rounds reach the target", at >= target, f"{at:.4f} against {target:.4f}")
    result.add(f"{k - 1} rounds do not", before < target, f"{before:.4f}")
    return _finish(result, verbose)
