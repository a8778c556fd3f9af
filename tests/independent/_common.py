r"""Scalar functions and the implicit pullback shared by the independent implementations.

Written from ``docs/vectors.md`` sec. 1 (the definitions of softplus and sigmoid) only;
nothing here imports nfref.

The implicit pullback. When a map :math:`y = F(a, \theta)` is known only through the
explicit map it inverts, :math:`E(F(a, \theta), \theta) = a`, differentiating the identity
gives :math:`\partial F / \partial a = J_E^{-1}` and
:math:`\partial F / \partial \theta = -J_E^{-1} \partial E / \partial \theta` (at
:math:`y`). So a cotangent :math:`c` on :math:`y` pulls back to
:math:`g_a = J_E^{-T} c =: \lambda` and :math:`g_\theta = -(\partial E/\partial\theta)^T
\lambda`, the parameter part of the explicit map's VJP with cotangent :math:`-\lambda`.
"""

import numpy as np


def softplus(s):
    r""":math:`\log(1 + e^s) = \max(s, 0) + \log(1 + e^{-|s|})` (no overflow)."""
    s = np.asarray(s, dtype=float)
    return np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))


def sigmoid(s):
    r""":math:`1/(1 + e^{-s})`, the derivative of softplus, evaluated without overflow."""
    s = np.asarray(s, dtype=float)
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def solve_transpose(J, c):
    r""":math:`\lambda_n = J_n^{-T} c_n` for a batch ``J (n, d, d)``, ``c (n, d)``."""
    return np.linalg.solve(np.swapaxes(J, 1, 2), c[..., None])[..., 0]


def pullback_through_solve(back_explicit, J_explicit, g_out, gl):
    r"""The VJP of the implicit direction :math:`y = E^{-1}(a)` from the explicit one.

    The implicit direction's log-determinant is minus the explicit one's at :math:`y`,
    so the loss :math:`g \cdot y + g_l \cdot \mathrm{ld}_{E^{-1}}(a)` equals
    :math:`g \cdot y - g_l \cdot \mathrm{ld}_E(y)`. ``back_explicit(c, c_l)`` is the VJP
    of the explicit map at :math:`y` (the gradient of :math:`c \cdot E + c_l \cdot
    \mathrm{ld}_E` with respect to :math:`y` and the parameters); ``J_explicit`` is
    :math:`J_E(y)`. With :math:`c_y = g - g_l \, \partial \mathrm{ld}_E / \partial y` (the
    first call), the module docstring gives :math:`g_a = \lambda = J_E^{-T} c_y` and the
    parameter gradient :math:`-g_l \, \partial \mathrm{ld}_E/\partial\theta -
    (\partial E/\partial\theta)^T \lambda`, the parameter part of ``back_explicit(-lambda,
    -gl)`` (the VJP is linear in its cotangents).
    """
    a_y, _ = back_explicit(np.zeros_like(g_out), -gl)
    lam = solve_transpose(J_explicit, g_out + a_y)
    _, gparams = back_explicit(-lam, -gl)
    return lam, gparams
