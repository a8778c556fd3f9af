"""Worked solutions of the exercises of notebook 06 (KL, VI and destructors)."""

import numpy as np

from nfref.datasets import Banana
from nfref.destructors import fit_rbig
from nfref.distributions import Flow, StandardNormal
from nfref.k_layers import Chain
from nfref.one_layer import Planar
from nfref.train import fit_reverse_kl

from solutions_04 import banana_score


def planar_banana(K, n_steps=800, seed=0):
    """06.1: K planar layers fitted by reverse KL to the banana; returns the flow and its KL."""
    rng = np.random.default_rng(seed)
    flow = Flow(StandardNormal(2), Chain([Planar.random(2, random_state=rng, scale=0.3)
                                          for _ in range(K)]))
    fit_reverse_kl(flow, Banana().logpdf, banana_score, n_steps=n_steps, lr=0.01,
                   random_state=seed, progress=False)
    u = flow.base.rvs(20000, random_state=np.random.default_rng(100 + K))
    x, logdet = flow.transform.forward(u)
    return flow, float(np.mean(flow.base.logpdf(u) - logdet - Banana().logpdf(x)))


def pullback_logpdf(transform, log_target):
    """06.2: log p*_z(z) = log p*(T(z)) + log|det J_T(z)|, one forward pass of T."""
    def log_pstar_z(z):
        x, logdet = transform.forward(z)
        return log_target(x) + logdet
    return log_pstar_z


def rbig_rounds(n_pca=4, max_rounds=40, seed=0):
    """06.3: the PCA target after ``n_pca`` rounds, and the rounds random rotations need."""
    rng = np.random.default_rng(seed)
    x_train, x_test = Banana().rvs(1000, random_state=rng), Banana().rvs(1000, random_state=rng)

    def heldout(rounds, rotation):
        layers = fit_rbig(x_train, n_rounds=rounds, rotation=rotation, random_state=0)
        return float(np.mean(Flow(StandardNormal(2), Chain(layers)).logpdf(x_test)))

    target = heldout(n_pca, "pca")
    for k in range(1, max_rounds + 1):
        if heldout(k, "random") >= target:
            return x_train, x_test, k, target
    raise RuntimeError(f"random rotations did not reach {target:.4f} in {max_rounds} rounds")
