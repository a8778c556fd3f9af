"""Claims of the foundation: change of variables and the forward trick.

Notes 000, section 2.1, eqs. (7) and (8); notes 003 for the Gaussian base. Each claim
compares nfref with an independent computation: quadrature of the pushed-forward density in
the data space (non-linear flows included), ``scipy.stats``, finite-difference Jacobians,
closed forms written here.
"""

import numpy as np
from scipy import stats

from nfref.autoregressive.maf import MAF
from nfref.autoregressive.transformers import RationalQuadraticSpline
from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_param_gradient, numerical_jacobian
from nfref.one_layer import Planar, Radial
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.report.claims import benchmark, claim
from nfref.report.derivations._quadrature import (integrate_1d, integrate_2d_nested,
                                                  integrate_2d_polar, integrate_2d_tensor)


def _linear_flow(d, seed=0):
    return Flow(StandardNormal(d), Linear.random(d, np.random.default_rng(seed)))


# ---------------------------------------------------------------------- normalization
def _image_box(t, d, r=8.5):
    """The bounding box of the image of ``[-r, r]^d`` (all but 2e-17 of N(0, 1) per axis),
    widened by 0.5."""
    g = np.linspace(-r, r, 101)
    mesh = np.meshgrid(*([g] * d), indexing="ij")
    image = t.forward(np.stack([m.ravel() for m in mesh], 1))[0]
    return image.min(0) - 0.5, image.max(0) + 0.5


def _spline_breaks(t, x):
    """Every knot of an autoregressive spline flow's transformer at the conditioner's output
    for the points ``x`` (both sides of the bins, so the pieces hold no knot): (n, d, 2K+2)."""
    xk, yk, _ = t.transformer.knots(t.conditioner(x))
    return np.concatenate([xk, yk], -1)


def normalization_flows():
    """The flows of the normalization claim, ``name -> (d -> transform)``: non-linear layers
    of sections 2 and 4 (and a linear one), each with fixed seeds."""
    return {
        "planar": lambda d: Planar.random(d, np.random.default_rng(d + 3), scale=1.0),
        "radial": lambda d: Radial.random(d, np.random.default_rng(d + 3), scale=1.0),
        "MAF spline": lambda d: MAF.random(d, np.random.default_rng(d + 3),
                                           transformer=RationalQuadraticSpline(4, 3.0),
                                           hidden_sizes=(8,), output_scale=0.5),
        "MAF affine": lambda d: MAF.random(d, np.random.default_rng(d + 3), hidden_sizes=(8,)),
        "PLU linear": lambda d: PLULinear.random(d, np.random.default_rng(d + 3)),
    }


def flow_integral(t, d, m=16):
    r"""``int p_X(x) dx`` for ``X = t(U)``, ``U ~ N(0, I_d)``, by composite Gauss-Legendre in
    the data space (:mod:`._quadrature`): pieces end at the points where ``p_X`` is not
    smooth (a spline's knots, given ``x_1`` for the second coordinate; a radial flow's centre,
    in polar coordinates in 2-D). Only ``Flow.logpdf`` of the flow is called."""
    logpdf = Flow(StandardNormal(d), t).logpdf
    lo, hi = _image_box(t, d)
    spline = isinstance(getattr(t, "transformer", None), RationalQuadraticSpline)
    if d == 1:
        breaks = [lo[0], hi[0]]
        if isinstance(t, Radial):
            breaks.append(t.params["z0"][0])
        if spline:
            breaks = np.concatenate([breaks, _spline_breaks(t, np.zeros((1, 1)))[0, 0]])
        return integrate_1d(logpdf, breaks, m, pieces=1 if spline else 24)
    if isinstance(t, Radial):
        corners = np.array([[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], lo[1]], [hi[0], hi[1]]])
        radius = np.max(np.linalg.norm(corners - t.params["z0"], axis=1))
        return integrate_2d_polar(logpdf, t.params["z0"], radius, 12, 24)
    if spline:
        outer = np.concatenate([[lo[0], hi[0]], _spline_breaks(t, np.zeros((1, 2)))[0, 0]])

        def inner(x1):
            k = _spline_breaks(t, np.stack([x1, np.zeros_like(x1)], 1))[:, 1]
            return np.concatenate([np.broadcast_to([lo[1], hi[1]], (x1.size, 2)), k], 1)
        return integrate_2d_nested(logpdf, outer, inner, m, pieces=1)
    return integrate_2d_tensor(logpdf, [lo[0], hi[0]], [lo[1], hi[1]], 12, pieces=24)


@claim("pushed-forward density integrates to 1: planar, radial, spline and affine MAF, PLU "
       "(d = 1, 2; Gauss-Legendre in the data space)", where="000 sec. 2.1 eq. (7)",
       bound=1e-10,
       why="quadrature error: the spline MAF in 2-D, the slowest to converge, integrates to "
           "1 - 5e-12 with 16 nodes per piece and 1 - 1e-9 with 12; the others are at 1e-12 "
           "or below. A wrong log-determinant moves the integral by its size (1e-3 or more)",
       measures="largest |integral of p_X - 1| over the flows (probability, absolute)")
def _():
    errs = {}
    for name, make in normalization_flows().items():
        for d in (1, 2):
            errs[f"{name} d={d}"] = abs(flow_integral(make(d), d) - 1.0)
    worst = max(errs, key=errs.get)
    return errs[worst], f"|integral - 1| largest for {worst}; {len(errs)} flows"


@claim("linear flow: eq. (7) log-density equals the N(b, A A^T) log-density",
       where="000 sec. 2.1 eq. (7); 003", bound=2e-12,
       why="float64 floor: both sides round |log p| <= 40 times cond(A) <= 30, about 1e-14 "
           "each; measured 7e-14",
       measures="largest |eq. (7) log-density - N(b, A A^T) log-density| over the points (nats)")
def _():
    errs = []
    for d in (1, 2, 3, 5):
        flow = _linear_flow(d, seed=10 + d)
        A, b = flow.transform.params["weight"], flow.transform.params["bias"]
        x = flow.rvs(200, random_state=d)
        direct = stats.multivariate_normal(mean=b, cov=A @ A.T).logpdf(x).reshape(-1)
        errs.append(np.max(np.abs(flow.logpdf(x) - direct)))
    return max(errs)


@claim("eq. (8), forward trick: log|det J_phi^-1(x)| = -log|det J_phi(u)|, both sides from "
       "finite-difference Jacobians (linear, PLU), and nfref's two log-determinants",
       where="000 sec. 2.1 eq. (8)", bound=1e-9,
       why="finite differences of a linear map are exact up to rounding, eps |x| / h ~ 1e-12 "
           "per entry, times cond(A) in the log-determinant; measured 2e-11",
       measures=("largest |FD log|det J_phi^-1| + FD log|det J_phi||, and nfref's against each "
                 "(nats)"))
def _():
    errs = []
    rng = np.random.default_rng(3)
    for cls in (Linear, PLULinear):
        for d in (1, 2, 3, 5):
            t = cls.random(d, rng)
            u = rng.standard_normal((20, d))
            x, ld_fwd = t.forward(u)
            _, ld_inv = t.inverse(x)
            fd_inv = np.linalg.slogdet(numerical_jacobian(lambda v: t.inverse(v)[0], x))[1]
            fd_fwd = np.linalg.slogdet(numerical_jacobian(lambda v: t.forward(v)[0], u))[1]
            errs += [np.max(np.abs(fd_inv + fd_fwd)),          # the identity, measured
                     np.max(np.abs(ld_inv - fd_inv)), np.max(np.abs(ld_fwd - fd_fwd))]
    return max(errs), "max of |FD(inverse) + FD(forward)| and nfref's against each"


@claim("uniform base: log-likelihood = log|det J_phi^-1(x)| = -sum log s_i on the image of "
       "the cube (closed form), -inf off it", where="000 sec. 2.1", bound=1e-14,
       why="float64 floor: one log and a sum of two numbers of size 1; measured 0 or 1 ulp",
       measures=("largest |log-likelihood - (-sum log s_i)| on the image (nats); inf if a point "
                 "off it is not -inf"))
def _():
    shift, scale = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    t = ElementwiseAffine(shift, np.log(scale))
    flow = Flow(UniformCube(2), t)
    rng = np.random.default_rng(0)
    # points inside the image [0.5, 2.5] x [-1, -0.75] and around it, classified by hand
    x = rng.uniform([-0.5, -1.5], [3.5, -0.25], (400, 2))
    inside = np.all((x >= shift) & (x <= shift + scale), axis=1)
    exact = np.where(inside, -np.log(scale[0] * scale[1]), -np.inf)   # log 2 inside
    got = flow.logpdf(x)
    if not np.array_equal(np.isneginf(got), ~inside):
        return np.inf, "-inf on the wrong points"
    return np.max(np.abs(got[inside] - exact[inside])), \
        f"{inside.sum()} points inside (log p = log 2), {(~inside).sum()} outside (-inf)"


@claim("NLL gradient of a flow (diagonal-normal base, PLU layer) against finite differences",
       where="003; docs/contract.md, Flow", bound=5e-10,
       why="fourth-order differences at step 1e-4: rounding eps |NLL| / h ~ 1e-12 relative; "
           "measured 8e-12. A gradient off by a factor 1 + 1e-6 fails",
       measures=("relative error of the NLL gradient against finite differences (norm ratio, "
                 "unitless)"))
def _():
    rng = np.random.default_rng(4)
    flow = Flow(DiagonalNormal(rng.normal(size=3), 0.3 * rng.normal(size=3)),
                PLULinear.random(3, rng))
    x = rng.standard_normal((40, 3))
    _, grads = flow.nll_and_grad(x)
    return check_param_gradient(lambda: flow.nll_and_grad(x)[0], flow.params, grads).error


@benchmark("contract_bounds")
def _(stream):
    """The largest error of each contract check over every registered case and dimension."""
    from nfref.gradcheck import check_jacobian, check_logdet, check_roundtrip, check_vjp
    from nfref.registry import contract_cases

    worst = {"round trip (analytic inverse)": (0.0, ""), "round trip (numerical inverse)": (0.0, ""),
             "log-determinant": (0.0, ""), "jacobian (relative)": (0.0, ""),
             "forward VJP (relative)": (0.0, ""), "inverse VJP (relative)": (0.0, "")}

    def keep(key, err, where):
        if err > worst[key][0]:
            worst[key] = (err, where)
    cases = contract_cases()
    for name, case in cases.items():
        for d in case.dims:
            rng = np.random.default_rng(1000 + 17 * d + len(name))   # the contract suite's seeds
            t = case.make(d, rng)
            u = case.draw_inputs(rng, 9, d)
            where = f"{name}, d={d}"
            rt = "numerical" if t.numerical_inverse else "analytic"
            keep(f"round trip ({rt} inverse)", check_roundtrip(t, u).error, where)
            keep("log-determinant", check_logdet(t, u).error, where)
            keep("jacobian (relative)",
                 check_jacobian(lambda v: t.forward(v)[0], t.jacobian(u), u).error, where)
            keep("forward VJP (relative)", check_vjp(t, u, "forward").error, where)
            keep("inverse VJP (relative)", check_vjp(t, u, "inverse").error, where)
    print(f"{len(cases)} registered cases", file=stream)
    for key, (err, where) in worst.items():
        print(f"  {key:<32} largest {err:.2e}  ({where})", file=stream)
