"""Worked solutions of the exercises of notebook 02 (one-layer flows)."""

import numpy as np


def radial_logdet(radial, u):
    r"""J = f I + beta h' r e e^T with f = 1 + beta h, h = 1/(alpha + r), h' = -h^2, e = (u-z0)/r.

    The matrix determinant lemma gives det J = f^(d-1) (f + beta h' r): the eigenvalue f has
    multiplicity d - 1 (directions orthogonal to e), and f + beta h' r along e.
    """
    diff = u - radial.params["z0"]
    r = np.linalg.norm(diff, axis=1)
    h = 1.0 / (radial.alpha + r)
    f = 1.0 + radial.beta * h
    return (u.shape[1] - 1) * np.log(f) + np.log(f - radial.beta * h**2 * r)


def softplus_planar_invertible(w, rho):
    r"""With s = w.u + b, the map gives w.x + b = g(s) = s + c softplus(s), c = w.rho.

    g'(s) = 1 + c sigmoid(s) with sigmoid in (0, 1): g' > 0 everywhere and g is onto for
    c > -1; for c = -1, g(s) = -softplus(-s) is one to one but its image is (-inf, 0), so the
    map is not onto R^d. The condition is the strict w.rho > -1 (tanh allowed w.rho = -1).
    The tanh bracket [z - |c|, z + |c|] came from |tanh| <= 1; softplus is unbounded, so there
    is no fixed-width bracket: one must grow an interval until g changes sign.
    """
    return float(w @ rho) > -1.0


def uniform_linear_loglik(A, b, x):
    """log p(x) = -log|det A| where u = A^{-1}(x - b) lies in [0, 1]^d, -inf elsewhere."""
    u = np.linalg.solve(A, (x - b).T).T
    inside = np.all((u >= 0) & (u <= 1), axis=1)
    return np.where(inside, -np.linalg.slogdet(A)[1], -np.inf)
