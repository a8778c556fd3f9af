r"""Forward modeling with one layer: eq. (7), the forward trick eq. (8), and the gradient.

Notes 000, section 2.1. The data are modeled as :math:`X = \phi(U;\theta)`, :math:`U \sim p_U`.

Eq. (7), through the Jacobian of the inverse map,

.. math::  \ell(\theta\mid x) = \log p_U(\phi^{-1}(x)) + \log|\det J_{\phi^{-1}}(x)| ,

and eq. (8), the forward trick, through the Jacobian of the forward map at
:math:`u = \phi^{-1}(x)`,

.. math::  \ell(\theta\mid x) = \log p_U(u) - \log|\det J_\phi(u)| .

:func:`log_likelihood_eq7` builds :math:`J_{\phi^{-1}}(x)` explicitly (the transform's
``inverse_jacobian``: differentiated from the inverse map itself for planar and radial,
:math:`A^{-1}` for a linear flow, :math:`J_\phi(u)^{-1}` at :math:`u = \phi^{-1}(x)` by
default) and takes its ``slogdet``; :func:`log_likelihood_eq8` uses only the
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

Only forward quantities appear: the forward pass at ``u``, two calls of its pullback and one
solve with :math:`J_\phi^\top` per point. This is the implicit-function rule
:func:`nfref.numerics.implicit_inverse_pullback` applied to
:math:`(g_u, g_\ell) = (\frac1n\nabla_u\log p_U, \frac1n)`, which
:func:`mean_log_likelihood_and_grad` calls with the forward pass's pullback and a dense
batched solve of :math:`J_\phi(u)^\top`; ``Flow.nll_and_grad`` gets the same numbers through
the transform's own inverse pass (``inverse_and_vjp``, with structured solves).
"""

import numpy as np

from nfref._validation import as_batch
from nfref.distributions import check_model, refuse_off_support
from nfref.numerics import implicit_inverse_pullback
from nfref.transform import Transform, prefix_params

__all__ = ["inverse_jacobian", "log_likelihood_eq7", "log_likelihood_eq8",
           "mean_log_likelihood_and_grad", "off_image_fraction"]


def inverse_jacobian(transform, x):
    r"""Explicit Jacobian of the inverse map, :math:`\partial u_i/\partial x_j`, shape (n, d, d).

    ``transform.inverse_jacobian(x)``: planar and radial differentiate their inverse map
    itself, the linear flows return :math:`A^{-1}`, and the default of
    :class:`~nfref.transform.Transform` inverts :math:`J_\phi(u)` at :math:`u = \phi^{-1}(x)`.
    """
    return transform.inverse_jacobian(x)


def log_likelihood_eq7(base, transform, x):
    r"""Eq. (7): :math:`\log p_U(\phi^{-1}(x)) + \log|\det J_{\phi^{-1}}(x)|`, shape (n,).

    The determinant is ``slogdet`` of the explicit inverse Jacobian
    (:func:`inverse_jacobian`). ``-inf`` where :math:`p_U(\phi^{-1}(x)) = 0`.
    """
    check_model(base, transform, "log_likelihood_eq7")
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
    check_model(base, transform, "log_likelihood_eq8")
    x = as_batch(x, transform.dim, "x")
    u, _ = transform.inverse(x)
    _, logdet = transform.forward(u)
    return base.logpdf(u) - logdet


def off_image_fraction(base, transform, x):
    """Fraction of the rows of ``x`` with zero density (off the image of the base's support)."""
    return float(np.mean(np.isneginf(log_likelihood_eq8(base, transform, x))))


def mean_log_likelihood_and_grad(base, transform, x):
    r"""Mean log-likelihood :math:`\bar\ell` and its gradient (module docstring), forward trick.

    The teaching version of the gradient: the inverse is used for its value only, and the
    gradient comes from forward quantities at :math:`u` -- the forward pass's pullback
    (``transform.forward_and_vjp(u)``) and the explicit Jacobian :math:`J_\phi(u)`, whose
    transpose is solved densely point by point (batched ``numpy.linalg.solve``, :math:`O(d^3)`
    per point) -- combined by :func:`nfref.numerics.implicit_inverse_pullback`. ``Flow``
    gets the same numbers from the transform's inverse pass with its structured solves.

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
        the log-likelihood is ``-inf`` there and has no gradient. The rows are named
        (:func:`nfref.distributions.refuse_off_support`, the rule ``Flow.nll_and_grad``
        follows too).
    """
    check_model(base, transform, "mean_log_likelihood_and_grad")
    x = as_batch(x, transform.dim, "x")
    n = x.shape[0]
    u, _ = transform.inverse(x)
    log_pu = base.logpdf(u)
    refuse_off_support(base, log_pu, "mean_log_likelihood_and_grad")
    _, logdet, forward_pullback = transform.forward_and_vjp(u)     # the forward pass at u
    weight = np.full(n, 1.0 / n)
    gu_base, g_base = base.logpdf_vjp(u, weight)         # (1/n) grad_u log p_U, (1/n) d_psi
    jac_t = np.swapaxes(transform.jacobian(u), 1, 2)     # J_phi(u)^T, (n, d, d)

    def solve_transpose(v):                              # J^{-T} v, a dense batched solve
        return np.linalg.solve(jac_t, v[..., None])[..., 0]

    # gradient of sum_n (1/n) log p_U(u_n) + (1/n) (-l_phi(u_n)) through u = phi^{-1}(x)
    _, g_trans = implicit_inverse_pullback(forward_pullback, solve_transpose)(gu_base, weight)
    value = float(np.mean(log_pu - logdet))
    return value, {**prefix_params("base", g_base), **prefix_params("transform", g_trans)}
