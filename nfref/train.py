r"""Training loops for flows: maximum likelihood on a data set and reverse KL to a target.

Both loops minimize a Monte Carlo loss with a first-order optimizer of :mod:`nfref.optim`
(:class:`~nfref.optim.Adam` by default) and the library's hand-derived gradients
(:meth:`nfref.distributions.Flow.nll_and_grad`, :func:`nfref.kl.reverse_kl_and_grad`):

* :func:`fit_mle` -- mini-batches of the data taken by **epochs without replacement** (each
  epoch is a fresh permutation of the training set, cut into ``n // batch_size`` batches; the
  remainder of the permutation is left out of that epoch), the mean negative log-likelihood
  :math:`-\frac1B\sum_{b}\log q(x_b)` (notes 003);
* :func:`fit_reverse_kl` -- fresh base draws :math:`u_1..u_B \sim p_U` at every step and the
  loss :math:`\frac1B\sum_b[\log p_U(u_b) - \log|\det J_\phi(u_b)| - \log\tilde p(\phi(u_b))]`
  (notes 001, 002), whose expectation is :math:`D_{KL}(q\|p) - \log Z`;
* :func:`train` -- the loop both use, for any ``objective(rng) -> (loss, grads)``.

The loop, at step :math:`t = 0, 1, \dots, T-1`:

1. the learning rate :math:`\eta_t` of :func:`learning_rate` (a linear warm-up over the first
   ``warmup`` steps, then a cosine or step decay);
2. gradient-norm clipping (Pascanu et al., 2013): with :math:`\|g\| = (\sum_k \|g_k\|_F^2)^{1/2}`
   over every parameter array, :math:`g \leftarrow g \min(1, c / \|g\|)`;
3. one optimizer step with :math:`\eta_t`;
4. every ``eval_every`` steps (and at the last), the validation loss; the parameters with the
   lowest validation loss so far are copied, and when it has not improved by more than
   ``min_delta`` for ``patience`` evaluations in a row the loop stops (early stopping,
   Prechelt, 1998). At the end the best parameters are written back into the flow.

Validation losses: for :func:`fit_mle`, the mean negative log-likelihood of the held-out set;
for :func:`fit_reverse_kl`, the reverse-KL loss on a fixed set of base draws (common random
numbers, so successive evaluations differ only through the parameters).

Progress: one line with the step, the training loss (mean since the last evaluation), the
validation loss, steps per second and the time left. In a terminal it is rewritten in place
(``\r``); in a Jupyter kernel it is one ``IPython.display`` output updated in place; otherwise
(a log file) one line per evaluation.

Randomness: only the ``random_state`` of the call (:func:`numpy.random.default_rng`); the same
flow, data and seed give the same parameters to the bit.
"""

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from nfref._validation import as_batch, as_rng
from nfref.optim import Adam, GradientDescent

__all__ = ["History", "learning_rate", "clip_by_global_norm", "train", "fit_mle",
           "fit_reverse_kl", "Progress"]

SCHEDULES = ("constant", "cosine", "step")


# ---------------------------------------------------------------------- settings checks
def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _nonnegative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def _positive_float(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}") from None
    if isinstance(value, bool) or not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return v


def _fraction(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}") from None
    if isinstance(value, bool) or not (0.0 <= v <= 1.0):
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return v


# ---------------------------------------------------------------------- schedule
def learning_rate(step, n_steps, lr, schedule="cosine", warmup=0, final_fraction=0.0,
                  step_every=None, gamma=0.1):
    r"""Learning rate :math:`\eta_t` at step ``t = step`` (0-based) of ``n_steps``.

    Warm-up (Goyal et al., 2017): :math:`\eta_t = \eta\,(t + 1)/W` for :math:`t < W`
    (``W = warmup``). After it, with :math:`s = (t - W)/(T - W)` the fraction of the
    post-warm-up steps done and :math:`f` = ``final_fraction``:

    * ``"constant"``: :math:`\eta_t = \eta`;
    * ``"cosine"`` (Loshchilov and Hutter, 2017, without restarts):
      :math:`\eta_t = \eta\,[f + (1 - f)\,\tfrac12(1 + \cos \pi s)]`, from :math:`\eta` down to
      :math:`f\eta`;
    * ``"step"``: :math:`\eta_t = \eta\,\gamma^{\lfloor (t - W)/S\rfloor}` with ``S = step_every``.

    Parameters
    ----------
    step, n_steps : int
        ``0 <= step < n_steps``.
    lr : float
        The peak rate :math:`\eta > 0`.
    schedule : {"constant", "cosine", "step"}
    warmup : int
        ``0 <= warmup < n_steps``.
    final_fraction : float in [0, 1]
        Cosine only.
    step_every : int, optional
        Step decay only: the period ``S`` (default a third of the post-warm-up steps).
    gamma : float in (0, 1]
        Step decay only: the factor per period.

    Returns
    -------
    float
    """
    n_steps = _positive_int(n_steps, "n_steps")
    step = _nonnegative_int(step, "step")
    if step >= n_steps:
        raise ValueError(f"step: expected 0 <= step < n_steps = {n_steps}, got {step}")
    lr = _positive_float(lr, "lr")
    warmup = _nonnegative_int(warmup, "warmup")
    if warmup >= n_steps:
        raise ValueError(f"warmup: expected fewer warm-up steps than n_steps = {n_steps}, "
                         f"got {warmup}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
    final_fraction = _fraction(final_fraction, "final_fraction")
    gamma = _fraction(gamma, "gamma")
    if gamma == 0.0:
        raise ValueError("gamma: expected a number in (0, 1], got 0")
    if step < warmup:
        return lr * (step + 1) / warmup
    t, rest = step - warmup, n_steps - warmup
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        cosine = 0.5 * (1 + math.cos(math.pi * t / rest))
        return lr * (final_fraction + (1 - final_fraction) * cosine)
    period = max(1, rest // 3) if step_every is None else _positive_int(step_every, "step_every")
    return lr * gamma ** (t // period)


def clip_by_global_norm(grads, max_norm):
    r"""Scale every gradient by :math:`\min(1, c/\|g\|)`, :math:`\|g\|^2 = \sum_k \|g_k\|_F^2`.

    Returns ``(clipped, norm)``: a new dict (the argument is not changed) and the norm
    before clipping. ``max_norm=None`` returns the gradients unscaled.
    """
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if max_norm is None or norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return {k: g * scale for k, g in grads.items()}, norm


# ---------------------------------------------------------------------- history
@dataclass
class History:
    """What a fit did, one row per evaluation.

    Attributes
    ----------
    step : ndarray of int, shape (m,)
        Steps done at the evaluation (1-based count).
    train_loss : ndarray, shape (m,)
        Mean training (mini-batch) loss over the steps since the previous evaluation.
    val_loss : ndarray, shape (m,)
        Validation loss at the evaluation (NaN when the fit has no validation set).
    seconds : ndarray, shape (m,)
        Wall-clock seconds since the start of the fit.
    lr : ndarray, shape (m,)
        Learning rate of the last step before the evaluation.
    best_step : int
        Step of the parameters kept (the lowest validation loss; the last step without
        validation).
    best_val_loss : float
    stopped_early : bool
    n_steps : int
        Steps taken.
    n_clipped : int
        Steps whose gradient was clipped.
    settings : dict
        The settings of the fit.
    """

    step: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    seconds: np.ndarray
    lr: np.ndarray
    best_step: int
    best_val_loss: float
    stopped_early: bool
    n_steps: int
    n_clipped: int
    settings: dict = field(default_factory=dict)

    def as_array(self):
        """The rows as an array of shape (m, 4): step, train loss, validation loss, seconds."""
        return np.column_stack([self.step, self.train_loss, self.val_loss, self.seconds])

    def __len__(self):
        return len(self.step)


# ---------------------------------------------------------------------- progress
def _notebook_display():
    """``IPython.display`` when running inside a Jupyter kernel, else ``None``."""
    ip = sys.modules.get("IPython")
    if ip is None:
        return None
    try:
        shell = ip.get_ipython()
    except AttributeError:
        return None
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython import display
    return display


class Progress:
    """A progress line updated in place (terminal ``\\r`` or a notebook display), else printed.

    Parameters
    ----------
    total : int
        Planned steps.
    stream : file, optional
        Default ``sys.stdout``.
    mode : {"auto", "terminal", "notebook", "plain", "off"}
    """

    def __init__(self, total, stream=None, mode="auto"):
        if mode not in ("auto", "terminal", "notebook", "plain", "off"):
            raise ValueError(f"mode: expected 'auto', 'terminal', 'notebook', 'plain' or 'off', "
                             f"got {mode!r}")
        self.total, self.stream = total, stream or sys.stdout
        self._display = _notebook_display() if mode in ("auto", "notebook") else None
        if mode == "auto":
            mode = "notebook" if self._display is not None else \
                ("terminal" if getattr(self.stream, "isatty", lambda: False)() else "plain")
        if mode == "notebook" and self._display is None:
            mode = "plain"
        self.mode, self._handle, self._width = mode, None, 0

    @staticmethod
    def line(step, total, train_loss, val_loss, rate, left):
        val = "" if val_loss is None or not np.isfinite(val_loss) else f"  val {val_loss:.5f}"
        return (f"step {step:>7d}/{total}  loss {train_loss:.5f}{val}  {rate:6.1f} steps/s  "
                f"{left:6.0f} s left")

    def update(self, step, train_loss, val_loss, elapsed):
        if self.mode == "off":
            return
        rate = step / elapsed if elapsed > 0 else float("inf")
        left = (self.total - step) / rate if np.isfinite(rate) and rate > 0 else 0.0
        text = self.line(step, self.total, train_loss, val_loss, rate, left)
        if self.mode == "terminal":
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)
        elif self.mode == "notebook":
            if self._handle is None:
                self._handle = self._display.display(self._display.Pretty(text), display_id=True)
            else:
                self._handle.update(self._display.Pretty(text))
        else:
            print(text, file=self.stream, flush=True)

    def close(self, message=None):
        if self.mode == "terminal":
            self.stream.write("\n")
        if message and self.mode != "off":
            print(message, file=self.stream, flush=True)


# ---------------------------------------------------------------------- the loop
def _make_optimizer(optimizer, lr):
    if optimizer == "adam":
        return Adam(lr)
    if optimizer == "sgd":
        return GradientDescent(lr)
    if hasattr(optimizer, "step") and hasattr(optimizer, "lr"):
        return optimizer
    raise ValueError(f"optimizer: expected 'adam', 'sgd' or an object with step(params, grads) "
                     f"and an lr attribute, got {optimizer!r}")


def _all_finite(loss, grads):
    return math.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def train(objective, params, n_steps, validate=None, lr=1e-3, optimizer="adam",
          schedule="cosine", warmup=0, final_fraction=0.0, step_every=None, gamma=0.1,
          clip_norm=None, eval_every=100, patience=None, min_delta=0.0, random_state=None,
          progress="auto", stream=None):
    r"""Minimize ``objective`` over ``params`` (updated in place; module docstring).

    Parameters
    ----------
    objective : callable
        ``objective(rng) -> (loss, grads)``, ``grads`` keyed like ``params``; ``rng`` is the
        fit's generator (draw the mini-batch or the base sample from it).
    params : dict of ndarray
        Updated in place; at the end they hold the best parameters (lowest validation loss)
        when ``validate`` is given, else those of the last step.
    n_steps : int
        Planned optimizer steps (fewer when early stopping ends the fit).
    validate : callable, optional
        ``validate() -> float``, the validation loss of the current parameters.
    lr : float
        Peak learning rate.
    optimizer : {"adam", "sgd"} or object
        An object needs ``step(params, grads)`` and an ``lr`` attribute, which the schedule sets.
    schedule, warmup, final_fraction, step_every, gamma
        See :func:`learning_rate`.
    clip_norm : float, optional
        Maximum global gradient norm.
    eval_every : int
        Steps between evaluations (history rows, progress, validation).
    patience : int, optional
        Evaluations without improvement before stopping (needs ``validate``); ``None``
        never stops early but still restores the best parameters.
    min_delta : float
        An improvement is a validation loss below the best by more than this.
    random_state : None, int or numpy.random.Generator
    progress : {"auto", "terminal", "notebook", "plain", "off"} or bool
        ``True`` is ``"auto"``, ``False`` is ``"off"``.
    stream : file, optional

    Returns
    -------
    History

    Raises
    ------
    ValueError
        For a bad setting (naming it), or when the loss or a gradient stops being finite
        (the parameters are then those of the last finite step).
    """
    if not callable(objective):
        raise ValueError(f"objective: expected a callable rng -> (loss, grads), got "
                         f"{type(objective).__name__}")
    if not isinstance(params, dict) or not params:
        raise ValueError(f"params: expected a non-empty dict of arrays, got "
                         f"{type(params).__name__}")
    n_steps = _positive_int(n_steps, "n_steps")
    lr = _positive_float(lr, "lr")
    learning_rate(0, n_steps, lr, schedule, warmup, final_fraction, step_every, gamma)  # checks
    clip_norm = _positive_float(clip_norm, "clip_norm", allow_none=True)
    eval_every = _positive_int(eval_every, "eval_every")
    if patience is not None:
        patience = _positive_int(patience, "patience")
        if validate is None:
            raise ValueError("patience: early stopping needs a validation loss (validate), "
                             "got validate=None")
    try:
        min_delta = float(min_delta)
    except (TypeError, ValueError):
        raise ValueError(f"min_delta: expected a non-negative number, got {min_delta!r}") from None
    if not (math.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta: expected a non-negative number, got {min_delta!r}")
    if validate is not None and not callable(validate):
        raise ValueError(f"validate: expected a callable or None, got {validate!r}")
    if progress is True:
        progress = "auto"
    elif progress is False:
        progress = "off"
    opt = _make_optimizer(optimizer, lr)
    rng = as_rng(random_state)
    bar = Progress(n_steps, stream, progress)
    settings = dict(n_steps=n_steps, lr=lr, schedule=schedule, warmup=warmup,
                    final_fraction=final_fraction, step_every=step_every, gamma=gamma,
                    clip_norm=clip_norm, eval_every=eval_every, patience=patience,
                    min_delta=min_delta)

    rows = []
    best_val, best_step, best_params, bad, stopped, n_clipped = math.inf, 0, None, 0, False, 0
    window, start, step = [], time.perf_counter(), 0
    for step in range(1, n_steps + 1):
        eta = learning_rate(step - 1, n_steps, lr, schedule, warmup, final_fraction,
                            step_every, gamma)
        loss, grads = objective(rng)
        loss = float(loss)
        if not _all_finite(loss, grads):
            bar.close()
            raise ValueError(f"train: the loss or its gradient is not finite at step {step} "
                             f"(loss {loss}); lower lr, set clip_norm or check the data")
        grads, norm = clip_by_global_norm(grads, clip_norm)
        n_clipped += clip_norm is not None and norm > clip_norm
        opt.lr = eta
        opt.step(params, grads)
        window.append(loss)
        if step % eval_every and step != n_steps:
            continue
        val = float(validate()) if validate is not None else math.nan
        if validate is not None and not math.isfinite(val):
            bar.close()
            raise ValueError(f"train: the validation loss is not finite at step {step} ({val})")
        elapsed = time.perf_counter() - start
        rows.append((step, float(np.mean(window)), val, elapsed, eta))
        window = []
        bar.update(step, rows[-1][1], val, elapsed)
        if validate is not None:
            if val < best_val - min_delta:
                best_val, best_step, bad = val, step, 0
                best_params = {k: np.array(p, copy=True) for k, p in params.items()}
            else:
                bad += 1
                if patience is not None and bad >= patience:
                    stopped = True
                    break
    if validate is not None and best_params is not None:
        for k, p in params.items():
            p[...] = best_params[k]
    else:
        best_step, best_val = step, rows[-1][2]
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    bar.close(f"best validation loss {best_val:.5f} at step {best_step} of {step}"
              + (" (stopped early)" if stopped else "") if validate is not None else None)
    return History(step=arr[:, 0].astype(int), train_loss=arr[:, 1], val_loss=arr[:, 2],
                   seconds=arr[:, 3], lr=arr[:, 4], best_step=int(best_step),
                   best_val_loss=float(best_val), stopped_early=stopped, n_steps=int(step),
                   n_clipped=int(n_clipped), settings=settings)


# ---------------------------------------------------------------------- the two objectives
def _epoch_batches(n, batch_size):
    """``objective``-side iterator of index arrays: epochs of ``n // batch_size`` disjoint
    batches, a fresh permutation per epoch."""
    per_epoch = n // batch_size
    state = {"perm": None, "i": per_epoch}

    def next_batch(rng):
        if state["i"] == per_epoch:
            state["perm"], state["i"] = rng.permutation(n), 0
        i = state["i"]
        state["i"] += 1
        return state["perm"][i * batch_size:(i + 1) * batch_size]
    return next_batch


def fit_mle(flow, x, validation=None, n_steps=1000, batch_size=256, **settings):
    r"""Maximum likelihood: minimize the mean NLL of mini-batches of ``x`` (epochs without
    replacement) with :meth:`Flow.nll_and_grad`; early stopping on the mean NLL of
    ``validation``.

    Parameters
    ----------
    flow : Flow
        Its parameters are updated in place.
    x : array_like, shape (n, d)
        Training data, ``n >= batch_size``.
    validation : array_like, shape (m, d), optional
    n_steps, batch_size : int
    **settings
        Those of :func:`train` (``lr``, ``schedule``, ``warmup``, ``clip_norm``,
        ``eval_every``, ``patience``, ``random_state``, ``progress``, ...).

    Returns
    -------
    History
    """
    x = as_batch(x, flow.dim, "x")
    batch_size = _positive_int(batch_size, "batch_size")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size: expected at most the {x.shape[0]} training points, "
                         f"got {batch_size}")
    validate = None
    if validation is not None:
        validation = as_batch(validation, flow.dim, "validation")

        def validate():
            return -float(np.mean(flow.logpdf(validation)))
    next_batch = _epoch_batches(x.shape[0], batch_size)

    def objective(rng):
        return flow.nll_and_grad(x[next_batch(rng)])
    history = train(objective, flow.params, n_steps, validate, **settings)
    history.settings.update(batch_size=batch_size, n_train=int(x.shape[0]),
                            n_validation=0 if validation is None else int(validation.shape[0]))
    return history


def _reverse_kl_value(flow, log_target, u):
    r"""The reverse-KL loss at fixed base draws ``u``,
    :math:`\frac1m\sum[\log p_U(u) - \log|\det J_\phi(u)| - \log\tilde p(\phi(u))]`."""
    x, logdet = flow.transform.forward(u)
    return float(np.mean(flow.base.logpdf(u) - logdet - np.asarray(log_target(x), dtype=float)))


def fit_reverse_kl(flow, log_target, grad_log_target, n_steps=1000, batch_size=256,
                   n_validation=None, **settings):
    r"""Reverse KL: minimize :func:`nfref.kl.reverse_kl_and_grad` on fresh base draws every step.

    The validation loss is the same loss on ``n_validation`` base draws fixed at the start
    (drawn from the fit's generator); ``None`` (the default) fits without validation.
    The base must be :class:`~nfref.distributions.StandardNormal` or
    :class:`~nfref.distributions.UniformCube` when a validation set is asked for (fixed draws
    of a base with parameters would not stay fixed).

    Parameters
    ----------
    flow : Flow
    log_target, grad_log_target : callable
        Unnormalized log-density of the target and its gradient, ``(n, d) -> (n,), (n, d)``.
    n_steps, batch_size : int
        ``batch_size`` base draws per step.
    n_validation : int, optional
    **settings
        Those of :func:`train`.

    Returns
    -------
    History
    """
    from nfref.distributions import StandardNormal, UniformCube
    from nfref.kl import reverse_kl_and_grad

    batch_size = _positive_int(batch_size, "batch_size")
    if not callable(log_target) or not callable(grad_log_target):
        raise ValueError("log_target, grad_log_target: expected two callables")
    rng = as_rng(settings.pop("random_state", None))
    validate = None
    if n_validation is not None:
        n_validation = _positive_int(n_validation, "n_validation")
        if not isinstance(flow.base, (StandardNormal, UniformCube)):
            raise ValueError(f"n_validation: fixed validation draws need a parameter-free base, "
                             f"got {type(flow.base).__name__}")
        u_val = flow.base.rvs(n_validation, rng)

        def validate():
            return _reverse_kl_value(flow, log_target, u_val)

    def objective(r):
        return reverse_kl_and_grad(flow, log_target, grad_log_target, n=batch_size,
                                   random_state=r)
    history = train(objective, flow.params, n_steps, validate, random_state=rng, **settings)
    history.settings.update(batch_size=batch_size, n_validation=n_validation)
    return history
