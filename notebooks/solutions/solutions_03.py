"""Worked solutions of the exercises of notebook 03 (K-layer flows)."""

import numpy as np

from nfref.datasets import TwoMoons
from nfref.distributions import DiagonalNormal, Flow, UniformCube
from nfref.k_layers import Chain
from nfref.one_layer import Planar
from nfref.one_layer.linear import ElementwiseAffine
from nfref.train import fit_mle


def trained_chain(n_layers=6, n_steps=400, seed=0):
    """A small planar chain fitted to two moons (enough to show the order matters)."""
    rng = np.random.default_rng(seed)
    x = TwoMoons().rvs(2000, random_state=rng)
    layers = [ElementwiseAffine(np.zeros(2), np.zeros(2))] + \
        [Planar.random(2, random_state=rng, scale=0.5) for _ in range(n_layers)]
    flow = Flow(DiagonalNormal(np.zeros(2), np.zeros(2)), Chain(layers))
    fit_mle(flow, x, n_steps=n_steps, lr=0.02, random_state=seed, progress=False)
    return flow, TwoMoons().rvs(1000, random_state=rng)


def reversed_nll(flow, x):
    """03.1: the fit used the sampling order (layers[0] acts first on u, eq. (6) composes
    phi_K o ... o phi_1); reversing the list composes the same layers the other way, another
    model, whose NLL is worse (each layer was fitted to the output of the one before)."""
    reverse = Flow(flow.base, Chain(list(reversed(list(flow.transform.layers)))))
    return -float(np.mean(reverse.logpdf(x)))


def uniform_base_flow():
    """03.2: the cube mapped to the box [-1.5, 1.5] x [-1, 1]: some moons fall off its image."""
    return Flow(UniformCube(2), Chain([ElementwiseAffine([-1.5, -1.0], np.log([3.0, 2.0]))]))


def fraction_off_image(flow, x):
    """Eq. (9) gives log p_U(Y_0) = -inf for Y_0 outside the cube: the fraction of -inf."""
    return float(np.mean(np.isneginf(flow.logpdf(x))))


def eq9_nll_and_grad(base, chain, x):
    r"""03.3: NLL = mean[-log p_U(Y_0) + sum_k l_k(Y_{k-1})], Y_{k-1} = phi_k^{-1}(Y_k).

    Walk k = 1..K holding a = dNLL/dY_{k-1} (from the base and the log-determinants of the
    layers below). Layer k adds its own log-determinant's input gradient, giving
    g = a + (dl_k/dY_{k-1})^T gl. The implicit-function rule for Y_{k-1} = phi_k^{-1}(Y_k)
    gives dY_{k-1}/dY_k = J_k^{-1} and dY_{k-1}/dtheta_k = -J_k^{-1} dphi_k/dtheta_k, so with
    lam = J_k^{-T} g: dNLL/dY_k = lam and
    dNLL/dtheta_k = (dl_k/dtheta_k)^T gl - (dphi_k/dtheta_k)^T lam.
    Both transposes come from the forward pullback of layer k at Y_{k-1}.
    """
    n = x.shape[0]
    ys = [x]
    for layer in reversed(list(chain.layers)):
        ys.append(layer.inverse(ys[-1])[0])
    ys = ys[::-1]                                   # ys[k] = Y_k, ys[0] = Y_0, ys[K] = x
    log_pu = base.logpdf(ys[0])
    gl = np.full(n, 1.0 / n)
    a = -base.logpdf_vjp(ys[0], gl)[0]             # dNLL/dY_0 from -mean log p_U(Y_0)
    grads, nll = {}, -float(np.mean(log_pu))
    for k, layer in enumerate(chain.layers):
        _, logdet, back = layer.forward_and_vjp(ys[k])
        nll += float(np.mean(logdet))
        g_in, g_theta_ld = back(np.zeros_like(ys[k]), gl)
        JT = np.swapaxes(layer.jacobian(ys[k]), 1, 2)          # J_k^T at Y_{k-1}, per point
        lam = np.linalg.solve(JT, (a + g_in)[..., None])[..., 0]
        _, g_theta_x = back(lam, np.zeros(n))
        for name in layer.params:
            grads[f"{k}.{name}"] = g_theta_ld[name] - g_theta_x[name]
        a = lam
    return nll, grads
