r"""The black-box checker: another implementation against nfref's vectors and against itself.

The implementation is a set of callables in NumPy terms (any framework wrapped to take
and return array-likes of float64), named as in :class:`Implementation`; only ``forward``
(or, for a flow, ``logpdf`` or ``nll_and_grad``) is required. :func:`check` runs, for
every dimension of the case,

* **against the vectors** (``docs/vectors.md``): outputs, log-determinants, the Jacobian,
  both VJPs, a scalar loss and its gradient, a flow's ``logpdf``, NLL and gradient;
* **self-consistency, with no vectors**: the round trip, the inverse log-determinant
  against minus the forward one, the log-determinant against ``slogdet`` of a
  finite-difference Jacobian, an explicit Jacobian against finite differences, the zero
  pattern of the Jacobian (triangular in the MADE order for an autoregressive case), and
  every gradient against finite differences (:mod:`nfref.gradcheck`).

Error measure against the vectors: the largest over entries of
:math:`|a - b| / \max(|b|, 1)`, relative for entries above 1 in magnitude and absolute
below (the vectors' quantities are of order 1 by construction, so a smaller entry is a
cancellation whose rounding is absolute). Bounds (:data:`TOLERANCES`, reasons there) are
those of a correct float64 implementation, far below the smallest error a wrong one makes.
"""

from dataclasses import dataclass, field

import numpy as np

from nfref.conformance.vectors import load, load_index
from nfref.gradcheck import check_gradient, numerical_jacobian, relative_error

__all__ = ["Implementation", "ImplementationError", "CheckRow", "ConformanceResult", "check",
           "TOLERANCES"]

#: Bounds of the checks: name -> (bound, reason). "closed" and "numerical" refer to the
#: case: a case whose registry row has round-trip bound 1e-8 has a direction that is a
#: numerical solve.
TOLERANCES = {
    "value closed": (1e-10, "a correct float64 implementation differs from nfref by rounding "
                            "(a few ulps per operation, other summation orders, other libm), "
                            "amplified by the map's conditioning: below 1e-12 for the "
                            "registry's parameters; 1e-10 leaves two orders of margin"),
    "value numerical": (1e-8, "the contract's round-trip bound for a numerical solve: a "
                              "solver stopping at a relative step of 1e-10 passes"),
    "derivative closed": (1e-9, "Jacobians and gradients take more operations (sums over "
                                "points and hidden units); an order above the values' bound"),
    "derivative numerical": (1e-7, "derivatives at a point that a solve found to 1e-8, "
                                   "times the map's curvature"),
    "finite differences": (1e-6, "the contract's bound: a fourth-order central difference with "
                                 "step 1e-4 is accurate to about 1e-10 relative for smooth "
                                 "maps; 1e-6 absorbs conditioning and curvature"),
    "zero pattern": (1e-12, "a finite difference of an output that does not depend on an "
                            "input is exactly 0 (the stencil subtracts identical values); "
                            "1e-12 of the Jacobian's largest entry allows fused operations"),
    "nll identity": (1e-12, "nll = -mean(logpdf) at the same points: rounding of a mean"),
}


class ImplementationError(ValueError):
    """A callable of the implementation returned something of the wrong kind or shape."""


_CALLABLES = ("forward", "inverse", "forward_vjp", "inverse_vjp", "jacobian",
              "loss_and_grad", "logpdf", "nll_and_grad", "configure")


@dataclass
class Implementation:
    """The callables of an implementation under test (all optional but one).

    Transforms (``params`` a dict of the raw parameters by nfref's names, ``u, x (n, d)``):

    - ``forward(params, u) -> (x, logdet)`` with ``logdet (n,)``;
    - ``inverse(params, x) -> (u, logdet)``;
    - ``forward_vjp(params, u, gx, gl) -> (gu, gparams)``: the gradient of
      ``sum(gx * x) + sum(gl * logdet)``, ``gparams`` keyed like ``params``;
    - ``inverse_vjp(params, x, gu, gl) -> (gx, gparams)``;
    - ``jacobian(params, u) -> J (n, d, d)``, ``J[n, i, j] = d x_i / d u_j``;
    - ``loss_and_grad(params, u, gx, gl) -> (loss, gu, gparams)``: the scalar
      ``sum(gx * x) + sum(gl * logdet)`` and its gradient (what a framework's autodiff
      gives directly).

    Transformers: the same with ``params = {"xi": xi (n, d, k)}``, ``u = t``, ``x = y``,
    ``logdet = logderiv (n, d)``, and ``jacobian -> dy/dt (n, d)``.

    Flows (params keyed ``"base.<name>"``, ``"transform.<name>"``): ``logpdf(params, x) ->
    (n,)`` and ``nll_and_grad(params, x) -> (nll, grads)``.

    ``configure(info)``, if given, is called before each (case, dimension) with a dict
    ``{"case", "kind", "dim", "class", "config"}`` (``config`` as in the vector file:
    masks, degrees, permutations, hyperparameters), so one object can serve several.
    """

    forward: object = None
    inverse: object = None
    forward_vjp: object = None
    inverse_vjp: object = None
    jacobian: object = None
    loss_and_grad: object = None
    logpdf: object = None
    nll_and_grad: object = None
    configure: object = None

    @classmethod
    def from_object(cls, obj):
        """An :class:`Implementation` from itself, a dict of callables, an object with
        attributes of these names, or a plain callable (taken as ``forward``); a class is
        instantiated without arguments first."""
        if isinstance(obj, Implementation):
            return obj
        if isinstance(obj, type):
            obj = obj()
        if isinstance(obj, dict):
            unknown = sorted(set(obj) - set(_CALLABLES))
            if unknown:
                raise ValueError(f"Implementation: unknown entries {unknown}; expected some of "
                                 f"{list(_CALLABLES)}")
            found = dict(obj)
        else:
            found = {k: getattr(obj, k) for k in _CALLABLES if getattr(obj, k, None) is not None}
            if not found and callable(obj):
                found = {"forward": obj}
        for k, v in found.items():
            if v is not None and not callable(v):
                raise ValueError(f"Implementation: {k} must be callable, got a "
                                 f"{type(v).__name__}")
        if not found:
            raise ValueError("Implementation: expected at least one of the callables "
                             f"{list(_CALLABLES[:-1])}, got a {type(obj).__name__} with none")
        return cls(**found)


@dataclass
class CheckRow:
    """One check: its name, the dimension, the measured error, the bound, whether it
    passed, and for a failure the worst entry with both values."""

    check: str
    dim: int
    error: float
    bound: float
    passed: bool
    worst: str = ""


@dataclass
class ConformanceResult:
    """The rows of a run of :func:`check`; ``ok`` when there is at least one and all pass.

    ``str(result)`` is a table (about 80 columns) followed by the worst entry of every
    failure.
    """

    case: str
    rows: list = field(default_factory=list)

    @property
    def ok(self):
        return bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def failures(self):
        return [r for r in self.rows if not r.passed]

    def __bool__(self):
        return self.ok

    def __str__(self):
        n_fail = len(self.failures)
        head = (f"conformance of {self.case!r}: {len(self.rows)} checks, "
                + ("all passed" if n_fail == 0 else f"{n_fail} FAILED"))
        lines = [head, f"{'d':>2}  {'check':<46} {'error':>10} {'bound':>8}  result",
                 "-" * 78]
        for r in self.rows:
            lines.append(f"{r.dim:>2}  {r.check:<46} {r.error:>10.2e} {r.bound:>8.0e}  "
                         f"{'ok' if r.passed else 'FAILED'}")
        if n_fail:
            lines.append("")
            lines.append("worst entry of each failure (got = implementation, "
                         "expected = nfref or finite differences):")
            for r in self.failures:
                lines.append(f"  d={r.dim} {r.check}:")
                lines.append(f"      {r.worst}")
        return "\n".join(lines)

    __repr__ = __str__


# ---------------------------------------------------------------------- comparisons
def _fmt(v):
    return f"{v:.17g}"


def _compare(got, expected, label):
    """``(error, worst)``: max of ``|got - expected| / max(|expected|, 1)`` and the entry."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.size == 0:
        return 0.0, ""
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), got.shape))
        return float("inf"), (f"{label}{list(idx)}: got {got[idx]!r}, expected "
                              f"{_fmt(expected[idx])} ({int(bad.sum())} non-finite entries)")
    err = np.abs(got - expected) / np.maximum(np.abs(expected), 1.0)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
    return float(err[idx]), (f"{label}{list(idx)}: got {_fmt(got[idx])}, expected "
                             f"{_fmt(expected[idx])}")


def _compare_dict(got, expected, label):
    worst = (0.0, "")
    for k in expected:
        e = _compare(got[k], expected[k], f"{label}[{k!r}]")
        if e[0] > worst[0] or not worst[1]:
            worst = e
    return worst


# ---------------------------------------------------------------------- calling the implementation
def _array(value, what, shape, meaning):
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImplementationError(f"{what}: expected an array of shape {shape} ({meaning}), "
                                  f"got a {type(value).__name__}") from None
    if a.shape != tuple(shape):
        raise ImplementationError(f"{what} has shape {a.shape}; expected {tuple(shape)} "
                                  f"({meaning})")
    return a


def _pair(value, what, names):
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise ImplementationError(f"{what} must return a tuple ({', '.join(names)}), got "
                                  f"{type(value).__name__}"
                                  + (f" of length {len(value)}" if isinstance(value, (tuple, list))
                                     else ""))
    return value


def _grad_dict(value, what, params):
    if not isinstance(value, dict):
        raise ImplementationError(f"{what}: expected the parameter gradient as a dict keyed "
                                  f"like params {sorted(params)}, got {type(value).__name__}")
    missing, extra = sorted(set(params) - set(value)), sorted(set(value) - set(params))
    if missing or extra:
        raise ImplementationError(f"{what}: gradient keys differ from the parameters' "
                                  f"(missing {missing}, unexpected {extra}); expected "
                                  f"{sorted(params)}")
    return {k: _array(value[k], f"{what} gradient[{k!r}]", params[k].shape,
                      "the shape of the parameter") for k in params}


class _Caller:
    """Calls the implementation with copies of the arrays and checks what comes back."""

    def __init__(self, impl, doc):
        self.impl, self.doc = impl, doc
        self.params = doc["params"]
        n, d = doc["n"], doc["dim"]
        self.transformer = doc["kind"] == "transformer"
        self.ld_shape = (n, d) if self.transformer else (n,)
        self.ld_meaning = ("log dzeta/dt per entry, (n, d)" if self.transformer
                           else "one log-determinant per point, (n,)")

    def _p(self, params=None):
        return {k: np.array(v) for k, v in (self.params if params is None else params).items()}

    def map(self, name, a, params=None):
        out = _pair(getattr(self.impl, name)(self._p(params), np.array(a)), name,
                    ("x", "logdet") if name == "forward" else ("u", "logdet"))
        shape = a.shape
        ld_shape = (shape[0], shape[1]) if self.transformer else (shape[0],)
        return (_array(out[0], f"{name} output {'x' if name == 'forward' else 'u'}", shape,
                       "(n, d), one point a row"),
                _array(out[1], f"{name} output logdet", ld_shape, self.ld_meaning))

    def vjp(self, name, a, g, gl):
        out = _pair(getattr(self.impl, name)(self._p(), np.array(a), np.array(g), np.array(gl)),
                    name, ("g_input", "gparams"))
        return (_array(out[0], f"{name} input gradient", a.shape, "(n, d), like the input"),
                _grad_dict(out[1], name, self.params))

    def jacobian(self, u):
        J = self.impl.jacobian(self._p(), np.array(u))
        n, d = u.shape
        if self.transformer:
            return _array(J, "jacobian", (n, d), "dy/dt per entry, (n, d)")
        return _array(J, "jacobian", (n, d, d), "J[n, i, j] = d x_i / d u_j")

    def loss_and_grad(self, u, gx, gl, params=None):
        out = _pair(self.impl.loss_and_grad(self._p(params), np.array(u), np.array(gx),
                                            np.array(gl)),
                    "loss_and_grad", ("loss", "gu", "gparams"))
        loss = _array(out[0], "loss_and_grad loss", (), "a scalar")
        return (float(loss), _array(out[1], "loss_and_grad gu", u.shape, "(n, d)"),
                _grad_dict(out[2], "loss_and_grad", self.params))

    def logpdf(self, x, params=None):
        return _array(self.impl.logpdf(self._p(params), np.array(x)), "logpdf", (x.shape[0],),
                      "one log-density per point, (n,)")

    def nll_and_grad(self, x, params=None):
        out = _pair(self.impl.nll_and_grad(self._p(params), np.array(x)), "nll_and_grad",
                    ("nll", "grads"))
        return (float(_array(out[0], "nll_and_grad nll", (), "a scalar")),
                _grad_dict(out[1], "nll_and_grad", self.params))


# ---------------------------------------------------------------------- the checks
def _bounds(doc):
    numerical = doc["roundtrip_tol"] > 1e-10
    kind = "numerical" if numerical else "closed"
    return (TOLERANCES[f"value {kind}"][0], TOLERANCES[f"derivative {kind}"][0],
            doc["roundtrip_tol"])


def _fd_row(rows, d, name, res):
    """A row from a :class:`nfref.gradcheck.CheckResult` of :func:`check_gradient`."""
    worst = ""
    if not res.passed:
        key = max(res.details, key=lambda k: res.details[k]
                  if np.isfinite(res.details[k]) else np.inf)
        ana = res.analytic[key] if isinstance(res.analytic, dict) else res.analytic
        num = res.numeric[key] if isinstance(res.numeric, dict) else res.numeric
        ana, num = np.asarray(ana, float), np.asarray(num, float)
        label = "input gradient" if key == "<input>" else f"gradient[{key!r}]"
        if ana.shape == num.shape:
            worst = (_compare(ana, num, label)[1].replace("expected", "FD gives")
                     + f" (array error {res.details[key]:.2e})")
        else:
            worst = (f"{label}: relative error {res.details[key]:.2e} along random directions "
                     f"(got {np.array2string(num[:3], precision=6)} by finite differences)")
    rows.append(CheckRow(name, d, res.error, res.bound, res.passed, worst))


def _row(rows, d, name, err_worst, bound):
    err, worst = err_worst
    passed = bool(err <= bound)
    rows.append(CheckRow(name, d, err, bound, passed, "" if passed else worst))


def _check_transform(impl, doc, rows, fd):
    d = doc["dim"]
    call = _Caller(impl, doc)
    b_val, b_der, b_rt = _bounds(doc)
    fwd, inv = doc["forward"], doc["inverse"]
    u, x = fwd["u"], inv["x"]
    fdb = TOLERANCES["finite differences"][0]
    transformer = doc["kind"] == "transformer"

    if impl.forward is not None:
        xg, ldg = call.map("forward", u)
        _row(rows, d, "vectors: forward x", _compare(xg, fwd["x"], "x"), b_val)
        _row(rows, d, "vectors: forward logdet", _compare(ldg, fwd["logdet"], "logdet"), b_val)
    if impl.inverse is not None:
        ug, ldig = call.map("inverse", x)
        _row(rows, d, "vectors: inverse u", _compare(ug, inv["u"], "u"), b_val)
        _row(rows, d, "vectors: inverse logdet", _compare(ldig, inv["logdet"], "logdet"), b_val)
    if impl.jacobian is not None:
        expected = doc["derivative"] if transformer else doc["jacobian"]
        _row(rows, d, "vectors: jacobian", _compare(call.jacobian(u), expected, "J"), b_der)
    for name, a, key in (("forward_vjp", u, "forward_vjp"), ("inverse_vjp", x, "inverse_vjp")):
        if getattr(impl, name) is None:
            continue
        v = doc[key]
        g_in, g_par = call.vjp(name, a, v["gx" if name == "forward_vjp" else "gu"], v["gl"])
        exp_in = v["gu" if name == "forward_vjp" else "gx"]
        label = name.replace("_vjp", " VJP")
        _row(rows, d, f"vectors: {label} input", _compare(g_in, exp_in, "g_input"), b_der)
        if doc["params"]:
            _row(rows, d, f"vectors: {label} params",
                 _compare_dict(g_par, v["gparams"], "gparams"), b_der)
    if impl.loss_and_grad is not None:
        v = doc["forward_vjp"]
        expected_loss = float(np.sum(v["gx"] * fwd["x"]) + np.sum(v["gl"] * fwd["logdet"]))
        loss, g_u, g_par = call.loss_and_grad(u, v["gx"], v["gl"])
        _row(rows, d, "vectors: loss value", _compare(loss, expected_loss, "loss"), b_val)
        _row(rows, d, "vectors: loss gradient input", _compare(g_u, v["gu"], "gu"), b_der)
        if doc["params"]:
            _row(rows, d, "vectors: loss gradient params",
                 _compare_dict(g_par, v["gparams"], "gparams"), b_der)
    if not fd:
        return

    # ---- self-consistency, no vectors
    if impl.forward is not None and impl.inverse is not None:
        x1, ld1 = call.map("forward", u)
        u2, ld2 = call.map("inverse", x1)
        x3, _ = call.map("inverse", x)
        x4, _ = call.map("forward", x3)
        errs = [np.abs(u2 - u), np.abs(x4 - x)]
        rt = max(float(np.max(e)) for e in errs)
        worst = _compare(u2, u, "inverse(forward(u))")[1]
        _row(rows, d, "self: round trip (absolute)", (rt, worst), b_rt)
        # a transformer's logderiv has the forward sign in both directions
        sign, what = (1.0, "forward") if transformer else (-1.0, "minus forward")
        _row(rows, d, f"self: inverse logdet = {'' if transformer else '-'}forward logdet",
             (float(np.max(np.abs(ld2 - sign * ld1))),
              _compare(ld2, sign * ld1, "inverse logdet")[1].replace("expected", what)),
             b_rt)
    if impl.forward is not None:
        def fmap(v):
            return call.map("forward", v)[0]
        J_fd = numerical_jacobian(fmap, u)                              # (n, d, d)
        _, ld = call.map("forward", u)
        if transformer:
            diag = np.einsum("nii->ni", J_fd)
            with np.errstate(divide="ignore", invalid="ignore"):
                ld_fd = np.log(diag)
            ld_fd = np.where(np.isfinite(ld_fd), ld_fd, -np.inf)
            zeros = ~np.eye(d, dtype=bool)
        else:
            sign, ld_fd = np.linalg.slogdet(J_fd)
            zeros = doc["config"].get("jacobian_zeros")
        err = np.abs(ld - ld_fd)
        i = int(np.argmax(np.where(np.isfinite(err), err, np.inf)))
        _row(rows, d, "self: logdet vs log|det| of FD Jacobian",
             (float(err.ravel()[i]) if np.all(np.isfinite(err)) else float("inf"),
              f"logdet entry {i}: got {_fmt(np.ravel(ld)[i])}, finite differences give "
              f"{_fmt(np.ravel(ld_fd)[i])}"), fdb)
        if zeros is not None and np.any(zeros):
            scale = max(float(np.max(np.abs(J_fd))), 1e-300)
            leak = np.abs(J_fd) * zeros[None]
            n_i, r_i, c_i = (int(i) for i in np.unravel_index(int(np.argmax(leak)), leak.shape))
            _row(rows, d, "self: Jacobian zero pattern (FD)",
                 (float(leak[n_i, r_i, c_i] / scale),
                  f"d x_{r_i} / d u_{c_i} at point {n_i} is {_fmt(J_fd[n_i, r_i, c_i])} "
                  f"by finite differences; expected exactly 0"
                  + (" (autoregressive order: x_l may depend only on inputs of degree "
                     "<= its own)" if "degrees" in doc["config"] else "")),
                 TOLERANCES["zero pattern"][0])
        if impl.jacobian is not None:
            Jg = call.jacobian(u)
            if transformer:
                Jg_full, J_cmp = Jg, np.einsum("nii->ni", J_fd)
            else:
                Jg_full, J_cmp = Jg, J_fd
            err = relative_error(Jg_full, J_cmp, axis=0)
            _row(rows, d, "self: jacobian vs FD (relative per point)",
                 (err, _compare(Jg_full, J_cmp, "J")[1].replace("expected", "FD gives")), fdb)
        for name, a, key, fn in (("forward_vjp", u, "forward_vjp", "forward"),
                                 ("inverse_vjp", x, "inverse_vjp", "inverse")):
            if getattr(impl, name) is None or getattr(impl, fn) is None:
                continue
            v = doc[key]
            g_out = v["gx" if fn == "forward" else "gu"]
            g_in, g_par = call.vjp(name, a, g_out, v["gl"])

            def scalar(p, fn=fn, g_out=g_out, gl=v["gl"]):
                params = {k: val for k, val in p.items() if k != "<input>"}
                out, ldv = call.map(fn, p["<input>"], params)
                return float(np.sum(g_out * out) + np.sum(gl * ldv))
            res = check_gradient(scalar, {"<input>": g_in, **g_par},
                                 {"<input>": a, **call.params}, fdb)
            _fd_row(rows, d, f"self: {fn} VJP vs FD", res)
    if impl.loss_and_grad is not None:
        v = doc["forward_vjp"]
        _, g_u, g_par = call.loss_and_grad(u, v["gx"], v["gl"])

        def loss(p):
            params = {k: val for k, val in p.items() if k != "<input>"}
            return call.loss_and_grad(p["<input>"], v["gx"], v["gl"], params)[0]
        res = check_gradient(loss, {"<input>": g_u, **g_par}, {"<input>": u, **call.params},
                             fdb)
        _fd_row(rows, d, "self: loss gradient vs FD", res)


def _check_flow(impl, doc, rows, fd):
    d = doc["dim"]
    call = _Caller(impl, doc)
    b_val, b_der, _ = _bounds(doc)
    x = doc["x"]
    if impl.logpdf is not None:
        _row(rows, d, "vectors: logpdf", _compare(call.logpdf(x), doc["logpdf"], "logpdf"), b_val)
    if impl.nll_and_grad is not None:
        nll, grads = call.nll_and_grad(x)
        _row(rows, d, "vectors: nll", _compare(nll, doc["nll"], "nll"), b_val)
        _row(rows, d, "vectors: nll gradient", _compare_dict(grads, doc["nll_grad"], "grad"),
             b_der)
        if impl.logpdf is not None:
            mean = float(np.mean(call.logpdf(x)))
            _row(rows, d, "self: nll = -mean(logpdf)", _compare(nll, -mean, "nll"),
                 TOLERANCES["nll identity"][0])
        if fd:
            res = check_gradient(lambda p: call.nll_and_grad(x, p)[0], grads, call.params,
                                 TOLERANCES["finite differences"][0])
            _fd_row(rows, d, "self: nll gradient vs FD", res)


def check(implementation, case, dims=None, directory=None, self_consistency=True):
    """Check an implementation of a registered case against the vectors and itself.

    Parameters
    ----------
    implementation : Implementation, dict, object or callable
        The callables (:class:`Implementation`; a plain callable is ``forward``).
    case : str
        A registered case (``python -m nfref cases``; the vector index lists them all).
    dims : sequence of int, optional
        Dimensions to check (default: every dimension of the case).
    directory : path, optional
        A vector set (default: the committed one).
    self_consistency : bool
        Also run the checks that need no vectors (finite differences: the slow part).

    Returns
    -------
    ConformanceResult

    Raises
    ------
    ValueError
        For an unknown case (listing the known ones) or a dimension without vectors;
        :class:`ImplementationError` (a ``ValueError``) when a callable returns the wrong
        shape, naming the output and what was expected.
    """
    impl = Implementation.from_object(implementation)
    index = load_index(directory)
    if case not in index["cases"]:
        raise ValueError(f"unknown case {case!r}; expected one of: "
                         f"{', '.join(sorted(index['cases']))}")
    entry = index["cases"][case]
    available = entry["dims"]
    dims = available if dims is None else [int(v) for v in dims]
    for v in dims:
        if v not in available:
            raise ValueError(f"case {case!r} has vectors for d in {available}, got {v!r}")
    kind = entry["kind"]
    needed = ("logpdf", "nll_and_grad") if kind == "flow" else (
        "forward", "inverse", "forward_vjp", "inverse_vjp", "jacobian", "loss_and_grad")
    if all(getattr(impl, k) is None for k in needed):
        raise ValueError(f"check: case {case!r} is a {kind}; expected at least one of "
                         f"{list(needed)} in the implementation")
    result = ConformanceResult(case)
    for v in dims:
        doc = load(case, v, directory)
        if impl.configure is not None:
            impl.configure({"case": case, "kind": kind, "dim": v, "class": doc["class"],
                            "config": doc["config"]})
        if kind == "flow":
            _check_flow(impl, doc, result.rows, self_consistency)
        else:
            _check_transform(impl, doc, result.rows, self_consistency)
    return result
