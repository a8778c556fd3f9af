r"""Fitting a one-layer flow by maximum likelihood (notes 000, section 2.1).

:math:`\hat\theta = \arg\max_\theta \frac1n\sum_i \ell(\theta\mid X_i)`: minimize the mean
negative log-likelihood of a :class:`~nfref.distributions.Flow` with its analytic gradient
(``Flow.nll_and_grad``), by Adam or by L-BFGS (:mod:`nfref.optim`).
"""

import numpy as np

from nfref._validation import as_batch
from nfref.optim import Adam, fit, fit_lbfgs

__all__ = ["fit_flow", "example_datasets", "fit_one_layer_models"]


def fit_flow(flow, x, method="lbfgs", n_steps=500, lr=0.02, batch_size=None, random_state=0,
             verbose=False, tol=1e-9):
    """Fit ``flow`` to the rows of ``x`` by maximum likelihood; parameters change in place.

    Parameters
    ----------
    flow : Flow
    x : array_like, shape (n, d)
    method : {"lbfgs", "adam"}
    n_steps : int
        Adam steps, or L-BFGS iterations at most.
    lr : float
        Adam's learning rate.
    batch_size : int, optional
        Adam mini-batch size (full batch if omitted), drawn from ``random_state``.
    verbose : bool
    tol : float
        L-BFGS gradient tolerance.

    Returns
    -------
    history : ndarray (Adam: loss per step) or scipy ``OptimizeResult`` (L-BFGS)
    """
    x = as_batch(x, flow.dim, "x")
    params = flow.params
    if method == "lbfgs":
        return fit_lbfgs(lambda: flow.nll_and_grad(x), params, maxiter=n_steps, tol=tol,
                         verbose=verbose)
    if method != "adam":
        raise ValueError(f"fit_flow: method must be 'lbfgs' or 'adam', got {method!r}")
    rng = np.random.default_rng(random_state)

    def objective():
        if batch_size is None or batch_size >= x.shape[0]:
            return flow.nll_and_grad(x)
        return flow.nll_and_grad(x[rng.choice(x.shape[0], batch_size, replace=False)])
    return fit(objective, params, Adam(lr=lr), n_steps=n_steps, verbose=verbose)


def _sp_inv(y):
    return float(np.log(np.expm1(y)))


def example_datasets(n_train=500, n_test=2000):
    """Three 2-D data sets for one-layer fits: ``{name: (x_train, x_test, truth)}``.

    * ``"planar S"``: drawn from a planar flow, :math:`x_2 = u_2 + 2\\tanh(3u_1)` and
      :math:`x_1 = u_1 - 0.102\\tanh(3u_1)` (the reparameterization moves :math:`\\hat\\rho`
      along ``w`` to :math:`w^\\top\\hat\\rho = \\log 2 - 1`) -- one planar layer can represent
      it exactly;
    * ``"radial hole"``: drawn from a radial flow that pushes mass away from the origin --
      one radial layer can represent it exactly;
    * ``"banana"``: :class:`nfref.datasets.Banana` -- none of them can.

    ``truth`` has ``logpdf``, so the fits can be compared with the best possible value.
    """
    from nfref.datasets import Banana
    from nfref.distributions import Flow, StandardNormal
    from nfref.one_layer.planar import Planar
    from nfref.one_layer.radial import Radial
    truths = {
        "planar S": Flow(StandardNormal(2), Planar([3.0, 0.0], [0.0, 2.0], [0.0])),
        "radial hole": Flow(StandardNormal(2), Radial([0.0, 0.0], [_sp_inv(0.2)],
                                                      [_sp_inv(2.2)])),
        "banana": Banana(),
    }
    return {k: (f.rvs(n_train, random_state=0), f.rvs(n_test, random_state=1), f)
            for k, f in truths.items()}


def fit_one_layer_models(x, n_restarts=3, n_steps=200):
    """Fit a Gaussian (linear flow), a planar and a radial layer to ``x`` (d = 2) by L-BFGS.

    The planar and radial layers sit on a diagonal normal base with learnable location and
    scale; the likelihood is not concave in their parameters, so each is fitted from
    ``n_restarts`` random starts and the best training likelihood is kept.

    Returns
    -------
    dict
        ``{"linear": flow, "planar": flow, "radial": flow}``.
    """
    from nfref.distributions import DiagonalNormal, Flow, StandardNormal
    from nfref.one_layer.linear import Linear
    from nfref.one_layer.planar import Planar
    from nfref.one_layer.radial import Radial
    x = as_batch(x, 2, "x")
    out = {"linear": Flow(StandardNormal(2), Linear(np.eye(2), np.zeros(2)))}
    fit_flow(out["linear"], x, n_steps=n_steps)
    for name, cls in (("planar", Planar), ("radial", Radial)):
        best, best_loss = None, np.inf
        for seed in range(n_restarts):
            flow = Flow(DiagonalNormal(np.zeros(2), np.zeros(2)), cls.random(2, seed))
            res = fit_flow(flow, x, n_steps=n_steps)
            if res.fun < best_loss:
                best, best_loss = flow, res.fun
        out[name] = best
    return out
