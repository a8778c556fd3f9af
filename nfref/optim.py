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
"""

import sys
import time

import numpy as np

from nfref.transform import flatten_params, unflatten_params

__all__ = ["GradientDescent", "Adam", "fit", "fit_lbfgs"]


class GradientDescent:
    """Plain gradient descent with a fixed learning rate ``lr``."""

    def __init__(self, lr=1e-2):
        self.lr = float(lr)

    def step(self, params, grads):
        """Update every array of ``params`` in place."""
        for k, p in params.items():
            p -= self.lr * grads[k]


class Adam:
    """Adam (Kingma and Ba, 2015) on a dict of arrays, updated in place.

    Parameters
    ----------
    lr : float
    betas : (float, float)
    eps : float
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.t, self.m, self.v = 0, {}, {}

    def step(self, params, grads):
        """One Adam step on every array of ``params``."""
        b1, b2 = self.betas
        self.t += 1
        for k, p in params.items():
            g = grads[k]
            m = self.m[k] = b1 * self.m.get(k, 0.0) + (1 - b1) * g
            v = self.v[k] = b2 * self.v.get(k, 0.0) + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def _printer(verbose, stream):
    def say(msg):
        if verbose:
            print(msg, file=stream or sys.stdout, flush=True)
    return say


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
    print_every : int, optional
        Progress interval; by default about ten lines per fit.
    verbose : bool
        Print progress (step, loss, elapsed time).

    Returns
    -------
    history : ndarray, shape (n_steps,)
        The loss at every step.

    Raises
    ------
    ValueError
        If the loss or a gradient stops being finite (with the step where it happened).
    """
    optimizer = optimizer or Adam()
    say = _printer(verbose, stream)
    print_every = print_every or max(1, n_steps // 10)
    history = np.empty(n_steps)
    start = time.perf_counter()
    for step in range(n_steps):
        loss, grads = objective()
        if not np.isfinite(loss) or not all(np.all(np.isfinite(g)) for g in grads.values()):
            raise ValueError(f"fit: the loss or its gradient is not finite at step {step} "
                             f"(loss {loss}); lower the learning rate or check the data")
        optimizer.step(params, grads)
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

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    say = _printer(verbose, stream)
    start, count = time.perf_counter(), [0]

    from scipy.optimize import minimize      # imported here: 'import nfref' stays light

    def fun(vec):
        for k, v in unflatten_params(vec, params).items():
            params[k][...] = v
        loss, grads = objective()
        count[0] += 1
        if count[0] % print_every == 1:
            say(f"eval {count[0]:>6d}  loss {loss:.8f}  ({time.perf_counter() - start:.1f} s)")
        return loss, flatten_params({k: grads[k] for k in params})

    res = minimize(fun, flatten_params(params), jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "gtol": tol, "ftol": 0.0})
    for k, v in unflatten_params(res.x, params).items():
        params[k][...] = v
    say(f"L-BFGS: {res.nit} iterations, {count[0]} evaluations, loss {res.fun:.8f} "
        f"({time.perf_counter() - start:.1f} s): {res.message}")
    return res
