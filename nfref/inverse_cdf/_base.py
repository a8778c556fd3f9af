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

.. math::
    \nabla_u\big(g_z^\top z + g_\ell\,\ell\big)
    = J_Q(u)^\top\big(g_z - g_\ell\,\nabla_z\log p_Z(z)\big)
    = J_G(z)^{-\top}\big(g_z - g_\ell\,\nabla_z\log p_Z(z)\big).

Inverse: :math:`w = G(z)`, :math:`\ell^{-1}(z) = \log p_Z(z)`, so

.. math:: \nabla_z\big(g_w^\top w + g_\ell\,\ell^{-1}\big) = J_G(z)^\top g_w + g_\ell\,\nabla_z\log p_Z(z).

Both pullbacks need :math:`J_G(z)` and :math:`\nabla_z\log p_Z(z)` at the point of the
pass (for the forward direction, at :math:`z = Q(u)`, the solution the pass found); they
are formed once, when the pass runs, from the pieces the pass computed (a law's
standardized residuals, mixture posteriors, conditional log-densities), and the forward
pullback is one back substitution with :math:`J_G^\top` (:func:`nfref.numerics.tril_solve`);
for a numerical :math:`Q` this is the implicit-function rule, and the solver's iterations
are never differentiated.
:math:`J_Q(u) = J_G(z)^{-1}` is lower triangular too; it is computed by forward
substitution (:func:`nfref.numerics.tril_inverse`), so its upper triangle is exactly zero.
"""

import numpy as np

from nfref._validation import as_int, as_rng
from nfref.numerics import tril_inverse, tril_solve
from nfref.transform import Transform

__all__ = ["InverseCDFTransform"]


def check_resolved(root, level, who, what, expected):
    """Return ``root.x`` if the CDF was resolved at every ``level``, else raise ``ValueError``.

    A bracketed solve of ``F(z) = level`` can close on a jump of the *computed* CDF (a
    float64 normal CDF underflows to 0 below about 1e-310); its root is then not the
    quantile. For a continuous CDF the residual at a closed bracket is the density times
    the solver's tolerance, below ``1e-6 * level``; a larger residual means float64 does not
    resolve the level. ``what`` names the CDF, ``expected`` says which levels work.
    """
    bad = root.residual > 1e-6 * level
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"{who}: {what} is not resolved in float64 at level {level[i]:.3g} "
                         f"(at the solution it is off by {root.residual[i]:.3g}); expected "
                         f"{expected}")
    return root.x


class InverseCDFTransform(Transform):
    r"""Shared machinery: forward is ``Q`` (cube to R^d), inverse is ``G`` (R^d to cube).

    A law implements four hooks that share the pieces of one pass:

    ``_G_pass(z) -> (w, w_bar, logp, pieces)``
        :math:`w = G(z)`, :math:`\bar w = 1 - w` (computed directly),
        :math:`\log p_Z(z)`, and whatever the slopes below need (``pieces``).
    ``_Q_pass(w, w_bar) -> (z, logp, pieces)``
        :math:`z = Q(w)` (from :math:`\bar w` where :math:`w > 1/2`), :math:`\log p_Z(z)`,
        and the pieces at that :math:`z`, of the same kind as ``_G_pass`` returns.
    ``_jacobian_G_from(z, pieces) -> (n, d, d)``
        :math:`J_G(z)`, lower triangular.
    ``_grad_logpdf_from(z, pieces) -> (n, d)``
        :math:`\nabla_z \log p_Z(z)`.

    From them this class builds the Transform hooks (``_forward_and_vjp``,
    ``_inverse_and_vjp``, ``_jacobian``, and the value-only ``_forward``/``_inverse``, which
    skip the slopes), the pair passes ``_forward_pair_and_vjp(w, w_bar)`` and
    ``_inverse_pair_and_vjp(z)`` that :class:`~nfref.inverse_cdf.Morph` composes, and the
    public helpers ``partial_cdf``, ``partial_cdf_pair``, ``partial_cdf_jacobian``,
    ``quantile``, ``logpdf``, ``grad_logpdf`` and ``rvs``. A law with learnable parameters
    (:class:`~nfref.inverse_cdf.GaussianCDF`) overrides the two pair passes to add their
    gradients.

    Both tails: in float64 a CDF value above :math:`1 - 2^{-53}` rounds to 1, so the upper
    tail of :math:`G` is lost past about 8.3 standard deviations. Every law therefore also
    computes :math:`\bar w = 1 - w` directly (survival functions), and ``_Q_pass`` inverts
    from :math:`\bar w` where :math:`w > 1/2`. The Transform's own ``forward`` takes ``u``
    only (``1 - u`` is exact there for ``u > 1/2``); :class:`~nfref.inverse_cdf.Morph` passes
    the pair, so morphing stays accurate in both tails.
    """

    @property
    def numerical_inverse(self):
        """True when ``Q`` (the forward map) is a numerical solve, so round trips hold to the
        solver's tolerance; false here, laws with a numerical ``Q`` say so."""
        return False

    # ---------------------------------------------------------------- public helpers
    def partial_cdf(self, z):
        """``w = G(z)`` (eqs. (1)-(2)), shape (n, d)."""
        return self.inverse(z)[0]

    def partial_cdf_pair(self, z):
        """``(w, 1 - w)`` with ``w = G(z)``, the second computed directly (accurate where
        ``w`` rounds to 1), each of shape (n, d)."""
        z = self._prepare_z(z)
        w, w_bar, _, _ = self._G_pass(z)
        return self._finite_out("partial_cdf_pair", w, w_bar)

    def quantile(self, u):
        """``z = Q(u)`` (eqs. (3)-(5)), shape (n, d)."""
        return self.forward(u)[0]

    def logpdf(self, z):
        """``log p_Z(z) = log|det J_G(z)|``, shape (n,)."""
        return self.inverse(z)[1]

    def grad_logpdf(self, z):
        """``grad_z log p_Z(z)``, shape (n, d)."""
        z = self._prepare_z(z)
        pieces = self._G_pass(z)[3]
        return self._finite_out("grad_logpdf", self._grad_logpdf_from(z, pieces))[0]

    def partial_cdf_jacobian(self, z):
        """``J_G[n, j, i] = dG_j/dz_i`` (lower triangular), shape (n, d, d)."""
        z = self._prepare_z(z)
        pieces = self._G_pass(z)[3]
        return self._finite_out("partial_cdf_jacobian", self._jacobian_G_from(z, pieces))[0]

    def rvs(self, size=1, random_state=None):
        """Draw ``Z = Q(U)``, ``U ~ Uni(0, 1)^d`` (eq. (5)), shape (size, d)."""
        size = as_int(size, "size (a positive integer)", minimum=1)
        rng = as_rng(random_state)
        u = rng.uniform(size=(size, self.dim))
        u[u == 0.0] = np.nextafter(0.0, 1.0)      # uniform() may return exactly 0
        return self.quantile(u)

    def _prepare_z(self, z):
        z = self._prepare(z, "z")
        self._check_inverse_domain(z)
        return z

    # ---------------------------------------------------------------- the two passes
    def _forward_pair_and_vjp(self, w, w_bar):
        r"""``(z, logdet, back)`` of :math:`z = Q(w)`, ``logdet = -log p_Z(z)``, with
        ``back(gz, gl) -> (gw, {})``: :math:`g_w = J_G(z)^{-\top}(g_z - g_\ell\nabla\log p_Z(z))`
        (module docstring), with :math:`J_G(z)` and the gradient formed once, here."""
        z, logp, pieces = self._Q_pass(w, w_bar)
        jac_g = self._jacobian_G_from(z, pieces)                   # (n, d, d)
        grad = self._grad_logpdf_from(z, pieces)                   # (n, d)

        def back(gz, gl):
            return tril_solve(jac_g, gz - gl[:, None] * grad, transpose=True), {}
        return z, -logp, back

    def _inverse_pair_and_vjp(self, z):
        r"""``(w, w_bar, logp, back)`` of :math:`w = G(z)`, with ``back(gw, gl) -> (gz, {})``:
        :math:`g_z = J_G(z)^\top g_w + g_\ell\nabla\log p_Z(z)` (module docstring)."""
        w, w_bar, logp, pieces = self._G_pass(z)
        jac_g = self._jacobian_G_from(z, pieces)                   # (n, d, d)
        grad = self._grad_logpdf_from(z, pieces)                   # (n, d)

        def back(gw, gl):
            return np.einsum("nji,nj->ni", jac_g, gw) + gl[:, None] * grad, {}
        return w, w_bar, logp, back

    # ---------------------------------------------------------------- Transform hooks
    def _check_forward_domain(self, u):
        outside = (u <= 0.0) | (u >= 1.0)
        if outside.any():
            idx = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(f"{type(self).__name__}.forward: expected u in the open unit cube "
                             f"(0, 1)^{self.dim} (Q is the inverse of a CDF), got "
                             f"{int(outside.sum())} entries outside, e.g. u{list(idx)} = "
                             f"{u[idx]!r}")

    def _forward_and_vjp(self, u):
        return self._forward_pair_and_vjp(u, 1.0 - u)

    def _inverse_and_vjp(self, z):
        w, _, logp, back = self._inverse_pair_and_vjp(z)
        return w, logp, back

    def _forward(self, u):
        z, logp, _ = self._Q_pass(u, 1.0 - u)
        return z, -logp

    def _inverse(self, z):
        w, _, logp, _ = self._G_pass(z)
        return w, logp

    def _jacobian(self, u):
        z, _, pieces = self._Q_pass(u, 1.0 - u)
        return tril_inverse(self._jacobian_G_from(z, pieces))

    # ---------------------------------------------------------------- the law's hooks
    def _G_pass(self, z):
        raise NotImplementedError

    def _Q_pass(self, w, w_bar):
        raise NotImplementedError

    def _jacobian_G_from(self, z, pieces):
        raise NotImplementedError

    def _grad_logpdf_from(self, z, pieces):
        raise NotImplementedError
