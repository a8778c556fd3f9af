"""Worked solutions of the exercises of notebook 05 (transformer flows)."""

import numpy as np

from nfref.numerics import sigmoid, softplus


def dlogg_dh(h, eps):
    r"""05.1: log g = log(softplus(h) + eps), d/dh = sigmoid(h) / (softplus(h) + eps).

    Then d_t log g = dlogg_dh * d_t h and d log g / d xi = dlogg_dh * dh/dxi. The bracket
    [(y - beta)/g_max, (y - beta)/g_min] still exists with g_min >= eps > 0, but g_max is no
    longer e^{max h}: it is softplus(max h) + eps, close to max h for large h, and the lower
    end (y - beta)/g_min grows like 1/eps when h is very negative.
    """
    h = np.asarray(h, dtype=float)
    return sigmoid(h) / (softplus(h) + eps)


def discriminant(delta_k, delta_k1, s, e0, e1):
    """05.2: b^2 - 4ac written as a sum of non-negative terms (never rounds below zero)."""
    return (delta_k * e1 - delta_k1 * e0) ** 2 + 4.0 * s * s * e0 * e1


def gauss_legendre(f, t, N):
    """05.3: int_0^t f with the N + 1 Gauss-Legendre nodes mapped from [-1, 1] to [0, t]."""
    nodes, weights = np.polynomial.legendre.leggauss(N + 1)
    return 0.5 * t * float(weights @ f(0.5 * t * (nodes + 1.0)))
