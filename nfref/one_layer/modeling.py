r"""Forward modeling with one layer: eq. (7), the forward trick eq. (8), and the gradient.

Notes 000, section 2.1. The data are modeled as :math:`X = \phi(U;\theta)`, :math:`U \sim p_U`.

Eq. (7), through the Jacobian of the inverse map,

.. math::  \ell(\theta\mid x) = \log p_U(\phi^{-1}(x)) + \log|\det J_{\phi^{-1}}(x)| ,

and eq. (8), the forward trick, through the Jacobian of the forward map at
:math:`u = \phi^{-1}(x)`,

.. math::  \ell(\theta\mid x) = \log p_U(u) - \log|\det J_\phi(u)| .

:func:`log_likelihood_eq7` builds :math:`J_{\phi^{-1}}(x)` explicitly (the transform's own
``inverse_jacobian`` when it has one, :math:`A^{-1}` for a linear flow, finite differences of
the inverse otherwise) and takes its ``slogdet``; :func:`log_likelihood_eq8` uses only the
forward log-determinant. The notes' Jacobian is the transpose of ours
(:math:`[J]_{ij} = \partial\phi^{-1}_j/\partial x_i`); determinants agree.

Uniform base (the notes' choice): :math:`p_U = 1` on the cube, so
:math:`\ell = \log|\det J_{\phi^{-1}}(x)|` for data in the image :math:`\phi([0,1]^d)` and
:math:`\ell = -\infty` off it (never NaN). A single point off the image makes the mean
log-likelihood :math:`-\infty` and its gradient undefined; :func:`mean_log_likelihood_and_grad`
refuses it with a ``ValueError``.

Gradient of the mean log-likelihood (derived with the forward trick)
--------------------------------------------------------------------
With :math:`\bar\ell(\theta) = \frac1n\sum_n \log p_U(u_n;\psi) - \ell_\phi(u_n;\theta)`,
:math:`\ell_\phi = \log|\det J_\phi|`, and :math:`u_n = \phi^{-1}(x_n;\theta)`, the implicit
function theorem on :math:`\phi(u_n;\theta) = x_n` gives
:math:`\partial u_n/\partial\theta = -J_\phi(u_n)^{-1}\,\partial_\theta\phi(u_n;\theta)`. Hence,
with :math:`v_n = \frac1n\big(\nabla_u\log p_U(u_n) - \nabla_u\ell_\phi(u_n)\big)` and
:math:`s_n = J_\phi(u_n)^{-\top} v_n`,

.. math::
    \nabla_\theta\bar\ell = -\frac1n\sum_n \partial_\theta\ell_\phi(u_n)
                            - \sum_n \big(\partial_\theta\phi(u_n)\big)^\top s_n, \qquad
    \nabla_\psi\bar\ell = \frac1n\sum_n \nabla_\psi \log p_U(u_n;\psi).

Only forward quantities appear: two forward VJPs at ``u`` and one solve with
:math:`J_\phi^\top` per point. :func:`mean_log_likelihood_and_grad` computes it that way;
``Flow.nll_and_grad`` gets the same numbers through the transform's ``inverse_vjp``.
"""

import numpy as np

from nfref._validation import as_batch
from nfref.distributions import UniformCube
from nfref.gradcheck import numerical_jacobian
from nfref.one_layer.linear import ElementwiseAffine, Linear, PLULinear
from nfref.transform import prefix_params

__all__ = ["inverse_jacobian", "log_likelihood_eq7", "log_likelihood_eq8",
           "mean_log_likelihood_and_grad", "off_image_fraction"]


def inverse_jacobian(transform, x):
    r"""Explicit Jacobian of the inverse map, :math:`\partial u_i/\partial x_j`, shape (n, d, d).

    Uses ``transform.inverse_jacobian`` when it exists (planar, radial), :math:`A^{-1}` for
    the linear flows, and fourth-order finite differences of ``transform.inverse``
    otherwise (accurate to about 1e-11).
    """
    x = as_batch(x, transform.dim, "x")
    if hasattr(transform, "inverse_jacobian"):
        return transform.inverse_jacobian(x)
    if isinstance(transform, (Linear, PLULinear, ElementwiseAffine)):
        A = transform.jacobian(x[:1])[0]
        return np.broadcast_to(np.linalg.inv(A), (x.shape[0],) + A.shape).copy()
    return numerical_jacobian(lambda v: transform.inverse(v)[0], x)


def log_likelihood_eq7(base, transform, x):
    r"""Eq. (7): :math:`\log p_U(\phi^{-1}(x)) + \log|\det J_{\phi^{-1}}(x)|`, shape (n,).

    The determinant is ``slogdet`` of the explicit inverse Jacobian
    (:func:`inverse_jacobian`). ``-inf`` where :math:`p_U(\phi^{-1}(x)) = 0`.
    """
    x = as_batch(x, transform.dim, "x")
    u, _ = transform.inverse(x)
    sign, logabs = np.linalg.slogdet(inverse_jacobian(transform, x))
    if np.any(sign == 0):
        raise ValueError("log_likelihood_eq7: the inverse Jacobian is singular at "
                         f"{int(np.sum(sign == 0))} point(s)")
    return base.logpdf(u) + logabs


def log_likelihood_eq8(base, transform, x):
    r"""Eq. (8), the forward trick: :math:`\log p_U(u) - \log|\det J_\phi(u)|`, :math:`u = \phi^{-1}(x)`.

    Returns shape (n,); ``-inf`` where :math:`p_U(u) = 0` (a uniform base, ``x`` off the
    image of the cube), never NaN.
    """
    x = as_batch(x, transform.dim, "x")
    u, _ = transform.inverse(x)
    _, logdet = transform.forward(u)
    return base.logpdf(u) - logdet


def off_image_fraction(base, transform, x):
    """Fraction of the rows of ``x`` with zero density (off the image of the base's support)."""
    return float(np.mean(np.isneginf(log_likelihood_eq8(base, transform, x))))


def mean_log_likelihood_and_grad(base, transform, x):
    r"""Mean log-likelihood :math:`\bar\ell` and its gradient (module docstring), forward trick.

    Parameters
    ----------
    base : Distribution
        ``UniformCube``, ``StandardNormal`` or ``DiagonalNormal``.
    transform : Transform
    x : array_like, shape (n, d)

    Returns
    -------
    value : float
    grads : dict
        Keys ``"base.<k>"`` and ``"transform.<k>"`` like ``Flow.params``.

    Raises
    ------
    ValueError
        If some point has zero density (uniform base, data off the image of the cube):
        the log-likelihood is ``-inf`` there and has no gradient.
    """
    x = as_batch(x, transform.dim, "x")
    n = x.shape[0]
    u, _ = transform.inverse(x)
    log_pu = base.logpdf(u)
    off = np.isneginf(log_pu)
    if np.any(off):
        where = "the image of the unit cube" if isinstance(base, UniformCube) else \
            "the support of the base"
        raise ValueError(f"mean_log_likelihood_and_grad: {int(off.sum())} of {n} points lie "
                         f"outside {where}; the log-likelihood is -inf there and has no "
                         "gradient")
    _, logdet = transform.forward(u)
    weight = np.full(n, 1.0 / n)
    a, b = transform.forward_vjp(u, None, -weight)       # -(1/n) grad_u l_phi, -(1/n) d_theta l_phi
    gu_base, g_base = base.logpdf_vjp(u, weight)         # (1/n) grad_u log p_U, (1/n) d_psi
    v = gu_base + a                                      # (n, d)
    jac = transform.jacobian(u)                          # (n, d, d)
    s = np.linalg.solve(np.swapaxes(jac, 1, 2), v[..., None])[..., 0]   # J^{-T} v, (n, d)
    _, c = transform.forward_vjp(u, s, None)             # (d_theta phi)^T s
    g_trans = {k: b[k] - c[k] for k in transform.params}
    value = float(np.mean(log_pu - logdet))
    return value, {**prefix_params("base", g_base), **prefix_params("transform", g_trans)}
