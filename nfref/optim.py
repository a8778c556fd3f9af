r"""Optimizers on parameter dicts, and fitting loops that print their progress.

Parameters are dicts of float64 arrays owned by transforms and bases (see
``Transform.params`` and ``Flow.params``); the optimizers update them **in place**.

* :class:`GradientDescent` -- :math:`\theta \leftarrow \theta - \eta g`.
* :class:`Adam` -- Kingma and Ba (2015), Algorithm 1: with :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g`,
  :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g^2`, :math:`\hat m = m_t/(1-\beta_1^t)`,
  :math:`\hat v = v_t/(1-\beta_2^t)`, the step is :math:`\theta \leftarrow \theta - \eta\,\hat m/(\sqrt{\hat v}+\epsilon)`.
* :func:`fit` -- a loop over ``objective() -> (loss, grads)`` with an optimizer.
* :func:`fit_lbfgs` -- full-batch L-BFGS through ``scipy.optimize.minimize`` with the
  analytic gradient, using :func:`~nfref.transform.flatten_params`.

Nothing non-finite is ever written: the settings are checked when an optimizer is built
(``lr`` finite and positive, ``betas`` in :math:`[0, 1)`, ``eps`` finite and positive), a
step checks the gradients (every key of ``params``, same shapes, finite) and computes every
new value before it writes any, refusing the whole step with a ``ValueError`` if one of them
(or Adam's moments) is not finite; the fitting loops stop with a ``ValueError`` naming the
step, with the parameters at their last finite values.
"""

import sys
import time

import numpy as np

from nfref._validation import as_callable, as_float, as_int, as_real, check_finite
from nfref.transform import flatten_params, unflatten_params

__all__ = ["GradientDescent", "Adam", "fit", "fit_lbfgs"]


def _check_params(params, where):
    if not isinstance(params, dict) or not all(isinstance(v, np.ndarray)
                                               for v in params.values()):
        raise ValueError(f"{where}: expected params as a dict of NumPy arrays (updated in "
                         f"place), got {type(params).__name__}")
    return params


def _check_grads(params, grads, where):
    """The gradients as float64 arrays keyed and shaped like ``params``, all finite."""
    if not isinstance(grads, dict):
        raise ValueError(f"{where}: expected grads as a dict keyed like params, got "
                         f"{type(grads).__name__}")
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"{where}: grads is missing the key(s) {missing}; expected one "
                         f"gradient per parameter, keys {list(params)}")
    out = {}
    for k, p in params.items():
        g = as_real(grads[k], f"{where}: gradient {k!r}")
        if g.shape != p.shape:
            raise ValueError(f"{where}: gradient {k!r} expected shape {p.shape} (the "
                             f"parameter's), got {g.shape}")
        check_finite(g, f"{where}: gradient {k!r}")
        out[k] = g
    return out


def _write(params, new, where):
    """Write ``new`` into ``params`` only if every new value is finite."""
    for k, v in new.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{where}: the step would make parameter {k!r} non-finite "
                             "(overflow); nothing was written. Expected a smaller learning "
                             "rate or gradient")
    for k, v in new.items():
        params[k][...] = v


class GradientDescent:
    """Plain gradient descent with a fixed learning rate ``lr`` (finite, positive)."""

    def __init__(self, lr=1e-2):
        self.lr = as_float(lr, "lr", low=0.0, low_open=True)

    def step(self, params, grads):
        """Update every array of ``params`` in place (all or nothing, see the module
        docstring)."""
        params = _check_params(params, "GradientDescent.step")
        grads = _check_grads(params, grads, "GradientDescent.step")
        with np.errstate(over="ignore", invalid="ignore"):
            new = {k: p - self.lr * grads[k] for k, p in params.items()}
        _write(params, new, "GradientDescent.step")

    def __repr__(self):
        return f"GradientDescent(lr={self.lr})"


class Adam:
    """Adam (Kingma and Ba, 2015) on a dict of arrays, updated in place.

    Parameters
    ----------
    lr : float
        Finite and positive.
    betas : (float, float)
        Each in ``[0, 1)`` (at 1 the bias corrections divide by zero).
    eps : float
        Finite and positive (at 0 a zero gradient gives 0/0).
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr = as_float(lr, "lr", low=0.0, low_open=True)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), each in [0, 1), got "
                             f"{betas!r}")
        self.betas = (as_float(betas[0], "betas[0]", low=0.0, high=1.0, high_open=True),
                      as_float(betas[1], "betas[1]", low=0.0, high=1.0, high_open=True))
        self.eps = as_float(eps, "eps", low=0.0, low_open=True)
        self.t, self.m, self.v = 0, {}, {}

    def step(self, params, grads):
        """One Adam step on every array of ``params``: the moments, the counter and the
        parameters change together, or (on a ``ValueError``) not at all."""
        params = _check_params(params, "Adam.step")
        grads = _check_grads(params, grads, "Adam.step")
        b1, b2 = self.betas
        t = self.t + 1
        new_m, new_v, new_p = {}, {}, {}
        with np.errstate(over="ignore", invalid="ignore"):
            for k, p in params.items():
                g = grads[k]
                m = new_m[k] = b1 * self.m.get(k, 0.0) + (1 - b1) * g
                v = new_v[k] = b2 * self.v.get(k, 0.0) + (1 - b2) * g * g
                m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
                new_p[k] = p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        for k in params:
            if not (np.all(np.isfinite(new_m[k])) and np.all(np.isfinite(new_v[k]))):
                raise ValueError(f"Adam.step: the moments of parameter {k!r} overflow (a "
                                 "gradient entry near 1e154 or larger); nothing was written")
        _write(params, new_p, "Adam.step")
        self.m.update(new_m)
        self.v.update(new_v)
        self.t = t

    def __repr__(self):
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps})"


def _printer(verbose, stream):
    def say(msg):
        if verbose:
            print(msg, file=stream or sys.stdout, flush=True)
    return say


def _evaluate(objective, params, where):
    """``objective()`` as ``(loss: float, grads)``, grads checked against ``params``."""
    out = objective()
    if not isinstance(out, tuple) or len(out) != 2:
        raise ValueError(f"{where}: expected objective() to return (loss, grads), got "
                         f"{type(out).__name__}")
    loss, grads = out
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.reshape(())[()]
    if isinstance(loss, (bool, np.bool_)) or not isinstance(loss, (int, float, np.number)) \
            or np.iscomplexobj(loss):
        raise ValueError(f"{where}: expected objective() to return a real scalar loss, got "
                         f"{type(loss).__name__}")
    loss = float(loss)
    if not np.isfinite(loss):
        raise ValueError(f"{where}: the loss is not finite ({loss}); expected a finite loss "
                         "(lower the learning rate or check the data)")
    try:
        grads = _check_grads(params, grads, where)
    except ValueError as exc:
        raise ValueError(f"{exc}; lower the learning rate or check the data") from None
    return loss, grads


def fit(objective, params, optimizer=None, n_steps=1000, print_every=None, verbose=True,
        stream=None):
    """Minimize ``objective`` by a first-order optimizer.

    Parameters
    ----------
    objective : callable
        ``objective() -> (loss, grads)`` with ``grads`` keyed like ``params``. For
        mini-batches, let the closure draw its batch from its own generator.
    params : dict of ndarray
        Updated in place.
    optimizer : object with ``step(params, grads)``, default ``Adam(lr=1e-3)``
    n_steps : int
        At least 0.
    print_every : int, optional
        Progress interval (at least 1); by default about ten lines per fit.
    verbose : bool
        Print progress (step, loss, elapsed time).

    Returns
    -------
    history : ndarray, shape (n_steps,)
        The loss at every step.

    Raises
    ------
    ValueError
        If the loss or a gradient stops being finite, or a step would make a parameter
        non-finite (with the step where it happened). ``params`` then hold the last values
        that were evaluated, which are finite (a refused step writes nothing).
    """
    objective = as_callable(objective, "objective")
    params = _check_params(params, "fit")
    optimizer = Adam() if optimizer is None else optimizer
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer: expected an object with step(params, grads), got "
                         f"{type(optimizer).__name__}")
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    print_every = (max(1, n_steps // 10) if print_every is None
                   else as_int(print_every, "print_every", minimum=1))
    say = _printer(verbose, stream)
    history = np.empty(n_steps)
    start = time.perf_counter()
    for step in range(n_steps):
        loss, grads = _evaluate(objective, params, f"fit (step {step})")
        try:
            optimizer.step(params, grads)
        except ValueError as exc:
            raise ValueError(f"fit (step {step}): {exc}") from None
        history[step] = loss
        if (step + 1) % print_every == 0 or step == 0 or step + 1 == n_steps:
            say(f"step {step + 1:>6d}/{n_steps}  loss {loss:.6f}  "
                f"({time.perf_counter() - start:.1f} s)")
    return history


def fit_lbfgs(objective, params, maxiter=500, tol=1e-10, verbose=True, print_every=50,
              stream=None):
    """Minimize a full-batch ``objective`` with L-BFGS-B and the analytic gradient.

    Same ``objective`` and ``params`` as :func:`fit`; the final parameters are written
    back into ``params`` in place.

    A trial point where the loss or the gradient is not finite, or where ``objective``
    refuses the parameters with a ``ValueError`` (nfref's models do so for parameters
    outside the region representable in float64), is reported to the line search as
    ``+inf``, so it backtracks; the result is always the best finite point. At the starting
    point such a loss or error stops the fit, as does any other exception (with ``params``
    at the best finite point evaluated so far).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``fun`` is finite and ``x`` is the point it was evaluated at; ``n_refused`` counts
        the trial points reported as ``+inf``.
    """
    objective = as_callable(objective, "objective")
    params = _check_params(params, "fit_lbfgs")
    maxiter = as_int(maxiter, "maxiter", minimum=1)
    tol = as_float(tol, "tol", low=0.0)
    print_every = as_int(print_every, "print_every", minimum=1)
    say = _printer(verbose, stream)
    start, count, refused = time.perf_counter(), [0], [0]
    x0 = flatten_params(params)
    best = {"loss": None, "x": x0.copy()}

    from scipy.optimize import minimize      # imported here: 'import nfref' stays light

    def restore(vec):
        for k, v in unflatten_params(vec, params).items():
            params[k][...] = v

    def fun(vec):
        restore(vec)
        count[0] += 1
        try:
            loss, grads = _evaluate(objective, params, f"fit_lbfgs (evaluation {count[0]})")
        except ValueError:
            if best["loss"] is None:
                raise
            refused[0] += 1
            return np.inf, np.zeros_like(vec)          # a trial point to back off from
        if best["loss"] is None or loss < best["loss"]:
            best["loss"], best["x"] = loss, vec.copy()
        if count[0] % print_every == 1:
            say(f"eval {count[0]:>6d}  loss {loss:.8f}  ({time.perf_counter() - start:.1f} s)")
        return loss, flatten_params({k: grads[k] for k in params})

    try:
        res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": tol, "ftol": 0.0})
    except BaseException:
        restore(best["x"])
        raise
    if not np.isfinite(res.fun) or res.fun > best["loss"]:
        res.x, res.fun = best["x"].copy(), best["loss"]
    restore(res.x)
    res.n_refused = refused[0]
    say(f"L-BFGS: {res.nit} iterations, {count[0]} evaluations ({refused[0]} trial points "
        f"refused), loss {res.fun:.8f} ({time.perf_counter() - start:.1f} s): {res.message}")
    return res
