r"""Forward and reverse KL divergences of a flow, their duality, and flow-based VI.

Notes 001 ("likelihood ascent", and its "reverse KL and duality", which is the base-space
divergence described below, not the variational objective of :func:`reverse_kl_and_grad`) and
notes 002 (the flow ELBO).

Forward KL (fitting to samples of a target :math:`p^*`):

.. math:: D_{KL}(p^* \,\|\, p_X) = E_{p^*}[\log p^*(x)] - E_{p^*}[\log p_X(x;\theta)],

so minimizing it is maximum likelihood; its gradient is :meth:`nfref.distributions.Flow.nll_and_grad`.

Reverse KL (fitting to an unnormalized log-density :math:`\log \tilde p^*`, as in variational
inference; the reverse KL of Papamakarios et al., 2021, "Normalizing flows for probabilistic
modeling and inference", JMLR 22, sec. 2.3): with :math:`u \sim p_U`, :math:`x = \phi(u;\theta)` and
:math:`\log q(x) = \log p_U(u) - \log|\det J_\phi(u)|`,

.. math:: \mathcal L(\theta) = E_{u}\big[\log p_U(u) - \log|\det J_\phi(u)| - \log\tilde p^*(\phi(u))\big]
          = D_{KL}(q \,\|\, p^*) - \log Z.

The reparameterization makes the gradient a forward VJP: per sample, :math:`g_x = -\tfrac1n\nabla\log\tilde p^*(x)`,
:math:`g_\ell = -\tfrac1n`, so :math:`\nabla_\theta\mathcal L = \texttt{forward\_vjp}(u, g_x, g_\ell)_\theta`.
A :class:`~nfref.distributions.DiagonalNormal` base is reparameterized as
:math:`u = \mu + e^{s}\varepsilon`; then :math:`E[\log p_U(u)] = -\sum_i s_i - \tfrac d2(1 + \log 2\pi)`
does not depend on :math:`\mu`, and the path through ``u`` adds
:math:`\nabla_\mu = \sum_n g_{u,n}` and :math:`\nabla_s = \sum_n g_{u,n}\odot e^{s}\varepsilon_n - n\cdot\tfrac1n`.

The objective here is :math:`D_{KL}(q \,\|\, p^*)` in the data space. Notes 001's
"reverse KL" is a different quantity, :math:`D_{KL}(p^*_z \,\|\, p_z)` in the base space
(the target pulled back by the flow against the base), which by the duality below equals the
*forward* KL :math:`D_{KL}(p^* \,\|\, p_X)`.

Duality (notes 001): for any bijection :math:`T`,
:math:`D_{KL}(p^* \,\|\, T_* p_z) = D_{KL}(T^{-1}_* p^* \,\|\, p_z)`; in fact the integrands agree
point by point, :math:`\log p^*(x) - \log p_X(x) = \log p^*_z(z) - \log p_z(z)` with
:math:`z = T^{-1}(x)`, because both sides carry the same Jacobian factor.

Flow ELBO (notes 002, with the sign made right): with :math:`z_L = f_L\circ\cdots\circ f_1(z_0)`,
:math:`\log q_L(z_L) = \log q_0(z_0) - \sum_l \log|\det \partial f_l/\partial z_{l-1}|`, hence

.. math:: \mathrm{ELBO} = E[\log p(x, z_L)] - E[\log q_0(z_0)] + E\Big[\sum_l \log|\det \partial f_l/\partial z_{l-1}|\Big]
          = \log p(x) - D_{KL}(q_L \,\|\, p(\cdot\mid x)).
"""

import numpy as np

from nfref._validation import as_batch, as_callable, as_int, as_real, as_rng, as_vector
from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube

__all__ = ["forward_kl", "reverse_kl_and_grad", "gaussian_kl", "elbo"]

LOG_2PI = np.log(2 * np.pi)


def forward_kl(flow, x, target_logpdf):
    r"""Monte Carlo estimate of :math:`D_{KL}(p^*\|p_X)` from samples ``x`` of :math:`p^*`.

    Parameters
    ----------
    flow : Flow
    x : ndarray, shape (n, d)
        Samples of the target.
    target_logpdf : callable
        The target's normalized log-density, ``(n, d) -> (n,)``.

    Raises
    ------
    ValueError
        If some sample has zero model density (``flow.logpdf = -inf``: the estimate would be
        ``+inf``), naming the rows, or if ``target_logpdf`` does not return ``n`` finite values.
    """
    _check_flow(flow, "forward_kl")
    target_logpdf = as_callable(target_logpdf, "target_logpdf")
    log_q = flow.logpdf(x)                          # checks x: (n, d), finite
    off = np.flatnonzero(np.isneginf(log_q))
    if off.size:
        shown = ", ".join(str(int(i)) for i in off[:5]) + (" ..." if off.size > 5 else "")
        raise ValueError(f"forward_kl: {off.size} of {log_q.size} samples lie outside the "
                         f"model's support (flow.logpdf = -inf), rows [{shown}]; the forward "
                         "KL is +inf; expected samples where the model's density is positive")
    lt = as_vector(target_logpdf(np.asarray(x, dtype=float)), log_q.shape[0],
                   "target_logpdf(x)")
    return float(np.mean(lt - log_q))


def _check_flow(flow, where):
    if not isinstance(flow, Flow):
        raise ValueError(f"{where}: expected flow to be a Flow, got {type(flow).__name__}")


def _sample_base(base, n, rng):
    """Base draws, and the standardized noise when the base is reparameterized."""
    base._check_params()                     # e.g. a log-scale written in place beyond float64
    if isinstance(base, DiagonalNormal):
        eps = rng.standard_normal((n, base.dim))
        return base.params["loc"] + np.exp(base.params["log_scale"]) * eps, eps
    if isinstance(base, (StandardNormal, UniformCube)):
        return base.rvs(n, rng), None
    raise ValueError(f"reverse_kl_and_grad: no reparameterized sampler for {type(base).__name__}; "
                     "expected UniformCube, StandardNormal or DiagonalNormal")


def reverse_kl_and_grad(flow, log_target, grad_log_target, n=256, random_state=None):
    r"""Reverse-KL loss :math:`E_u[\log p_U(u) - \log|\det J_\phi(u)| - \log\tilde p^*(\phi(u))]`
    and its gradient for every parameter of the flow (module docstring).

    Parameters
    ----------
    flow : Flow
    log_target : callable
        Unnormalized target log-density, ``(n, d) -> (n,)``.
    grad_log_target : callable
        Its gradient, ``(n, d) -> (n, d)``.
    n : int
        Monte Carlo sample size.
    random_state : None, int or numpy.random.Generator
        Fix it to get common random numbers (the same loss function at every call).

    Returns
    -------
    loss : float
        Equals :math:`D_{KL}(q\|p^*) - \log Z` in expectation.
    grads : dict
        Keyed like ``flow.params``.
    """
    _check_flow(flow, "reverse_kl_and_grad")
    log_target = as_callable(log_target, "log_target")
    grad_log_target = as_callable(grad_log_target, "grad_log_target")
    n = _sample_size(n)
    rng = as_rng(random_state)
    u, eps = _sample_base(flow.base, n, rng)
    x, logdet, pullback = flow.transform.forward_and_vjp(u)        # one forward pass
    lt = as_real(log_target(x), "log_target(x)")
    if lt.shape != (n,) or not np.all(np.isfinite(lt)):
        raise ValueError(f"log_target: expected {n} finite values, got shape {lt.shape}")
    loss = float(np.mean(flow.base.logpdf(u) - logdet - lt))
    w = np.full(n, -1.0 / n)
    score = as_batch(grad_log_target(x), x.shape[1], "grad_log_target(x)")
    if score.shape[0] != n:
        raise ValueError(f"grad_log_target(x): expected shape ({n}, {x.shape[1]}), "
                         f"got {score.shape}")
    gu, gtrans = pullback(w[:, None] * score, w)
    grads = {f"transform.{k}": v for k, v in gtrans.items()}
    if eps is not None:
        # log p_U(u(eps)) = sum(-eps^2/2 - s) - d/2 log 2 pi: only -sum(s) depends on the params.
        s = flow.base.params["log_scale"]
        grads["base.loc"] = gu.sum(0)
        grads["base.log_scale"] = (gu * np.exp(s) * eps).sum(0) - 1.0
    return loss, grads


def _sample_size(n):
    """``n`` as a positive int (an empty sample would give a NaN mean)."""
    return as_int(n, "n (a positive integer sample size)", minimum=1)


def gaussian_kl(m0, S0, m1, S1):
    r"""Closed-form :math:`D_{KL}(N(m_0, S_0)\,\|\,N(m_1, S_1))`
    :math:`= \tfrac12[\operatorname{tr}(S_1^{-1}S_0) + (m_1-m_0)^\top S_1^{-1}(m_1-m_0) - d + \log\det S_1 - \log\det S_0]`."""
    m0, m1 = np.atleast_1d(as_real(m0, "m0")), np.atleast_1d(as_real(m1, "m1"))
    S0, S1 = np.atleast_2d(as_real(S0, "S0")), np.atleast_2d(as_real(S1, "S1"))
    d = m0.size
    for name, v, shape in (("m0", m0, (d,)), ("m1", m1, (d,)), ("S0", S0, (d, d)),
                           ("S1", S1, (d, d))):
        if v.shape != shape or not np.all(np.isfinite(v)):
            raise ValueError(f"gaussian_kl: expected finite {name} of shape {shape}, "
                             f"got shape {v.shape}")
    for name, S in (("S0", S0), ("S1", S1)):
        if not (np.allclose(S, S.T) and np.all(np.linalg.eigvalsh(S) > 0)):
            raise ValueError(f"gaussian_kl: expected {name} symmetric positive definite")
    diff = m1 - m0
    return 0.5 * (np.trace(np.linalg.solve(S1, S0)) + diff @ np.linalg.solve(S1, diff) - d
                  + np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1])


def elbo(flow, log_joint, n=256, random_state=None, sign=+1):
    r"""Monte Carlo flow ELBO :math:`E[\log p(x, z_L)] - E[\log q_0(z_0)] + \text{sign}\cdot E[\sum\log|\det|]`.

    ``sign=+1`` is the correct form; ``sign=-1`` reproduces the formula as printed in
    notes 002, for comparison.
    """
    _check_flow(flow, "elbo")
    log_joint = as_callable(log_joint, "log_joint")
    n = _sample_size(n)
    if isinstance(sign, (bool, np.bool_)) or sign not in (1, -1):
        raise ValueError(f"sign: expected +1 (correct) or -1 (as printed), got {sign!r}")
    rng = as_rng(random_state)
    u, _ = _sample_base(flow.base, n, rng)
    x, logdet = flow.transform.forward(u)
    lj = as_vector(log_joint(x), n, "log_joint(x)")
    return float(np.mean(lj - flow.base.logpdf(u) + sign * logdet))
