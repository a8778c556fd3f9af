r"""Claims of notes 000, section 2: one-layer flows, eqs. (7) and (8), backward modeling.

Each claim compares two independent computations: eq. (7) uses the explicit Jacobian of the
inverse map, eq. (8) only the forward log-determinant; the matrix determinant lemma is
checked against ``slogdet``; Jacobians and gradients against finite differences; backward
modeling against the closed-form Gaussian MLE. The planar inverse's accuracy over 10^4
random parameter draws is the benchmark ``s02_planar_inverse``
(``python -m nfref bench -k s02``).
"""

import numpy as np
from scipy import stats

from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_param_gradient, check_vjp, numerical_jacobian, relative_error
from nfref.inverse_cdf import GaussianCDF
from nfref.numerics import sech2
from nfref.one_layer import (Planar, Radial, backward_log_likelihood, conditional_log_likelihood,
                             fit_backward_gaussian, gaussian_mle, log_likelihood_eq7,
                             log_likelihood_eq8, mean_log_likelihood_and_grad)
from nfref.one_layer.linear import Linear
from nfref.report.claims import benchmark, claim, figure
from nfref.report.studies.planar_inverse import float64_floor, planar_inverse_errors

FLOWS = (Linear, Planar, Radial)


@claim("eq. (7) = eq. (8): log-likelihood via J_phi^-1(x) and via J_phi(u) (linear, planar, "
       "radial; normal and uniform bases)", where="000 sec. 2.1 eqs. (7), (8)", bound=1e-13,
       why="float64 floor: two log-determinants of size <= 5 from different formulas (the "
           "inverse map's own Jacobian; the forward one), a few ulps; measured 2e-15",
       measures="largest |eq. (7) - eq. (8)| log-likelihood over the combinations (nats)")
def _():
    rng = np.random.default_rng(20)
    errs = []
    for cls in FLOWS:
        for d in (1, 2, 3, 5):
            t = cls.random(d, rng)
            for base in (StandardNormal(d), UniformCube(d)):
                x = Flow(base, t).rvs(50, random_state=rng)
                errs.append(np.max(np.abs(log_likelihood_eq7(base, t, x)
                                          - log_likelihood_eq8(base, t, x))))
    return max(errs), f"{len(errs)} flow/base/dimension combinations"


@claim("planar: matrix determinant lemma log|1 + h' w^T rho_hat| = slogdet(I + h' rho_hat w^T)",
       where="000 sec. 2.1 forward trick", bound=5e-12,
       why="float64 floor: slogdet of I + h' rho_hat w^T with |rho_hat||w| up to ~40 at "
           "scale 2 (condition up to 1e3 near the fold), eps times that; measured 1e-13",
       measures="largest |lemma log-determinant - slogdet| (nats)")
def _():
    rng = np.random.default_rng(21)
    errs = []
    for d in (1, 2, 3, 5, 10):
        t = Planar.random(d, rng, scale=2.0)
        u = rng.standard_normal((50, d))
        w, rho_hat, b = t.params["w"], t.rho_hat, t.params["b"][0]
        hp = sech2(u @ w + b)
        explicit = np.eye(d) + hp[:, None, None] * np.outer(rho_hat, w)   # built by hand
        errs.append(np.max(np.abs(t.forward(u)[1] - np.linalg.slogdet(explicit)[1])))
    return max(errs)


def _planar_fd(d=3, seed=22):
    rng = np.random.default_rng(seed)
    t = Planar.random(d, rng)
    u = rng.standard_normal((20, d))
    hp = sech2(u @ t.params["w"] + t.params["b"][0])
    outer = np.outer(t.rho_hat, t.params["w"])
    num = numerical_jacobian(lambda v: t.forward(v)[0], u)          # (n, d, d)
    return t, hp, outer, num


@claim("planar Jacobian entries delta_ij + rho_i h' w_j match finite differences (and so "
       "does nfref's jacobian)", where="000 sec. 2.1 (slip)", bound=1e-10,
       why="fourth-order differences at step 1e-4: eps/h ~ 1e-12 relative; measured 4e-12",
       measures=("largest relative error of the corrected entries and of nfref's jacobian vs FD "
                 "(unitless)"))
def _():
    t, hp, outer, num = _planar_fd()
    right = np.eye(3) + hp[:, None, None] * outer
    u = np.random.default_rng(22 + 1).standard_normal((20, 3))
    ours = relative_error(t.jacobian(u),
                          numerical_jacobian(lambda v: t.forward(v)[0], u), axis=0)
    return max(relative_error(right, num, axis=0), ours), f"nfref's jacobian: {ours:.1e}"


@claim("planar Jacobian: the notes' entries 1 + rho_i h' w_j miss by 1 off the diagonal",
       where="000 sec. 2.1 (slip)", bound=0.999999, at_least=True,
       why="the printed entries add 1 to every off-diagonal entry: the gap is 1 up to the "
           "finite-difference error (1e-11)",
       measures=("smallest off-diagonal |notes' entry - FD entry| (Jacobian entry, unitless; 1 "
                 "expected)"))
def _():
    _, hp, outer, num = _planar_fd()
    notes = 1.0 + hp[:, None, None] * outer
    off = ~np.eye(3, dtype=bool)
    gap = np.abs(notes - num)[:, off]
    return gap.min(), f"off-diagonal |notes - FD| in [{gap.min():.9f}, {gap.max():.9f}]"


@claim("planar: reparameterized flow invertible for any parameters (w^T rho from -700 to 1e3): "
       "largest round-trip error in units of its float64 floor eps (kappa (1 + |x|) + "
       "|rho_hat|)", where="R&M 2015 A.1; 000 sec. 2", bound=4.0,
       why="the floor is what rounding x = phi(u) alone costs after the inverse (kappa >= "
           "||J^-1||); over 1e4 random draws the ratio stays below 2 (bench s02_planar_inverse). "
           "An inverse off by 1e-9 gives a ratio of 1e6",
       measures="worst round-trip error divided by its float64 floor (multiples of the floor)")
def _():
    rng = np.random.default_rng(23)
    worst, worst_abs, at = 0.0, 0.0, (0.0, 0.0)
    for s in np.linspace(-700, 1e3, 41):           # raw w^T rho; below -745 softplus underflows
        w = rng.standard_normal(3)
        rho = rng.standard_normal(3)
        rho += (s - w @ rho) * w / (w @ w)
        t = Planar(w, rho, rng.standard_normal(1))
        rho_hat, c, one_plus_c = t.constrained()
        if not one_plus_c > 0:
            return np.inf, "1 + w^T rho_hat is not positive"
        u = rng.standard_normal((200, 3))
        x, _ = t.forward(u)
        err = np.max(np.abs(t.inverse(x)[0] - u), axis=1)
        # the rounding of x magnified by ||J^{-1}|| (large when c -> -1 or |rho_hat||w| is
        # large), plus the subtraction x - rho_hat tau
        floor = float64_floor(t, u, x)
        i = np.argmax(err / floor)
        if err[i] / floor[i] > worst:
            worst, at = err[i] / floor[i], (err[i], floor[i])
        worst_abs = max(worst_abs, err.max())
    return worst, (f"41 draws, 1 + w^T rho_hat > 0 in all; worst ratio: error {at[0]:.1e} "
                   f"over floor {at[1]:.1e}; largest |u' - u| {worst_abs:.1e}")


@claim("planar without reparameterization: w^T rho = -2 folds the map (3 preimages of one "
       "point) and is refused", where="R&M 2015 A.1; 000 sec. 2", bound=3, at_least=True,
       why="a count: the three roots of a - 2 tanh(a) = 0",
       measures="number of preimages of x_1 = 0 found (count; 0 if the layer was not refused)")
def _():
    from scipy.optimize import brentq
    try:
        Planar([1.0, 0.0], [-2.0, 0.0], [0.0], reparameterize=False)
    except ValueError:
        pass
    else:
        return 0, "w^T rho = -2 was not refused"
    # the raw map u -> u + rho tanh(w^T u) with w = e1, rho = -2 e1, evaluated by hand:
    # its first coordinate a - 2 tanh(a) vanishes at a = 0 and at the two roots below
    f = lambda a: a - 2.0 * np.tanh(a)
    roots = [brentq(f, -3.0, -1.0, xtol=1e-15), 0.0, brentq(f, 1.0, 3.0, xtol=1e-15)]
    u = np.array([[r, 0.5] for r in roots])                         # three distinct points
    x = u + np.tanh(u[:, :1]) * np.array([-2.0, 0.0])               # their common image
    if np.max(np.abs(x - x[1])) > 1e-12:
        return 0, "the images differ"
    return len(roots), f"u_1 = {roots[0]:.6f}, 0, {roots[2]:.6f} all map to x_1 = 0"


@claim("planar inverse VJP (implicit function theorem) against finite differences",
       where="nfref.numerics, implicit rule", bound=1e-7,
       why="finite differences at step 1e-4 through a Newton solve that stops at 4 eps: "
           "about eps/h relative, times cond(J); measured 8e-9. A pullback off by 1 + 1e-6 fails",
       measures=("largest relative error of the inverse VJP against finite differences "
                 "(unitless)"))
def _():
    rng = np.random.default_rng(24)
    errs = [check_vjp(Planar.random(d, rng), rng.standard_normal((6, d)), "inverse").error
            for d in (1, 2, 5)]
    return max(errs)


@claim("radial: closed-form inverse (root of r^2 + (alpha + beta - R) r - alpha R) round trip",
       where="R&M 2015 A.2", bound=2e-14,
       why="float64 floor, relative to 1 + |u|: the stable root of the quadratic, a few ulps; "
           "measured 4e-16",
       measures="largest |u - inverse(forward(u))| / (1 + |u|) (relative, unitless)")
def _():
    rng = np.random.default_rng(25)
    errs = []
    for d in (1, 2, 3, 5):
        for scale in (0.3, 1.0, 3.0):
            t = Radial.random(d, rng, scale=scale)
            u = t.params["z0"] + rng.standard_normal((100, d)) * np.logspace(-4, 2, 100)[:, None]
            x, _ = t.forward(u)
            errs.append(np.max(np.abs(t.inverse(x)[0] - u) / (1.0 + np.abs(u))))
    return max(errs), "relative to 1 + |u|, radii from 1e-4 to 1e2"


@claim("uniform base: log-likelihood = -log|det J_phi(u)| (slogdet of a finite-difference "
       "Jacobian) on the image, -inf off it, no NaN (planar, radial)", where="000 sec. 2.1",
       bound=1e-9,
       why="fourth-order differences at step 1e-4: J to 1e-12 relative, its log-determinant "
           "to cond(J) times that (radial layers near their centre: up to 1e2); measured 8e-11",
       measures=("largest |log-likelihood + FD slogdet| on the image (nats); inf if a point off "
                 "it is not -inf"))
def _():
    rng = np.random.default_rng(26)
    errs = []
    for cls in (Planar, Radial):
        t = cls.random(2, rng)
        base = UniformCube(2)
        u = base.rvs(200, random_state=rng)
        x = t.forward(u)[0]
        ref = -np.linalg.slogdet(numerical_jacobian(lambda v: t.forward(v)[0], u))[1]
        errs += [np.max(np.abs(log_likelihood_eq8(base, t, x) - ref)),
                 np.max(np.abs(log_likelihood_eq7(base, t, x) - ref))]
        far = np.array([[40.0, -40.0], [-25.0, 30.0]])
        for f in (log_likelihood_eq7, log_likelihood_eq8):
            ll = f(base, t, far)
            if np.any(np.isnan(ll)) or not np.all(np.isneginf(ll)):
                return np.inf, "off the image: not -inf"
    return max(errs), "off the image: -inf from eq. (7) and eq. (8)"


@claim("gradient of the mean log-likelihood (forward trick) against finite differences",
       where="000 sec. 2.1", bound=1e-8,
       why="fourth-order differences at step 1e-4, through the planar inverse's solve: "
           "measured 1e-10. A gradient off by 1 + 1e-6 fails",
       measures="largest relative error of the gradient against finite differences (unitless)")
def _():
    rng = np.random.default_rng(27)
    errs = []
    for cls in FLOWS:
        t = cls.random(2, rng)
        for base in (StandardNormal(2), DiagonalNormal(rng.normal(size=2), 0.3 * rng.normal(size=2)),
                     UniformCube(2)):
            x = (Flow(base, t).rvs(25, random_state=rng) if isinstance(base, UniformCube)
                 else 1.5 * rng.standard_normal((25, 2)))
            flow = Flow(base, t)
            _, grads = mean_log_likelihood_and_grad(base, t, x)
            loss = lambda: np.mean(log_likelihood_eq8(base, t, x))        # noqa: E731
            errs.append(check_param_gradient(loss, flow.params, grads).error)
    return max(errs), "linear, planar, radial x normal, diagonal normal, uniform bases"


@claim("backward modeling: log|det J_Psi(x)| = sum_j log p_j(x_j | x_<j) = log N(x; mu, Sigma)",
       where="000 sec. 2.2", bound=1e-12,
       why="float64 floor: log-densities of size <= 20 from three formulas; measured 2e-14",
       measures="largest |difference| between the three log-densities (nats)")
def _():
    rng = np.random.default_rng(28)
    errs = []
    for d in (1, 2, 3, 5):
        psi = GaussianCDF.random(d, rng)
        x = psi.rvs(100, random_state=rng)
        lb = backward_log_likelihood(psi, x)
        ref = stats.multivariate_normal(psi.mean_vector(), psi.covariance()).logpdf(x)
        errs.append(np.max(np.abs(lb - conditional_log_likelihood(psi, x))))
        errs.append(np.max(np.abs(lb - np.reshape(ref, -1))))
    return max(errs)


@claim("backward modeling by gradient ascent recovers the closed-form Gaussian MLE",
       where="000 sec. 2.2", bound=5e-7,
       why="L-BFGS stops at its gradient tolerance; the distance to the optimum is that over "
           "the curvature, 1e-9 to 1e-8 depending on the last step (measured 8e-9); the bound "
           "leaves room for another iteration count on another BLAS",
       measures=("largest |fitted - closed-form| entry of the mean and covariance (data units, "
                 "squared for the covariance)"))
def _():
    rng = np.random.default_rng(29)
    cov = np.array([[2.0, 0.6, -0.3], [0.6, 0.5, 0.1], [-0.3, 0.1, 1.0]])
    x = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=400)
    psi, res = fit_backward_gaussian(x)
    mean, cov_hat = gaussian_mle(x)
    err_m = np.max(np.abs(psi.mean_vector() - mean))
    err_c = np.max(np.abs(psi.covariance() - cov_hat))
    return max(err_m, err_c), f"mean {err_m:.1e}, covariance {err_c:.1e}, {res.nit} L-BFGS iterations"


@benchmark("s02_planar_inverse")
def _(stream):
    """The planar inverse over 10^4 random parameter draws (scales 1e-2 to 1e2)."""
    import time
    start = time.perf_counter()
    r = planar_inverse_errors(n_draws=10_000, n_points=100, random_state=0)
    secs = time.perf_counter() - start
    ok = ~r["refused"]
    near = ok & (r["c"] < -1 + 1e-3)
    print(f"10^4 draws x 100 points, d in (1, 2, 3, 5), |w| up to {np.nanmax(r['norm_w']):.0f}, "
          f"|rho_hat| up to {np.nanmax(r['norm_rho_hat']):.0f} ({secs:.1f} s)", file=stream)
    print(f"refused (w^T rho < -745, softplus underflows): {int(r['refused'].sum())}", file=stream)
    print(f"{'':40s} {'all draws':>12s} {'1 + c >= 1e-3':>14s}", file=stream)
    for key, label in (("roundtrip", "max |inverse(forward(u)) - u|"),
                       ("solver", "max |inverse(x) - long double inverse|"),
                       ("conditioning", "max round trip / float64 floor")):
        print(f"{label:40s} {r[key][ok].max():12.3e} {r[key][ok & ~near].max():14.3e}",
              file=stream)
    print(f"draws with 1 + w^T rho_hat < 1e-3 (nearly singular map): {int(near.sum())}",
          file=stream)


# ---------------------------------------------------------------------- figures
def _pushed_layers():
    """The planar and radial layers of the push-forward figure (a fold and a hole)."""
    planar = Planar([2.0, 1.0], [0.5, 1.8], [0.0])
    radial = Radial([0.5, 0.0], [np.log(np.expm1(0.3))], [np.log(np.expm1(2.0))])
    return planar, radial


@figure("s02_pushforward")
def _():
    """N(0, I) pushed through one planar and one radial layer: density and warped grid."""
    import matplotlib.pyplot as plt
    from nfref.plotting import plot_density, plot_warped_grid
    fig, axes = plt.subplots(2, 3, figsize=(11, 7))
    bounds = ((-4, 4), (-4, 4))
    base = StandardNormal(2)
    for row, (name, t) in zip(axes, zip(("planar", "radial"), _pushed_layers())):
        plot_density(base.logpdf, ax=row[0], bounds=bounds, title="base N(0, I)")
        plot_density(Flow(base, t).logpdf, ax=row[1], bounds=bounds,
                     title=f"one {name} layer: density of x = phi(u)")
        plot_warped_grid(t, ax=row[2], bounds=((-3, 3), (-3, 3)),
                         title=f"{name}: image of a square grid")
    fig.tight_layout()
    return fig


@figure("s02_one_layer_fits")
def _():
    """Maximum-likelihood fits of a Gaussian, a planar and a radial layer to three data sets."""
    import matplotlib.pyplot as plt
    from nfref.report.studies.one_layer_fits import example_datasets, fit_one_layer_models
    from nfref.plotting import plot_density
    data = example_datasets()
    fig, axes = plt.subplots(3, 4, figsize=(13, 9.5))
    for row, (name, (x, x_test, truth)) in zip(axes, data.items()):
        lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
        pad = 0.25 * (hi - lo)
        bounds = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
        row[0].scatter(x[:, 0], x[:, 1], s=2, color="0.3")
        row[0].set_xlim(*bounds[0])
        row[0].set_ylim(*bounds[1])
        row[0].set_title(f"{name}: data (test mean log p = {truth.logpdf(x_test).mean():.2f})")
        for ax, (model, flow) in zip(row[1:], fit_one_layer_models(x).items()):
            plot_density(flow.logpdf, ax=ax, bounds=bounds, grid=120,
                         title=f"{model}: {flow.logpdf(x_test).mean():.2f}")
    fig.tight_layout()
    return fig


@figure("s02_planar_inverse_error")
def _():
    """Planar round-trip error against the float64 floor set by conditioning (2000 draws)."""
    from nfref.report.studies.planar_inverse import plot_planar_inverse_errors
    r = planar_inverse_errors(n_draws=2000, n_points=50, random_state=1)
    ax = plot_planar_inverse_errors(r)
    fig = ax.figure
    fig.tight_layout()
    return fig
