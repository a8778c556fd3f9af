r"""Any distribution given by its conditionals (notes 000, section 1, eqs. (1)-(5)).

A density factors as :math:`p(z) = \prod_j p_j(z_j \mid z_{<j})`. Given, for every
:math:`j`, the conditional CDF :math:`F_j(t \mid z_{<j})` and density (and optionally the
conditional quantile :math:`F_j^{-1}`) as vectorized callables, :class:`ConditionalCDF`
builds

* :math:`G(z)_j = F_j(z_j\mid z_{<j})` (eqs. (1)-(2)) and
  :math:`\log|\det J_G(z)| = \sum_j \log p_j(z_j\mid z_{<j}) = \log p_Z(z)`;
* :math:`Q(u)_j = F_j^{-1}(u_j \mid z_{<j})` (eqs. (3)-(5)), coordinate after coordinate,
  from ``ppf`` when given, otherwise by safeguarded bracketed Newton
  (:func:`nfref.numerics.solve_monotone`, whose bracket grows from ``[-1, 1]`` until it holds
  the root), vectorized over points; above :math:`u_j = 1/2` from the survival side
  :math:`1 - F_j` when ``sf`` is given;
* the lower-triangular Jacobian :math:`J_G[j, i] = \partial F_j/\partial z_i`: the diagonal
  is the conditional density, the entries left of it come from ``cdf_grad``
  (:math:`\partial F_j/\partial z_{<j}`, which the CDF and density alone do not determine);
* :math:`\nabla_z \log p_Z` from ``logpdf_grad``, for the input pullbacks of
  :mod:`nfref.inverse_cdf._base` (the diagonal of :math:`J_G` is taken from the conditional
  log-densities the pass already computed).

Example: the banana (:func:`banana`), :math:`z_1 \sim N(0,1)`,
:math:`z_j \mid z_{<j} \sim N(b z_{j-1}^2, s^2)`. With :math:`e = (t - b p^2)/s` and
:math:`p = z_{j-1}`:

.. math::
    F_j = \Phi(e), \quad \log p_j = -\tfrac12 e^2 - \log s - \tfrac12\log 2\pi, \quad
    F_j^{-1}(w) = b p^2 + s\,\Phi^{-1}(w),

.. math::
    \frac{\partial F_j}{\partial p} = -\varphi(e)\,\frac{2bp}{s}, \qquad
    \frac{\partial \log p_j}{\partial t} = -\frac{e}{s}, \qquad
    \frac{\partial \log p_j}{\partial p} = \frac{2bp\,e}{s}.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy.special import ndtr, ndtri

from nfref._validation import as_float, as_int, as_real
from nfref.inverse_cdf._base import InverseCDFTransform, check_resolved
from nfref.numerics import solve_monotone

__all__ = ["Conditional", "ConditionalCDF", "banana"]

LOG_2PI = np.log(2.0 * np.pi)
TOL = 1e-13               # relative step at which a numerical F_j^{-1} stops


@dataclass(frozen=True)
class Conditional:
    """The law of :math:`Z_j` given :math:`Z_{<j}`, as vectorized callables.

    Every callable takes ``t`` (or ``w``) of shape ``(n,)`` and ``past`` of shape ``(n, j)``
    (the first ``j`` coordinates; ``j = 0`` for the first one).

    Attributes
    ----------
    cdf : callable ``(t, past) -> (n,)``
        :math:`F_j(t \\mid past)`.
    logpdf : callable ``(t, past) -> (n,)``, optional
        :math:`\\log p_j(t \\mid past)`; preferred to ``pdf`` (tails do not underflow).
        One of ``logpdf`` and ``pdf`` is required.
    pdf : callable ``(t, past) -> (n,)``, optional
        The density itself, used (through its log) when ``logpdf`` is not given.
    ppf : callable ``(w, past) -> (n,)``, optional
        :math:`F_j^{-1}(w \\mid past)`; a numerical inverse is used without it.
    cdf_grad : callable ``(t, past) -> (n, j)``, optional
        :math:`\\partial F_j / \\partial past` (needed by the Jacobian).
    logpdf_grad : callable ``(t, past) -> (n, j + 1)``, optional
        Gradient of :math:`\\log p_j` with respect to ``(past, t)`` (needed by the VJPs).
    sf, isf : callable, optional
        Survival function :math:`1 - F_j` and its inverse, for accuracy in the upper tail
        (``1 - cdf`` and the lower-tail inverse are used without them).
    """

    cdf: Callable
    logpdf: Optional[Callable] = None
    pdf: Optional[Callable] = None
    ppf: Optional[Callable] = None
    cdf_grad: Optional[Callable] = None
    logpdf_grad: Optional[Callable] = None
    sf: Optional[Callable] = None
    isf: Optional[Callable] = None

    def __post_init__(self):
        if not callable(self.cdf) or not (callable(self.logpdf) or callable(self.pdf)):
            raise ValueError("Conditional: expected a callable cdf and a callable logpdf or pdf")


class ConditionalCDF(InverseCDFTransform):
    r"""Partial CDFs built from conditionals: forward :math:`Q`, inverse :math:`G`.

    Parameters
    ----------
    conditionals : sequence of :class:`Conditional`
        One per coordinate, in order; ``len(conditionals)`` is the dimension.
    name : str, optional
        Shown by ``repr``.

    Notes
    -----
    Without ``ppf`` for some coordinate, ``numerical_inverse`` is True and round trips
    hold to the solver's tolerance. ``jacobian`` and ``partial_cdf_jacobian`` need every
    ``cdf_grad``; the VJPs also need every ``logpdf_grad``. A missing one raises
    ``ValueError`` naming it.
    """

    def __init__(self, conditionals, name="conditional"):
        if isinstance(conditionals, Conditional) or not hasattr(conditionals, "__iter__"):
            raise ValueError("ConditionalCDF: expected a sequence of Conditional (one per "
                             f"coordinate), got {type(conditionals).__name__}")
        if not isinstance(name, str):
            raise ValueError(f"name: expected a string, got {type(name).__name__}")
        conditionals = list(conditionals)
        if not conditionals or not all(isinstance(c, Conditional) for c in conditionals):
            raise ValueError("ConditionalCDF: expected a non-empty sequence of Conditional, got "
                             f"{[type(c).__name__ for c in conditionals]}")
        super().__init__(len(conditionals))
        self.conditionals, self.name = conditionals, name

    @property
    def numerical_inverse(self):
        """True when some coordinate has no ``ppf``, so ``Q`` is (partly) a numerical solve."""
        return any(c.ppf is None for c in self.conditionals)

    def __repr__(self):
        return f"ConditionalCDF({self.name!r}, dim={self.dim})"

    def _call(self, j, what, t, past):
        """Call ``what`` of coordinate ``j`` and check the shape of what comes back."""
        cond = self.conditionals[j]
        if what == "logpdf" and cond.logpdf is None:
            with np.errstate(divide="ignore"):
                return np.log(self._call(j, "pdf", t, past))
        f = getattr(cond, what)
        if f is None:
            raise ValueError(f"ConditionalCDF({self.name!r}): coordinate {j} has no {what}; "
                             f"expected a callable to compute this")
        out = as_real(f(t, past), f"ConditionalCDF({self.name!r}): {what} of coordinate {j}")
        shape = {"cdf_grad": (t.size, j), "logpdf_grad": (t.size, j + 1)}.get(what, (t.size,))
        if out.shape != shape:
            raise ValueError(f"ConditionalCDF({self.name!r}): {what} of coordinate {j} returned "
                             f"shape {out.shape}; expected {shape}")
        return out

    # ------------------------------------------------------------------ maths
    # The pieces of a pass are the conditional log-densities log p_j(z_j | z_<j), (n, d):
    # their exponentials are the diagonal of J_G.
    def _G_pass(self, z):
        w, w_bar = np.empty_like(z), np.empty_like(z)
        logp_cols = np.empty_like(z)
        for j in range(self.dim):
            past = z[:, :j]                                        # (n, j)
            w[:, j] = self._call(j, "cdf", z[:, j], past)
            w_bar[:, j] = (self._call(j, "sf", z[:, j], past)
                           if self.conditionals[j].sf is not None else 1.0 - w[:, j])
            logp_cols[:, j] = self._call(j, "logpdf", z[:, j], past)
        return w, w_bar, logp_cols.sum(axis=1), logp_cols

    def _Q_pass(self, w, w_bar):
        z = np.empty_like(w)
        logp_cols = np.empty_like(w)
        for j in range(self.dim):                                  # eq. (3)
            past = z[:, :j]
            cond = self.conditionals[j]
            upper = (w[:, j] > 0.5) & (cond.sf is not None)        # invert from the survival side
            if cond.ppf is not None:
                z[:, j] = self._call(j, "ppf", w[:, j], past)
                if cond.isf is not None and upper.any():
                    z[upper, j] = self._call(j, "isf", w_bar[upper, j], past[upper])
            else:
                z[:, j] = self._solve(j, np.where(upper, w_bar[:, j], w[:, j]), past,
                                      np.where(upper, -1.0, 1.0))
            logp_cols[:, j] = self._call(j, "logpdf", z[:, j], past)
        return z, logp_cols.sum(axis=1), logp_cols

    def _solve(self, j, level, past, sign):
        r"""Numerical :math:`F_j^{-1}` by :func:`nfref.numerics.solve_monotone`.

        Rows with ``sign = 1`` solve :math:`F_j(x) = level`; rows with ``sign = -1`` solve
        :math:`1 - F_j(-x) = level` (increasing in ``x``); the result is ``sign * x``. The
        proposed bracket is ``[-1, 1]``; the solver moves it outward, doubling its width, until
        it holds the root, and runs Newton on :math:`\log F` for levels up to 1/2 (every level
        here: the upper half is solved from the survival side).
        """
        has_sf = self.conditionals[j].sf is not None

        def cdf_and_pdf(x, idx):
            t, sg, pa = sign[idx] * x, sign[idx], past[idx]
            out = self._call(j, "cdf", t, pa)
            if (sg < 0).any():
                out = np.where(sg > 0, out, self._call(j, "sf", t, pa) if has_sf else 1.0 - out)
            return out, np.exp(self._call(j, "logpdf", t, pa))

        n = level.size
        who = f"ConditionalCDF({self.name!r}).forward (coordinate {j})"
        root = solve_monotone(cdf_and_pdf, level, -np.ones(n), np.ones(n), tol=TOL,
                              name=who, log_newton_below=0.5)
        return sign * check_resolved(
            root, level, who, "the conditional CDF",
            "levels u_j (or 1 - u_j) at which the CDF is computed to relative precision, "
            "e.g. above 1e-300 for a normal CDF")

    def _jacobian_G_from(self, z, logp_cols):
        n, d = z.shape
        jac = np.zeros((n, d, d))
        jac[:, np.arange(d), np.arange(d)] = np.exp(logp_cols)    # p_j(z_j | z_<j)
        for j in range(1, d):
            jac[:, j, :j] = self._call(j, "cdf_grad", z[:, j], z[:, :j])
        return jac

    def _grad_logpdf_from(self, z, logp_cols):
        g = np.zeros_like(z)
        for j in range(self.dim):
            g[:, :j + 1] += self._call(j, "logpdf_grad", z[:, j], z[:, :j])
        return g


# ---------------------------------------------------------------------- the banana
def _normal_first():
    return Conditional(
        cdf=lambda t, past: ndtr(t),
        logpdf=lambda t, past: -0.5 * t * t - 0.5 * LOG_2PI,
        ppf=lambda w, past: ndtri(w),
        sf=lambda t, past: ndtr(-t),
        isf=lambda w, past: -ndtri(w),
        cdf_grad=lambda t, past: np.zeros((t.size, 0)),
        logpdf_grad=lambda t, past: (-t)[:, None])


def _banana_link(b, s, with_ppf):
    def e(t, past):
        return (t - b * past[:, -1] ** 2) / s

    def cdf_grad(t, past):
        g = np.zeros_like(past)
        ee = e(t, past)
        g[:, -1] = -np.exp(-0.5 * ee * ee) / np.sqrt(2 * np.pi) * 2.0 * b * past[:, -1] / s
        return g

    def logpdf_grad(t, past):
        g = np.zeros((t.size, past.shape[1] + 1))
        ee = e(t, past)
        g[:, -1] = -ee / s
        g[:, -2] = 2.0 * b * past[:, -1] * ee / s
        return g

    return Conditional(
        cdf=lambda t, past: ndtr(e(t, past)),
        logpdf=lambda t, past: -0.5 * e(t, past) ** 2 - np.log(s) - 0.5 * LOG_2PI,
        ppf=(lambda w, past: b * past[:, -1] ** 2 + s * ndtri(w)) if with_ppf else None,
        sf=lambda t, past: ndtr(-e(t, past)),
        isf=(lambda w, past: b * past[:, -1] ** 2 - s * ndtri(w)) if with_ppf else None,
        cdf_grad=cdf_grad, logpdf_grad=logpdf_grad)


def banana(b=1.0, s=0.5, dim=2, with_ppf=True):
    r"""The banana: :math:`z_1 \sim N(0, 1)`, :math:`z_j \mid z_{<j} \sim N(b z_{j-1}^2, s^2)`.

    For ``dim = 2`` this is the usual 2-D banana. ``with_ppf=False`` drops the closed-form
    quantile, so :math:`Q` goes through the numerical inverse (for comparison).
    """
    try:
        b, s = as_float(b, "b"), as_float(s, "s", low=0.0, low_open=True)
    except ValueError:
        raise ValueError(f"banana: expected finite b and s > 0, got b={b!r}, s={s!r}") from None
    try:
        dim = as_int(dim, "dim", minimum=1)
    except ValueError:
        raise ValueError(f"banana: expected dim a positive integer, got {dim!r}") from None
    if not isinstance(with_ppf, (bool, np.bool_)):
        raise ValueError(f"with_ppf: expected True or False, got {with_ppf!r}")
    conds = [_normal_first()] + [_banana_link(float(b), float(s), with_ppf)
                                 for _ in range(dim - 1)]
    law = ConditionalCDF(conds, name=f"banana(b={b:g}, s={s:g})")
    law.b, law.s = float(b), float(s)
    return law
