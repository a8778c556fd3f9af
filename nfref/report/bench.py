r"""Speed benchmarks: ``python -m nfref bench [-k NAME]``.

Four benchmarks, each registered with :func:`nfref.report.claims.benchmark`:

``table``
    Milliseconds per training step, per density pass (``Flow.logpdf``) and per sampling
    pass (``Flow.rvs``) of the configurations below, in float64 at batch 1024; median of
    ``R`` rounds (``R = 15`` after 2 warm-ups) with the range (min-max) and the
    interquartile range, then a comparison with the fastest torch peer.

    * affine MAF, ``d = 2`` and ``d = 8``: ``Flow(StandardNormal(d), maf_stack(d, 5,
      (64, 64)))``; a training step is ``Flow.nll_and_grad`` and one :class:`nfref.optim.Adam`
      update;
    * the same with the rational-quadratic spline ``RationalQuadraticSpline(8, 5.0)``;
    * 16 planar layers on a standard normal base, fitted by reverse KL
      (:func:`nfref.kl.reverse_kl_and_grad`, ``n = 1024``) to the energy :func:`u1`.

``evaluations``
    For one spline MAF training step, how many times each layer's transformer runs a pass
    (its hooks ``_forward_and_vjp``, ``_inverse_and_vjp``, ``_forward``, ``_inverse``, or a
    public method that evaluates it) and a pullback, and how many times
    :func:`~nfref.autoregressive.transformers.spline.spline_knots` runs. The one-pass
    contract asks for one of each per layer.

``scaling``
    Time per training step of the affine and the spline MAF against ``d`` in
    (2, 4, 8, 16, 32, 64) at batch 1024 and against the batch in
    (1e2, 1e3, 1e4, 1e5) at ``d = 8``, with the growth exponent :math:`p` of
    :math:`t \propto d^p` (or :math:`n^p`): the least-squares slope of :math:`\log t`
    against :math:`\log d` (or :math:`\log n`). Median of ``min(R, 3)`` rounds after one
    warm-up; the batch of 1e5 (seconds per step) is one round.

``memory``
    Peak memory of one ``d = 64`` training step (affine and spline MAF) at batch 1024, as
    counted by :mod:`tracemalloc` (which sees NumPy's array allocations, not BLAS
    workspaces).

Threads. BLAS threads are pinned to 2 by ``threadpoolctl`` when it is installed; otherwise
the thread count is whatever the environment set before NumPy was imported, and the bench
prints it: run ``OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 python -m nfref bench`` to pin.

Overrides, for a quick run: ``NFREF_BENCH_ROUNDS`` (``R``) and ``NFREF_BENCH_BATCH`` (the
batch of the table, the evaluations, the ``d`` sweep and the memory benchmark), or the
``--rounds`` and ``--batch`` options of ``python -m nfref bench``.
"""

import contextlib
import copy
import os
import sys
import time
import tracemalloc

import numpy as np

from nfref.energies import grad_u1, u1
from nfref.report.claims import benchmark
from nfref.report import fits  # noqa: F401  (registers the fitting benchmarks)

__all__ = ["u1", "grad_u1", "log_u1", "grad_log_u1", "pinned_threads", "thread_settings",
           "loadavg", "spread", "time_rounds", "count_evaluations", "PEERS"]

N_LAYERS, HIDDEN, BATCH, ROUNDS, WARMUP, THREADS = 5, (64, 64), 1024, 15, 2, 2

#: Fastest torch peer (zuko, nflows or normflows), ms, with the peers' default ReLU
#: conditioners, as first measured on one machine of this kind: ``(flow, d, column) ->
#: (low, high)``. Machines of one kind differ: on another, the fastest peers' medians were
#: 12.4, 14.9, 27.3, 33.2, 57.2, 147 and 10.9 ms (same order). Compare only figures taken
#: in one session on one machine; these are printed for orientation.
PEERS = {
    ("affine MAF", 2, "step"): (6.1, 7.5),
    ("affine MAF", 8, "step"): (7.1, 12.5),
    ("affine MAF", 8, "sampling"): (13.6, 14.9),
    ("spline MAF", 2, "step"): (19.5, 27.0),
    ("spline MAF", 8, "step"): (42.0, 57.0),
    ("spline MAF", 8, "sampling"): (124.0, 141.0),
    ("planar K=16", 2, "step"): (4.1, 4.8),
}
TARGET = 0.8          # target: 0.8 x the low end of the fastest peer's range


# ---------------------------------------------------------------------- the U1 energy
def log_u1(z):
    """Unnormalized target log-density ``-U1(z)``."""
    return -u1(z)


def grad_log_u1(z):
    """``-grad U1(z)``."""
    return -grad_u1(z)


# ---------------------------------------------------------------------- settings
def _env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        out = int(float(value))
    except ValueError:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}") from None
    if out < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return out


def _rounds(rounds):
    return _env_int("NFREF_BENCH_ROUNDS", ROUNDS) if rounds is None else int(rounds)


def _batch(batch):
    return _env_int("NFREF_BENCH_BATCH", BATCH) if batch is None else int(batch)


def loadavg():
    """The first three fields of ``/proc/loadavg`` (1, 5 and 15 minutes), or "unavailable"."""
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "unavailable"


def _blas():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                      # older NumPy: no dict mode
        return "unknown BLAS"


def thread_settings():
    """One line: the BLAS library and the thread settings found (threadpoolctl's view when
    it is installed, else the environment variables)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        env = ", ".join(f"{k}={os.environ.get(k, 'unset')}"
                        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
        return (f"NumPy {np.__version__}, {_blas()}, {os.cpu_count()} CPUs; threadpoolctl not "
                f"installed, threads as the environment set them before NumPy started: {env} "
                f"(to pin: OMP_NUM_THREADS={THREADS} OPENBLAS_NUM_THREADS={THREADS} "
                "python -m nfref bench)")
    pools = ", ".join(f"{p.get('internal_api', '?')} {p.get('num_threads', '?')} threads"
                      for p in threadpool_info())
    return f"NumPy {np.__version__}, {_blas()}, {os.cpu_count()} CPUs; threadpoolctl: {pools}"


@contextlib.contextmanager
def pinned_threads(n=THREADS):
    """Limit the BLAS and OpenMP pools to ``n`` threads with threadpoolctl when it is
    installed (a no-op otherwise); yields :func:`thread_settings` inside the limit."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield thread_settings()
        return
    with threadpool_limits(limits=n):
        yield thread_settings()


# ---------------------------------------------------------------------- timing
def time_rounds(func, rounds, warmup=WARMUP):
    """Seconds of ``func(i)`` for ``i`` in ``range(warmup + rounds)``, the warm-ups dropped.

    ``func`` receives the round index so that each round can use its own input
    (no pass reuses the activations of an earlier one)."""
    out = []
    for i in range(warmup + rounds):
        start = time.perf_counter()
        func(i)
        out.append(time.perf_counter() - start)
    return np.array(out[warmup:])


def spread(seconds):
    """``(median, min, max, q1, q3)`` in milliseconds."""
    ms = 1e3 * np.asarray(seconds, dtype=float)
    q1, med, q3 = np.percentile(ms, [25, 50, 75])
    return med, ms.min(), ms.max(), q1, q3


def _fmt(seconds):
    if seconds is None:
        return "failed"
    med, lo, hi, q1, q3 = spread(seconds)
    return f"{med:.2f} [{lo:.2f}-{hi:.2f}, IQR {q1:.2f}-{q3:.2f}]"


def _say(stream, msg):
    print(msg, file=stream, flush=True)


def _guarded(stream, label, func):
    """``func()``, or ``None`` after printing the exception (a broken configuration is
    reported and the others still run)."""
    try:
        return func()
    except Exception as exc:
        _say(stream, f"  {label}: failed: {type(exc).__name__}: {exc}")
        return None


# ---------------------------------------------------------------------- configurations
def _spline():
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    return RationalQuadraticSpline(8, 5.0)


def maf_flow(d, kind="affine", seed=0, activation="tanh"):
    """``Flow(StandardNormal(d), maf_stack(d, 5, (64, 64)))`` with the affine transformer or
    ``RationalQuadraticSpline(8, 5.0)`` (``kind="spline"``), MADE activation ``activation``."""
    from nfref.autoregressive.maf import maf_stack
    from nfref.distributions import Flow, StandardNormal
    transformer = _spline() if kind == "spline" else None
    return Flow(StandardNormal(d), maf_stack(d, N_LAYERS, HIDDEN, transformer=transformer,
                                             random_state=seed, activation=activation))


def planar_flow(K=16, seed=0):
    """``K`` planar layers (parameters ``N(0, 0.5^2)``) on a 2-D standard normal base."""
    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain
    from nfref.one_layer.planar import Planar
    rng = np.random.default_rng(seed)
    return Flow(StandardNormal(2), Chain([Planar.random(2, rng, scale=0.5) for _ in range(K)]))


def mle_step(flow, lr=1e-4):
    """``step(x)``: ``Flow.nll_and_grad(x)`` and one Adam update of every parameter."""
    from nfref.optim import Adam
    opt = Adam(lr)

    def step(x):
        loss, grads = flow.nll_and_grad(x)
        opt.step(flow.params, grads)
        return loss
    return step


def reverse_kl_step(flow, n, lr=1e-3):
    """``step(seed)``: reverse KL to ``exp(-U1)`` on ``n`` base draws and one Adam update."""
    from nfref.kl import reverse_kl_and_grad
    from nfref.optim import Adam
    opt = Adam(lr)

    def step(seed):
        loss, grads = reverse_kl_and_grad(flow, log_u1, grad_log_u1, n=n, random_state=seed)
        opt.step(flow.params, grads)
        return loss
    return step


def _measure(stream, label, flow, d, batch, rounds, reverse_kl=False):
    """``{"step", "density", "sampling"}`` -> seconds of each round (``None`` if it failed)."""
    rng = np.random.default_rng(d)
    xs = rng.standard_normal((WARMUP + rounds, batch, d))     # a fresh batch every round
    step = reverse_kl_step(flow, batch) if reverse_kl else mle_step(flow)
    out = {}
    out["step"] = _guarded(stream, f"{label} step", lambda: time_rounds(
        (lambda i: step(1000 + i)) if reverse_kl else (lambda i: step(xs[i])), rounds))
    out["density"] = _guarded(stream, f"{label} density", lambda: time_rounds(
        lambda i: flow.logpdf(xs[i]), rounds))
    out["sampling"] = _guarded(stream, f"{label} sampling", lambda: time_rounds(
        lambda i: flow.rvs(batch, random_state=2000 + i), rounds))
    return out


@benchmark("table")
def table(stream=None, rounds=None, batch=None):
    """ms per training step, density pass and sampling pass; the peers and the targets."""
    stream = stream or sys.stdout
    rounds, batch = _rounds(rounds), _batch(batch)
    _say(stream, f"load average before: {loadavg()}")
    _say(stream, f"float64, batch {batch}, MAF: {N_LAYERS} layers, MADE hidden {HIDDEN}; "
                 f"median of {rounds} rounds after {WARMUP} warm-ups, ms "
                 "[min-max, interquartile range]")
    configs = [("affine MAF", 2, "affine"), ("affine MAF", 8, "affine"),
               ("spline MAF", 2, "spline"), ("spline MAF", 8, "spline"),
               ("affine MAF relu", 2, "affine relu"), ("affine MAF relu", 8, "affine relu"),
               ("spline MAF relu", 2, "spline relu"), ("spline MAF relu", 8, "spline relu"),
               ("planar K=16", 2, "planar")]
    results = {}
    for name, d, kind in configs:
        label = f"{name} d={d}"
        _say(stream, f"{label} ...")
        flow = _guarded(stream, f"{label} build",
                        lambda: planar_flow() if kind == "planar" else maf_flow(
                            d, kind.split()[0], activation="relu" if "relu" in kind else "tanh"))
        if flow is None:
            results[(name, d)] = {"step": None, "density": None, "sampling": None}
            continue
        res = results[(name, d)] = _measure(stream, label, flow, d, batch, rounds,
                                            reverse_kl=(kind == "planar"))
        for col in ("step", "density", "sampling"):
            _say(stream, f"  {col:<9} {_fmt(res[col])}")
    _say(stream, "step: MAF = Flow.nll_and_grad + Adam; planar = reverse KL to exp(-U1) "
                 "(Rezende and Mohamed 2015, Table 1) by nfref.kl.reverse_kl_and_grad, n = "
                 f"{batch}, + Adam. density = Flow.logpdf; sampling = Flow.rvs({batch}).")
    _say(stream, "")
    _say(stream, "against the fastest torch peer (zuko, nflows or normflows, with their default "
                 "ReLU conditioners, as first measured on another machine of this kind: for "
                 "orientation only, machines differ), ms; "
                 f"target = {TARGET} x the low end of the peer's range")
    _say(stream, f"{'':<34} {'nfref':>8} {'peer':>12} {'target':>7}  nfref/peer")
    rows = [(v, d, col, lohi) for (name, d, col), lohi in PEERS.items()
            for v in (name, name + " relu") if (v, d) in results]
    for name, d, col, (lo, hi) in rows:
        what = "train step" if col == "step" else f"sample {batch}"
        secs = results.get((name, d), {}).get(col)
        target = TARGET * lo
        if secs is None:
            mine, verdict = f"{'failed':>8}", ""
        else:
            med = spread(secs)[0]
            verdict = (f"{med / lo:>10.2f}  " + ("meets the target" if med <= target
                                                  else "misses the target"))
            mine = f"{med:>8.2f}"
        _say(stream, f"{name + ' d=' + str(d) + ' ' + what:<34} {mine} "
                     f"{f'{lo:g}-{hi:g}':>12} {target:>7.2f}  {verdict}")
    if batch != BATCH:
        _say(stream, f"(batch {batch}, not the peers' {BATCH}: the comparison does not apply)")
    _say(stream, f"load average after: {loadavg()}")
    return results


# ---------------------------------------------------------------------- evaluation counts
_PASS_HOOKS = ("_forward_and_vjp", "_inverse_and_vjp", "_forward", "_inverse")
_PUBLIC_PASSES = ("forward", "inverse", "derivative", "forward_and_vjp", "inverse_and_vjp")
_PUBLIC_PASS_AND_PULLBACK = ("forward_vjp", "inverse_vjp")
_RETURNS_PULLBACK = ("_forward_and_vjp", "_inverse_and_vjp", "forward_and_vjp",
                     "inverse_and_vjp")


class _Tally:
    """Counts of one layer's transformer."""

    def __init__(self):
        self.passes = self.pullbacks = self.knots = self.in_pullback = 0


class _Tracker:
    """Which layer's transformer is running, and whether inside a pass or a pullback."""

    def __init__(self):
        self.active, self.mode, self.outside_knots = None, None, 0


def _instrument(transformer, tally, tracker):
    """A shallow copy of ``transformer`` whose pass entry points and returned pullbacks
    count into ``tally``. Only the outermost call counts (a public method calling a hook,
    or ``_forward`` calling ``_forward_and_vjp``, is one pass); a pass entered while a
    pullback runs counts as a pass recomputed inside the pullback."""
    tr = copy.copy(transformer)

    def wrap_pullback(back):
        def counted(*args, **kwargs):
            outer = tracker.active is None
            if outer:
                tally.pullbacks += 1
                tracker.active, tracker.mode = tally, "pullback"
            try:
                return back(*args, **kwargs)
            finally:
                if outer:
                    tracker.active, tracker.mode = None, None
        return counted

    def wrap(name, method):
        def counted(*args, **kwargs):
            outer = tracker.active is None
            recomputed = not outer and tracker.active is tally and tracker.mode == "pullback"
            if outer:
                tally.passes += 1
                if name in _PUBLIC_PASS_AND_PULLBACK:
                    tally.pullbacks += 1
                tracker.active, tracker.mode = tally, "pass"
            elif recomputed:
                tally.in_pullback += 1
                tracker.mode = "pass inside a pullback"
            try:
                out = method(*args, **kwargs)
            finally:
                if outer:
                    tracker.active, tracker.mode = None, None
                elif recomputed:
                    tracker.mode = "pullback"
            if outer and name in _RETURNS_PULLBACK:
                out = (*out[:-1], wrap_pullback(out[-1]))
            return out
        return counted

    for name in _PASS_HOOKS + _PUBLIC_PASSES + _PUBLIC_PASS_AND_PULLBACK:
        if hasattr(type(tr), name):
            setattr(tr, name, wrap(name, getattr(tr, name)))   # shadows the class method
    return tr


@contextlib.contextmanager
def _counting_knots(tracker):
    """Patch ``nfref.autoregressive.transformers.spline.spline_knots`` with a counter
    (restored on exit)."""
    from nfref.autoregressive.transformers import spline as mod
    original = mod.spline_knots

    def counted(*args, **kwargs):
        if tracker.active is None:
            tracker.outside_knots += 1
        else:
            tracker.active.knots += 1
        return original(*args, **kwargs)
    mod.spline_knots = counted
    try:
        yield
    finally:
        mod.spline_knots = original


def count_evaluations(d=8, batch=BATCH, seed=0):
    """Per layer of a spline MAF: ``(tallies, outside_knots)`` for one training step
    (``Flow.nll_and_grad`` + Adam), each layer's transformer an instrumented copy."""
    flow = maf_flow(d, "spline", seed)
    step = mle_step(flow)
    tracker = _Tracker()
    tallies = []
    for layer in flow.transform:
        tallies.append(_Tally())
        layer.transformer = _instrument(layer.transformer, tallies[-1], tracker)
    x = np.random.default_rng(seed).standard_normal((batch, d))
    with _counting_knots(tracker):
        step(x)
    return tallies, tracker.outside_knots


def _plural(n, word):
    """``"1 pass"``, ``"2 passes"``, ``"1 pullback"``, ``"2 pullbacks"``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('s') else 's'}"


@benchmark("evaluations")
def evaluations(stream=None, rounds=None, batch=None):
    """Transformer passes, pullbacks and knot computations per layer per training step."""
    stream = stream or sys.stdout
    batch = _batch(batch)
    d = 8
    _say(stream, f"load average before: {loadavg()}")
    _say(stream, f"spline MAF (RationalQuadraticSpline(8, 5.0)), d = {d}, {N_LAYERS} layers, "
                 f"batch {batch}: one training step (Flow.nll_and_grad + Adam)")
    out = _guarded(stream, "count", lambda: count_evaluations(d, batch))
    if out is not None:
        tallies, outside = out
        for k, t in enumerate(tallies):
            _say(stream, f"  layer {k}: {_plural(t.passes, 'pass')}, "
                         f"{_plural(t.pullbacks, 'pullback')}, {t.knots} knots"
                         + (f", {_plural(t.in_pullback, 'pass')} inside its pullbacks"
                            if t.in_pullback else ""))
        rows = {(t.passes, t.pullbacks, t.knots, t.in_pullback) for t in tallies}
        if len(rows) == 1:
            p, b, kn, ip = rows.pop()
            _say(stream, f"per layer per step: {_plural(p, 'pass')}, {_plural(b, 'pullback')}, "
                         f"{kn} knots" + (f", {_plural(ip, 'pass')} inside pullbacks" if ip
                                          else ""))
        else:
            _say(stream, "per layer per step: the layers differ (see above)")
        if outside:
            _say(stream, f"spline_knots outside any transformer call: {outside}")
        _say(stream, "pass = an outermost call of _forward_and_vjp, _inverse_and_vjp, _forward, "
                     "_inverse or a public method that evaluates the transformer (forward_vjp "
                     "and inverse_vjp count as a pass and a pullback); knots = spline_knots "
                     "calls while the layer's transformer runs")
    _say(stream, f"load average after: {loadavg()}")
    return out


# ---------------------------------------------------------------------- scaling
def growth_exponent(sizes, seconds):
    """Least-squares slope of ``log t`` against ``log size``."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def _step_median(flow, d, batch, rounds, warmup=1):
    rng = np.random.default_rng(d + batch)
    xs = rng.standard_normal((warmup + rounds, batch, d))
    step = mle_step(flow)
    return float(np.median(time_rounds(lambda i: step(xs[i]), rounds, warmup)))


@benchmark("scaling")
def scaling(stream=None, rounds=None, batch=None):
    """Time per training step against d and against the batch, with growth exponents."""
    stream = stream or sys.stdout
    rounds, batch = max(1, min(3, _rounds(rounds))), _batch(batch)
    dims, batches = (2, 4, 8, 16, 32, 64), (100, 1000, 10000, 100000)
    _say(stream, f"load average before: {loadavg()}")
    _say(stream, f"ms per training step (nll_and_grad + Adam), MAF {N_LAYERS} layers, MADE "
                 f"hidden {HIDDEN}; median of {rounds} rounds after 1 warm-up (batch 1e5: "
                 "one round, no warm-up)")
    def sweep(symbol, values, width, run):
        ts = []
        for v in values:
            t = _guarded(stream, f"{symbol}={v}", lambda: run(v))
            if t is None:
                break
            ts.append(t)
            _say(stream, f"  {symbol}={v:<{width}} {1e3 * t:9.2f} ms")
        if len(ts) >= 2:
            _say(stream, f"  growth exponent in {symbol}: "
                         f"{growth_exponent(values[:len(ts)], ts):.2f} "
                         f"({symbol} = {values[0]}..{values[len(ts) - 1]})")

    for kind in ("affine", "spline"):
        _say(stream, f"{kind} MAF against d at batch {batch}:")
        sweep("d", dims, 3, lambda d: _step_median(maf_flow(d, kind), d, batch, rounds))
        _say(stream, f"{kind} MAF against the batch at d = 8:")
        # n = 1e5: one round and no warm-up, it takes seconds
        sweep("n", batches, 6, lambda n: _step_median(maf_flow(8, kind), 8, n,
                                                      *((rounds, 1) if n < 100000 else (1, 0))))
    _say(stream, f"load average after: {loadavg()}")


# ---------------------------------------------------------------------- memory
def step_peak_bytes(kind, d=64, batch=BATCH, seed=0):
    """``tracemalloc`` peak (bytes) of one training step, after one untraced warm-up step
    (so the optimizer's state already exists), and the bytes of the parameters."""
    flow = maf_flow(d, kind, seed)
    step = mle_step(flow)
    xs = np.random.default_rng(seed).standard_normal((2, batch, d))
    step(xs[0])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        step(xs[1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sum(v.nbytes for v in flow.params.values())


@benchmark("memory")
def memory(stream=None, rounds=None, batch=None):
    """Peak memory of a d = 64 training step (tracemalloc: NumPy's allocations)."""
    stream = stream or sys.stdout
    batch, d = _batch(batch), 64
    _say(stream, f"load average before: {loadavg()}")
    _say(stream, f"peak memory of one training step (nll_and_grad + Adam), MAF d = {d}, "
                 f"{N_LAYERS} layers, MADE hidden {HIDDEN}, batch {batch}; tracemalloc peak, "
                 "which counts NumPy's array allocations (not BLAS workspaces)")
    for kind in ("affine", "spline"):
        out = _guarded(stream, f"{kind} MAF", lambda: step_peak_bytes(kind, d, batch))
        if out is not None:
            peak, params = out
            _say(stream, f"  {kind} MAF: peak {peak / 2**20:8.1f} MiB (parameters "
                         f"{params / 2**20:.2f} MiB, batch {batch * d * 8 / 2**20:.2f} MiB)")
    _say(stream, f"load average after: {loadavg()}")
