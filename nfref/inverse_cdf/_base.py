r"""What every multivariate inverse CDF shares (notes 000, section 1).

For a continuous random vector :math:`Z` with density :math:`p_Z`, the *partial CDFs*
(eq. (1)) and the map :math:`G` (eq. (2)) are

.. math:: w_j = G_j(z) = F_j(z_j \mid z_{<j}) = P(Z_j \le z_j \mid Z_{<j} = z_{<j}),

and :math:`Q = G^{-1}` (eqs. (3)-(5)) solves them one coordinate after the other,
:math:`z_j = F_j^{-1}(w_j \mid z_{<j})`. The Jacobian of :math:`G` (rows are outputs,
``J_G[n, j, i] = dG_j/dz_i``) is lower triangular with diagonal
:math:`p(z_j \mid z_{<j})`, so :math:`\log|\det J_G(z)| = \sum_j \log p(z_j\mid z_{<j})
= \log p_Z(z)`.

Orientation in nfref: the Transform's *forward* map is :math:`Q` (unit cube
:math:`(0,1)^d \to \mathbb{R}^d`, the generative direction) and its *inverse* map is
:math:`G`, so that ``Flow(UniformCube(d), t).logpdf(z)`` is :math:`\log p_Z(z)`.

Gradients with respect to the inputs, for a transform without learnable parameters.
Forward: :math:`z = Q(u)`, :math:`\ell(u) = \log|\det J_Q(u)| = -\log p_Z(Q(u))`, so

.. math:: \nabla_u\big(g_z^\top z + g_\ell\,\ell\big) = J_Q(u)^\top\big(g_z - g_\ell\,\nabla_z\log p_Z(z)\big).

Inverse: :math:`w = G(z)`, :math:`\ell^{-1}(z) = \log p_Z(z)`, so

.. math:: \nabla_z\big(g_w^\top w + g_\ell\,\ell^{-1}\big) = J_G(z)^\top g_w + g_\ell\,\nabla_z\log p_Z(z).

:math:`J_Q(u) = J_G(z)^{-1}` is lower triangular too; it is computed by forward
substitution (:func:`tril_inverse`), so its upper triangle is exactly zero.
"""

import numpy as np

from nfref._validation import as_rng
from nfref.transform import Transform

__all__ = ["InverseCDFTransform", "tril_inverse", "tril_solve", "lower_solve", "monotone_root"]


def tril_inverse(jac):
    """Inverse of a batch of lower-triangular matrices ``(n, d, d)`` by forward substitution.

    Row ``i`` of :math:`M = J^{-1}` satisfies :math:`M_{ii} = 1/J_{ii}` and
    :math:`M_{ij} = -\\frac{1}{J_{ii}}\\sum_{j \\le k < i} J_{ik} M_{kj}` for :math:`j < i`;
    entries above the diagonal stay exactly zero.
    """
    n, d, _ = jac.shape
    inv = np.zeros_like(jac)
    for i in range(d):
        inv[:, i, i] = 1.0 / jac[:, i, i]
        if i:
            acc = np.einsum("nk,nkj->nj", jac[:, i, :i], inv[:, :i, :i])   # (n, i)
            inv[:, i, :i] = -acc / jac[:, i, i][:, None]
    return inv


def tril_solve(jac, v, transpose=False):
    """Solve ``J s = v`` (or ``J^T s = v``) for a batch of lower-triangular ``J`` (n, d, d)."""
    n, d, _ = jac.shape
    s = np.zeros_like(v)
    order = range(d - 1, -1, -1) if transpose else range(d)
    for i in order:
        if transpose:   # J^T is upper triangular: row i of J^T is column i of J
            rest = np.einsum("nk,nk->n", jac[:, i + 1:, i], s[:, i + 1:])
        else:
            rest = np.einsum("nk,nk->n", jac[:, i, :i], s[:, :i])
        s[:, i] = (v[:, i] - rest) / jac[:, i, i]
    return s


def lower_solve(L, v, transpose=False):
    """Solve ``L s_n = v_n`` (or ``L^T s_n = v_n``) for every row of ``v`` (n, d), one
    lower-triangular ``L`` (d, d), by substitution over the ``d`` columns.

    (``scipy.linalg.solve_triangular`` took 8 to 20 ms a call with SciPy 1.17 on this
    project's machines, depending on load and whatever the size, which dominates small
    problems; this loop over dimensions does not.)
    """
    d = L.shape[0]
    s = np.zeros_like(v)
    for i in (range(d - 1, -1, -1) if transpose else range(d)):
        rest = s[:, i + 1:] @ L[i + 1:, i] if transpose else s[:, :i] @ L[i, :i]
        s[:, i] = (v[:, i] - rest) / L[i, i]
    return s


def monotone_root(cdf, pdf, target, lo, hi, x0=None, tol=1e-13, max_iter=200):
    r"""Solve :math:`F(x) = w` for increasing :math:`F`, elementwise, by bracketed Newton.

    Newton steps :math:`x \leftarrow x - (F(x) - w)/f(x)` (for :math:`w \le 1/2` on
    :math:`\log F`: :math:`x \leftarrow x - F(x)\log(F(x)/w)/f(x)`) are taken while they stay inside
    the bracket :math:`[lo, hi]` (kept with :math:`F(lo) \le w \le F(hi)`), bisection
    otherwise; every point is updated at once (no loop over points). Stops when every
    step or bracket is below ``tol * (1 + |x|)``, or the residual :math:`|F(x) - w|` is at
    the rounding level of :math:`w` (4 units in the last place).

    Parameters
    ----------
    cdf, pdf : callable ``(x, idx) -> (m,)``
        :math:`F` and :math:`f = F'` at points ``x`` (shape ``(m,)``) for the problems
        ``idx`` (an index array into the batch, so per-point parameters can be sliced).
    target : ndarray, shape (n,)
        The levels :math:`w`.
    lo, hi : ndarray, shape (n,)
        A bracket: :math:`F(lo) \le w \le F(hi)`.
    x0 : ndarray, shape (n,), optional
        Starting points (clipped into the bracket); the midpoint if omitted.

    Returns
    -------
    ndarray, shape (n,)

    Raises
    ------
    ValueError
        If some points did not converge in ``max_iter`` iterations.
    """
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    x = 0.5 * (lo + hi) if x0 is None else np.clip(x0, lo, hi)
    active = np.arange(target.size)
    for _ in range(max_iter):
        xa, la, ha, ta = x[active], lo[active], hi[active], target[active]
        fa = cdf(xa, active) - ta
        la = np.where(fa < 0, xa, la)
        ha = np.where(fa >= 0, xa, ha)
        dens = pdf(xa, active)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Below 1/2, Newton on log F (log F is nearly quadratic in a light lower tail,
            # where F itself shrinks geometrically and plain Newton crawls); above, on F.
            fx = fa + ta
            log_step = (np.log(fx) - np.log(ta)) * fx / dens
            newton = xa - np.where(ta <= 0.5, log_step, fa / dens)
        scale = tol * (1.0 + np.abs(xa))
        # A converged Newton step may land on the bracket's end (F(x) - w of either sign
        # at rounding level): accept it before the bracket test would send it to bisection.
        converged = np.isfinite(newton) & (np.abs(newton - xa) <= scale)
        ok = converged | (np.isfinite(newton) & (newton > la) & (newton < ha))
        new = np.where(ok, newton, 0.5 * (la + ha))
        # Residual at the rounding level of w: x is as good as F's float64 values allow
        # (in a CDF's upper tail, where F is flat near 1, that is far from 1e-13; the laws
        # therefore solve there with the survival function instead).
        floor = np.abs(fa) <= 4.0 * np.finfo(float).eps * np.abs(ta)
        done = converged | floor | (ha - la <= scale) | (fa == 0)
        x[active], lo[active], hi[active] = np.where(fa == 0, xa, new), la, ha
        active = active[~done]
        if active.size == 0:
            return x
    raise ValueError(f"monotone_root: {active.size} of {target.size} points did not converge "
                     f"in {max_iter} iterations")


class InverseCDFTransform(Transform):
    """Shared machinery: forward is ``Q`` (cube to R^d), inverse is ``G`` (R^d to cube).

    Subclasses implement ``_G_pair(z) -> (w, w_bar, logp)``, ``_Q_pair(w, w_bar) -> (z, logp)``,
    ``_jacobian_G(z) -> (n, d, d)`` and ``_grad_logpdf(z) -> (n, d)``; this class
    derives the Transform hooks (for transforms without learnable parameters) and the
    public helpers ``partial_cdf``, ``partial_cdf_pair``, ``partial_cdf_jacobian``,
    ``quantile``, ``logpdf``, ``grad_logpdf`` and ``rvs``.

    Both tails: in float64 a CDF value above :math:`1 - 2^{-53}` rounds to 1, so the upper
    tail of :math:`G` is lost past about 8.3 standard deviations. Every law therefore also
    computes :math:`\bar w = 1 - w` directly (survival functions), and ``_Q_pair`` inverts
    from :math:`\bar w` where :math:`w > 1/2`. The Transform's own ``forward`` takes ``u``
    only (``1 - u`` is exact there for ``u > 1/2``); :class:`~nfref.inverse_cdf.Morph` passes
    the pair, so morphing stays accurate in both tails.
    """

    # ---------------------------------------------------------------- public helpers
    def partial_cdf(self, z):
        """``w = G(z)`` (eqs. (1)-(2)), shape (n, d)."""
        return self.inverse(z)[0]

    def partial_cdf_pair(self, z):
        """``(w, 1 - w)`` with ``w = G(z)``, the second computed directly (accurate where
        ``w`` rounds to 1), each of shape (n, d)."""
        z = self._prepare(z, "z")
        self._check_inverse_domain(z)
        w, w_bar, _ = self._G_pair(z)
        return w, w_bar

    def quantile(self, u):
        """``z = Q(u)`` (eqs. (3)-(5)), shape (n, d)."""
        return self.forward(u)[0]

    def logpdf(self, z):
        """``log p_Z(z) = log|det J_G(z)|``, shape (n,)."""
        return self.inverse(z)[1]

    def grad_logpdf(self, z):
        """``grad_z log p_Z(z)``, shape (n, d)."""
        z = self._prepare(z, "z")
        return self._finite_out("grad_logpdf", self._grad_logpdf(z))[0]

    def partial_cdf_jacobian(self, z):
        """``J_G[n, j, i] = dG_j/dz_i`` (lower triangular), shape (n, d, d)."""
        z = self._prepare(z, "z")
        self._check_inverse_domain(z)
        return self._finite_out("partial_cdf_jacobian", self._jacobian_G(z))[0]

    def rvs(self, size=1, random_state=None):
        """Draw ``Z = Q(U)``, ``U ~ Uni(0, 1)^d`` (eq. (5)), shape (size, d)."""
        if isinstance(size, bool) or int(size) != size or size < 1:
            raise ValueError(f"size: expected a positive integer, got {size!r}")
        rng = as_rng(random_state)
        u = rng.uniform(size=(int(size), self.dim))
        u[u == 0.0] = np.nextafter(0.0, 1.0)      # uniform() may return exactly 0
        return self.quantile(u)

    # ---------------------------------------------------------------- Transform hooks
    def _check_forward_domain(self, u):
        outside = (u <= 0.0) | (u >= 1.0)
        if outside.any():
            idx = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(f"{type(self).__name__}.forward: expected u in the open unit cube "
                             f"(0, 1)^{self.dim} (Q is the inverse of a CDF), got "
                             f"{int(outside.sum())} entries outside, e.g. u{list(idx)} = "
                             f"{u[idx]!r}")

    def _G(self, z):
        w, _, logp = self._G_pair(z)
        return w, logp

    def _Q(self, u):
        return self._Q_pair(u, 1.0 - u)

    def _forward(self, u):
        z, logp = self._Q(u)
        return z, -logp

    def _inverse(self, z):
        return self._G(z)

    def _jacobian(self, u):
        z, _ = self._Q(u)
        return tril_inverse(self._jacobian_G(z))

    def _forward_vjp(self, u, gx, gl):
        z, _ = self._Q(u)
        jac_g = self._jacobian_G(z)                                # (n, d, d)
        v = gx - gl[:, None] * self._grad_logpdf(z)                # (n, d)
        return tril_solve(jac_g, v, transpose=True), {}

    def _inverse_vjp(self, z, gu, gl):
        jac_g = self._jacobian_G(z)                                # (n, d, d)
        gz = np.einsum("nji,nj->ni", jac_g, gu) + gl[:, None] * self._grad_logpdf(z)
        return gz, {}

