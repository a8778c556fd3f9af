"""Claims of the foundation: change of variables and the forward trick for linear flows.

Notes 000, section 2.1, eqs. (7) and (8), for ``phi(u) = A u + b``; notes 003 for the
Gaussian base. Each claim compares two independent computations.
"""

import numpy as np
from scipy import stats

from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_normalization, check_param_gradient
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.report.claims import benchmark, claim


def _linear_flow(d, seed=0):
    return Flow(StandardNormal(d), Linear.random(d, np.random.default_rng(seed)))


@claim("linear flow: pushed-forward density integrates to 1 (d = 1, 2)",
       where="000 sec. 2.1 eq. (7)", bound=1e-3)
def _():
    errs = []
    for d in (1, 2):
        flow = _linear_flow(d, seed=d)
        res = check_normalization(flow.logpdf, lambda u: flow.transform.forward(u)[0],
                                  "normal", d)
        errs.append(res.error)
    return max(errs), f"|integral - 1| for d=1: {errs[0]:.1e}, d=2: {errs[1]:.1e}"


@claim("linear flow: eq. (7) log-density equals the N(b, A A^T) log-density",
       where="000 sec. 2.1 eq. (7); 003", bound=1e-10)
def _():
    errs = []
    for d in (1, 2, 3, 5):
        flow = _linear_flow(d, seed=10 + d)
        A, b = flow.transform.params["weight"], flow.transform.params["bias"]
        x = flow.rvs(200, random_state=d)
        direct = stats.multivariate_normal(mean=b, cov=A @ A.T).logpdf(x).reshape(-1)
        errs.append(np.max(np.abs(flow.logpdf(x) - direct)))
    return max(errs)


@claim("eq. (8), forward trick: log|det J_phi^-1(x)| = -log|det J_phi(u)| (linear, PLU)",
       where="000 sec. 2.1 eq. (8)", bound=1e-10)
def _():
    errs = []
    rng = np.random.default_rng(3)
    for cls in (Linear, PLULinear):
        for d in (1, 2, 3, 5):
            t = cls.random(d, rng)
            A = t.jacobian(np.zeros((1, d)))[0]
            u = rng.standard_normal((50, d))
            x, _ = t.forward(u)
            _, ld_inv = t.inverse(x)
            # left: the inverse map's Jacobian is the explicit inverse matrix A^{-1}
            left = np.linalg.slogdet(np.linalg.inv(A))[1]
            errs.append(np.max(np.abs(ld_inv - left)))
            errs.append(np.max(np.abs(left + np.linalg.slogdet(A)[1])))
    return max(errs)


@claim("uniform base: log-likelihood reduces to log|det J_phi^-1(x)|, -inf off the image",
       where="000 sec. 2.1", bound=1e-12)
def _():
    t = ElementwiseAffine([0.5, -1.0], [np.log(2.0), np.log(0.5)])
    flow = Flow(UniformCube(2), t)
    x = flow.rvs(100, random_state=0)
    inside = np.max(np.abs(flow.logpdf(x) - t.inverse(x)[1]))
    outside = flow.logpdf(np.array([[10.0, 10.0], [-3.0, 0.0]]))
    if not np.all(outside == -np.inf):
        return np.inf, "points off the image of the cube did not get -inf"
    return inside, "off the image: logpdf = -inf, no NaN"


@claim("NLL gradient of a flow (diagonal-normal base, PLU layer) against finite differences",
       where="003; docs/contract.md, Flow", bound=1e-6)
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
