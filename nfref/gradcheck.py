r"""Finite-difference checks for gradients, Jacobians, log-determinants and round trips.

Public and reusable: nfref's tests and notebooks use it, and so can anyone testing
another implementation with NumPy arrays (wrap your function to take and return
float64 arrays). Every check returns a :class:`CheckResult` holding the measured
error, the bound, and the analytic and numerical values, so a notebook can print
the number and a failing test shows both sides.

Finite differences
------------------
Derivatives are taken with the fourth-order central stencil

.. math:: f'(x) \approx \frac{f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)}{12 h},

whose truncation error is :math:`h^4 f^{(5)}/30`; with the default :math:`h = 10^{-4}`
that is far below the rounding error, about :math:`10^{-16}|f|/h`.

Relative error
--------------
For an analytic array ``a`` and a numerical array ``b`` the error is

.. math:: \frac{\|a - b\|_2}{\max(\|a\|_2, \|b\|_2, \text{floor})},

with ``floor = 1e-6``: an exact zero gradient compared with finite-difference noise
of 1e-12 counts as agreement, while any gradient larger than the floor is held to a
truly relative bound. Batched quantities (one Jacobian per point, one input gradient
per point) take the largest error over the points.
"""

from dataclasses import dataclass, field

import numpy as np

from nfref._validation import as_callable, as_choice, as_float, as_int, as_real, as_rng

__all__ = ["CheckResult", "relative_error", "numerical_gradient", "numerical_jacobian",
           "check_gradient", "check_jacobian", "check_logdet", "check_roundtrip",
           "check_vjp", "check_transform", "integrate_density", "check_normalization",
           "check_param_gradient", "CONTRACT"]

FLOOR = 1e-6
STEP = 1e-4
MODES = ("auto", "coordinates", "directions")


def _step(h):
    return as_float(h, "h (the finite-difference step)", low=0.0, low_open=True)


def _bound(bound, name="bound"):
    return as_float(bound, f"{name} (the largest error accepted)", low=0.0)


@dataclass
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    name : str
        What was checked.
    error : float
        The measured error (relative or absolute, as the check says).
    bound : float
        The error allowed.
    details : dict
        Per-part errors (for example one per parameter).
    analytic, numeric : ndarray or dict, optional
        Both sides, for reporting.
    """

    name: str
    error: float
    bound: float
    details: dict = field(default_factory=dict)
    analytic: object = None
    numeric: object = None

    @property
    def passed(self):
        """``error <= bound`` (a NaN error never passes)."""
        return bool(self.error <= self.bound)

    def __bool__(self):
        return self.passed

    def __str__(self):
        status = "ok" if self.passed else "FAILED"
        lines = [f"{self.name}: error {self.error:.3e} (bound {self.bound:.1e}) {status}"]
        for k, v in self.details.items():
            lines.append(f"  {k}: {v:.3e}")
        if not self.passed and self.analytic is not None:
            lines.append(f"  analytic: {_short(self.analytic)}")
            lines.append(f"  numeric:  {_short(self.numeric)}")
        return "\n".join(lines)


def _short(a):
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in a.items()) + "}"
    return np.array2string(np.ravel(np.asarray(a))[:6], precision=6)


def relative_error(a, b, floor=FLOOR, axis=None):
    """``||a - b|| / max(||a||, ||b||, floor)``; with ``axis`` the max over slices along it.

    Parameters
    ----------
    a, b : array_like
        Arrays of the same shape.
    floor : float
        Smallest denominator (see the module docstring).
    axis : int, optional
        When given, the error is computed for each slice ``a[i]`` along this axis and the
        largest is returned.
    """
    a, b = as_real(a, "a"), as_real(b, "b")
    floor = as_float(floor, "floor", low=0.0, low_open=True)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} and {b.shape}")
    if axis is None:
        num, den = np.linalg.norm(a - b), max(np.linalg.norm(a), np.linalg.norm(b), floor)
        return float(num / den)
    axis = as_int(axis, "axis", minimum=-max(a.ndim, 1), maximum=max(a.ndim, 1) - 1)
    a, b = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    num = np.linalg.norm(a - b, axis=1)
    den = np.maximum(np.maximum(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)), floor)
    return float(np.max(num / den))


def _stencil(f, x, direction, h):
    """Fourth-order central difference of ``f`` at ``x`` along ``direction``."""
    # Differences first, so that a function that does not depend on x gives exactly 0.
    near = f(x + h * direction) - f(x - h * direction)
    far = f(x + 2 * h * direction) - f(x - 2 * h * direction)
    return (8 * near - far) / (12 * h)


def numerical_gradient(fun, x, h=STEP):
    """Coordinate-wise finite-difference gradient of a scalar function of an array.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``.
    x : ndarray
        The point (not modified).
    h : float
        The step.
    """
    fun = as_callable(fun, "fun")
    h = _step(h)
    x = np.array(as_real(x, "x"))
    grad = np.zeros_like(x)
    e = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e[i] = 1.0
        grad[i] = _stencil(fun, x, e, h)
        e[i] = 0.0
    return grad


def numerical_jacobian(f, u, h=STEP):
    """Finite-difference Jacobian ``J[n, i, j] = d f(u)_{n,i} / d u_{n,j}`` of a row-wise map.

    ``f`` maps ``(n, d_in) -> (n, d_out)`` and treats rows independently, so column ``j``
    of every point is perturbed at once: ``d_in`` stencils, whatever ``n``.
    """
    f = as_callable(f, "f")
    h = _step(h)
    u = np.array(as_real(u, "u"))
    if u.ndim != 2:
        raise ValueError(f"u: expected points of shape (n, d), got shape {u.shape}")
    n, d = u.shape
    cols = []
    for j in range(d):
        e = np.zeros_like(u)
        e[:, j] = 1.0
        cols.append(_stencil(f, u, e, h))                          # (n, d_out)
    return np.stack(cols, axis=-1)                                 # (n, d_out, d_in)


def check_gradient(fun, grad, x, bound=1e-6, h=STEP, mode="auto", n_directions=6,
                   random_state=0, name="gradient"):
    """Compare an analytic gradient with central finite differences.

    Parameters
    ----------
    fun : callable
        Scalar function, ``fun(x) -> float``. ``x`` is an array or a dict of arrays.
    grad : array or dict
        The analytic gradient at ``x`` (same structure as ``x``).
    x : array or dict of arrays
    bound : float
        Largest relative error accepted.
    mode : {"auto", "coordinates", "directions"}
        "coordinates" differentiates along every coordinate (small sizes); "directions"
        compares directional derivatives along ``n_directions`` random unit directions
        (any size); "auto" picks coordinates up to 400 entries per array.

    Returns
    -------
    CheckResult
        ``details`` holds one relative error per array (per key for a dict).
    """
    fun = as_callable(fun, "fun")
    bound, h = _bound(bound), _step(h)
    mode = as_choice(mode, "mode", MODES)
    n_directions = as_int(n_directions, "n_directions", minimum=1)
    rng = as_rng(random_state)
    is_dict = isinstance(x, dict)
    xs = {k: np.array(as_real(v, f"x[{k!r}]" if is_dict else "x"))
          for k, v in (x.items() if is_dict else [("x", x)])}
    if is_dict and not isinstance(grad, dict):
        raise ValueError(f"grad: expected a dict keyed like x, got {type(grad).__name__}")
    gs = grad if is_dict else {"x": grad}
    missing = [k for k in xs if k not in gs]
    if missing:
        raise ValueError(f"grad: missing the key(s) {missing}; expected the keys of x, "
                         f"{list(xs)}")
    details, numeric = {}, {}
    for k, xk in xs.items():
        def f_k(v, k=k):
            args = dict(xs)
            args[k] = v
            return fun(args if is_dict else args["x"])
        gk = as_real(gs[k], f"grad[{k!r}]" if is_dict else "grad")
        if gk.shape != xk.shape:
            raise ValueError(f"check_gradient: analytic gradient for {k!r} has shape {gk.shape}, "
                             f"expected {xk.shape}")
        use_coords = mode == "coordinates" or (mode == "auto" and xk.size <= 400)
        if xk.size == 0:
            details[k] = 0.0
            numeric[k] = gk
        elif use_coords:
            numeric[k] = numerical_gradient(f_k, xk, h)
            details[k] = relative_error(gk, numeric[k])
        else:
            dirs = rng.standard_normal((n_directions,) + xk.shape)
            dirs /= np.linalg.norm(dirs.reshape(n_directions, -1), axis=1).reshape(
                (n_directions,) + (1,) * xk.ndim)
            ana = np.array([np.sum(gk * v) for v in dirs])
            num = np.array([_stencil(f_k, xk, v, h) for v in dirs])
            numeric[k] = num
            details[k] = relative_error(ana, num)
    err = max(details.values()) if details else 0.0
    return CheckResult(name, err, bound, details,
                       analytic=gs if is_dict else grad, numeric=numeric if is_dict else numeric["x"])


def check_param_gradient(loss, params, grads, bound=1e-6, h=STEP, mode="auto",
                         random_state=0, name="parameter gradient"):
    """Check the gradient of a loss that reads its parameters in place.

    nfref's parameters are arrays owned by transforms and bases (``flow.params`` shares
    them); a loss such as ``lambda: flow.nll_and_grad(x)[0]`` reads them where they are.
    This check perturbs the arrays of ``params`` in place, evaluates ``loss()``, and
    restores every value afterwards (also when ``loss`` raises).

    Parameters
    ----------
    loss : callable
        ``loss() -> float``.
    params : dict of ndarray
        The live parameter arrays (for example ``flow.params``).
    grads : dict of ndarray
        The analytic gradient, keyed like ``params``.

    Returns
    -------
    CheckResult
        As :func:`check_gradient`, one error per key.
    """
    loss = as_callable(loss, "loss")
    if not isinstance(params, dict) or not all(isinstance(v, np.ndarray)
                                               for v in params.values()):
        raise ValueError("params: expected a dict of the live parameter arrays, got "
                         f"{type(params).__name__}")

    def fun(p):
        saved = {k: v.copy() for k, v in params.items()}
        for k, v in p.items():
            params[k][...] = v
        try:
            return float(loss())
        finally:
            for k, v in saved.items():
                params[k][...] = v
    return check_gradient(fun, grads, {k: v.copy() for k, v in params.items()}, bound, h, mode,
                          random_state=random_state, name=name)


def check_jacobian(f, jacobian, u, bound=1e-6, h=STEP, name="jacobian"):
    """Compare an explicit Jacobian ``(n, d_out, d_in)`` with finite differences of ``f``.

    The error is the largest per-point relative error.
    """
    bound = _bound(bound)
    num = numerical_jacobian(f, u, h)
    jac = as_real(jacobian, "jacobian")
    if jac.shape != num.shape:
        raise ValueError(f"jacobian: expected shape {num.shape} (n, d_out, d_in), got "
                         f"{jac.shape}")
    return CheckResult(name, relative_error(jac, num, axis=0), bound, analytic=jac, numeric=num)


def check_logdet(transform, u, bound=1e-10):
    """Forward log-determinant against ``slogdet`` of the explicit Jacobian, and the
    inverse log-determinant against minus the forward one (absolute errors).
    """
    bound = _bound(bound)
    x, ld = transform.forward(u)
    _, ld_slog = np.linalg.slogdet(transform.jacobian(u))
    _, ld_inv = transform.inverse(x)
    details = {"forward vs slogdet": float(np.max(np.abs(ld - ld_slog))),
               "inverse vs -forward": float(np.max(np.abs(ld_inv + ld)))}
    return CheckResult("log-determinant", max(details.values()), bound, details,
                       analytic=ld, numeric=ld_slog)


def check_roundtrip(transform, u, bound=1e-10):
    """``inverse(forward(u)) == u`` and ``forward(inverse(x)) == x`` (largest absolute error)."""
    bound = _bound(bound)
    x, _ = transform.forward(u)
    u2, _ = transform.inverse(x)
    x2, _ = transform.forward(u2)
    details = {"inverse(forward(u)) - u": float(np.max(np.abs(u2 - u))),
               "forward(inverse(x)) - x": float(np.max(np.abs(x2 - x)))}
    return CheckResult("round trip", max(details.values()), bound, details)


def check_vjp(transform, u, direction="forward", bound=1e-6, h=STEP, random_state=0,
              mode="auto", n_directions=6):
    """Check the pullback of ``forward_and_vjp`` (or ``inverse_and_vjp``) against finite differences.

    Draws random upstream gradients ``g`` (per output entry) and ``gl`` (per point), calls the
    pullback that the pass returned, and differentiates
    ``L = sum(g * out) + sum(gl * logdet)`` numerically with respect to the input and to every
    parameter (parameters are perturbed in place and restored). The pullback is called twice,
    the second time after a pass at other points, and must give the same numbers: it holds the
    arrays of its own pass and nothing else.

    Parameters
    ----------
    transform : Transform
    u : ndarray, shape (n, d)
        Base points; for ``direction="inverse"`` the check runs at ``x = forward(u)``.
    direction : {"forward", "inverse"}
    mode : {"auto", "coordinates", "directions"}
        For the parameters: every coordinate, or ``n_directions`` random directions per array;
        "auto" takes coordinates while the transform has at most 64 parameters in all.

    Returns
    -------
    CheckResult
        ``details`` holds the input's error (largest over points), one error per parameter,
        and ``"pullback reused"``, the largest change of the pullback's result between its
        two calls.
    """
    direction = as_choice(direction, "check_vjp: direction", ("forward", "inverse"))
    mode = as_choice(mode, "check_vjp: mode", MODES)
    bound, h = _bound(bound), _step(h)
    n_directions = as_int(n_directions, "n_directions", minimum=1)
    rng = as_rng(random_state)
    if direction == "forward":
        apply, run = transform.forward, transform.forward_and_vjp
        point = np.array(as_real(u, "u"))
    else:
        apply, run = transform.inverse, transform.inverse_and_vjp
        point = transform.forward(u)[0]
    if point.ndim != 2:
        raise ValueError(f"u: expected points of shape (n, d), got shape {point.shape}")
    n, d = point.shape
    g, gl = rng.standard_normal((n, d)), rng.standard_normal(n)
    _, _, pullback = run(point)
    g_in, g_par = pullback(g, gl)
    run(point[::-1].copy())                                        # another pass in between
    g_in2, g_par2 = pullback(g, gl)
    reused = max([float(np.max(np.abs(g_in2 - g_in)))]
                 + [float(np.max(np.abs(g_par2[k] - g_par[k]), initial=0.0)) for k in g_par])

    def per_row(p):
        out, ld = apply(p)
        return (g * out).sum(1) + gl * ld                          # (n,)

    # Input gradient: rows are independent, so perturb one column of every row at once.
    num_in = np.stack([_stencil(per_row, point, np.eye(d)[j][None, :].repeat(n, 0), h)
                       for j in range(d)], axis=1)                  # (n, d)
    details = {"input": relative_error(g_in, num_in, axis=0), "pullback reused": reused}
    numeric = {"input": num_in}
    if mode == "auto":
        mode = "coordinates" if transform.n_params <= 64 else "directions"
    for k, p in transform.params.items():
        saved = p.copy()

        def scalar(v, k=k):
            transform.params[k][...] = v
            try:
                return float(per_row(point).sum())
            finally:
                transform.params[k][...] = saved
        res = check_gradient(scalar, g_par[k], saved, bound, h, mode=mode,
                             n_directions=n_directions, random_state=rng, name=k)
        details[f"param {k}"] = res.error
        numeric[k] = res.numeric
    return CheckResult(f"{direction} VJP", max(details.values()), bound, details,
                       analytic={"input": g_in, **g_par}, numeric=numeric)


#: The contract every transform passes: check name -> (bound, what it measures). The contract
#: suite (``tests/test_contract.py``) and :func:`check_transform` both read it.
CONTRACT = {
    "round trip": (None, "max |inverse(forward(u)) - u| and |forward(inverse(x)) - x|; the "
                         "bound is the case's: 1e-10 closed form, 1e-8 numerical solve"),
    "log-determinant": (1e-10, "forward logdet vs slogdet of the explicit Jacobian, and the "
                               "inverse logdet vs minus the forward one (absolute)"),
    "jacobian": (1e-6, "explicit Jacobian vs fourth-order central differences (relative, "
                       "largest over points)"),
    "forward VJP": (1e-6, "forward pullback vs finite differences, input and every parameter "
                          "(relative); the pullback gives the same numbers when reused"),
    "inverse VJP": (1e-6, "inverse pullback, the same"),
    "density integrates to 1": (1e-3, "trapezoidal integral of the flow's density over the "
                                      "image of the base's support (d = 1, 2)"),
}


def check_transform(transform, u, roundtrip_bound=1e-10):
    """Run the contract's checks (:data:`CONTRACT`, all but the density's) on one transform at
    base points ``u``; returns a list of :class:`CheckResult`."""
    roundtrip_bound = _bound(roundtrip_bound, "roundtrip_bound")
    b = {k: v[0] for k, v in CONTRACT.items()}
    return [
        check_roundtrip(transform, u, roundtrip_bound),
        check_logdet(transform, u, b["log-determinant"]),
        check_jacobian(lambda v: transform.forward(v)[0], transform.jacobian(u), u,
                       b["jacobian"]),
        check_vjp(transform, u, "forward", b["forward VJP"]),
        check_vjp(transform, u, "inverse", b["inverse VJP"]),
    ]


#: rows per call of ``logpdf`` in :func:`integrate_density`
_QUADRATURE_BLOCK = 20000


def integrate_density(logpdf, lo, hi, n_grid=None):
    """Trapezoidal integral of ``exp(logpdf)`` over the box ``[lo, hi]`` (d = 1 or 2).

    Parameters
    ----------
    logpdf : callable
        ``logpdf(x) -> (n,)`` for ``x`` of shape ``(n, d)``.
    lo, hi : array_like, shape (d,)
    n_grid : int, optional
        Points per axis, at least 2 (default 20001 for d = 1, 401 for d = 2).

    Raises
    ------
    ValueError
        For ``lo`` and ``hi`` that are not finite vectors of the same length 1 or 2 with
        ``lo < hi`` in every coordinate, or a ``logpdf`` that does not return one value per
        point, each finite or ``-inf``.
    """
    logpdf = as_callable(logpdf, "logpdf")
    lo, hi = np.atleast_1d(as_real(lo, "lo")), np.atleast_1d(as_real(hi, "hi"))
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(f"integrate_density: expected lo and hi of the same shape (d,), got "
                         f"{lo.shape} and {hi.shape}")
    d = lo.size
    if d not in (1, 2):
        raise ValueError(f"integrate_density: quadrature is for d = 1 or 2, got d = {d}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        raise ValueError(f"integrate_density: expected finite lo < hi in every coordinate, got "
                         f"lo = {lo.tolist()}, hi = {hi.tolist()}")
    n_grid = (20001 if d == 1 else 401) if n_grid is None else as_int(n_grid, "n_grid",
                                                                        minimum=2)
    axes = [np.linspace(lo[i], hi[i], n_grid) for i in range(d)]
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], axis=1)              # (n_grid**d, d)
    # evaluated in blocks of rows: each block is one batched call, and the passes' work
    # arrays (cells times nodes for a quadrature transformer) stay in the cache
    parts = []
    for i in range(0, pts.shape[0], _QUADRATURE_BLOCK):
        block = pts[i:i + _QUADRATURE_BLOCK]
        part = as_real(logpdf(block), "logpdf(points)")
        if part.shape != (block.shape[0],):
            raise ValueError(f"logpdf: expected one value per point, shape ({block.shape[0]},) "
                             f"for {block.shape[0]} points, got shape {part.shape}")
        parts.append(part)
    lp = np.concatenate(parts)                          # (n_grid**d,): every part checked
    if np.any(np.isnan(lp)) or np.any(lp == np.inf):
        raise ValueError(f"logpdf: expected one value per point, finite or -inf, shape "
                         f"({pts.shape[0]},), got shape {lp.shape} with "
                         f"{int(np.sum(np.isnan(lp) | (lp == np.inf)))} NaN or +inf values")
    dens = np.exp(lp).reshape((n_grid,) * d)
    for i in reversed(range(d)):
        dens = np.trapezoid(dens, axes[i], axis=i)
    return float(dens)


def check_normalization(logpdf, forward, base="normal", dim=1, bound=1e-3, n_grid=None):
    """The density of a pushed-forward variable integrates to 1 (d = 1 or 2).

    The integration box is the bounding box of the image, under ``forward``, of a grid
    over the base's effective support (``[-8, 8]^d`` for a standard normal base, which
    holds all but 1e-15 of its mass; the open unit cube for a uniform base), widened by
    10 percent.

    Parameters
    ----------
    logpdf : callable
        Log density of the data, ``(n, d) -> (n,)``.
    forward : callable
        The forward map, ``(n, d) -> (n, d)``.
    base : {"normal", "uniform"}
    dim : int
    """
    base = as_choice(base, "check_normalization: base", ("normal", "uniform"))
    dim = as_int(dim, "dim (1 or 2)", minimum=1, maximum=2)
    bound = _bound(bound)
    forward = as_callable(forward, "forward")
    if base == "normal":
        g = np.linspace(-8, 8, 161)
    else:
        g = np.concatenate([[1e-12], np.linspace(0, 1, 161)[1:-1], [1 - 1e-12]])
    mesh = np.meshgrid(*([g] * dim), indexing="ij")
    image = as_real(forward(np.stack([m.ravel() for m in mesh], axis=1)), "forward(points)")
    if image.shape != (g.size ** dim, dim) or not np.all(np.isfinite(image)):
        raise ValueError(f"forward: expected finite points of shape ({g.size ** dim}, {dim}), "
                         f"got shape {image.shape}")
    lo, hi = image.min(0), image.max(0)
    pad = 0.1 * (hi - lo)
    total = integrate_density(logpdf, lo - pad, hi + pad, n_grid)
    return CheckResult("density integrates to 1", abs(total - 1.0), bound,
                       {"integral": total})
