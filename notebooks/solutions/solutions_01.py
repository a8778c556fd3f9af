"""Worked solutions of the exercises of notebook 01 (multivariate inverse CDF)."""

import numpy as np
from scipy import stats

from nfref.exercises import STUDENT_T, SYMMETRIC_GAUSSIAN
from nfref.inverse_cdf import GaussianMixtureCDF

# 01.1: the same mixture with its coordinates swapped; GaussianMixtureCDF builds G for that order.
WEIGHTS = [0.45, 0.35, 0.20]
MEANS = np.array([[-2.0, -1.0], [2.0, 1.0], [0.5, 2.5]])
COVS = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.6, -0.3], [-0.3, 0.8]], [[0.4, 0.0], [0.0, 0.2]]])
swapped = GaussianMixtureCDF(WEIGHTS, MEANS[:, ::-1], COVS[:, ::-1, ::-1])


def G_swapped(z):
    """Partial CDFs of the mixture in the order (z_2, z_1); ``z`` holds that order."""
    return swapped.inverse(z)[0]          # forward is Q (cube to data); G is its inverse


# 01.2: z_1 ~ t_nu(m_1, S_11); z_2 | z_1 ~ t_{nu+1}(m_2 + S_21/S_11 (z_1 - m_1),
# (nu + (z_1 - m_1)^2/S_11) / (nu + 1) * (S_22 - S_21^2/S_11)).
def G_student_t(z):
    """The partial CDFs G(z) = (F_1(z_1), F_2(z_2 | z_1)) of the 2-D Student-t."""
    nu, m, S = STUDENT_T["nu"], STUDENT_T["loc"], STUDENT_T["shape"]
    d1 = z[:, 0] - m[0]
    u1 = stats.t.cdf(d1 / np.sqrt(S[0, 0]), nu)
    loc = m[1] + S[1, 0] / S[0, 0] * d1
    scale2 = (nu + d1**2 / S[0, 0]) / (nu + 1) * (S[1, 1] - S[1, 0]**2 / S[0, 0])
    u2 = stats.t.cdf((z[:, 1] - loc) / np.sqrt(scale2), nu + 1)
    return np.stack([u1, u2], axis=1)


# 01.3: the symmetric square root from the eigendecomposition Sigma = V diag(l) V^T.
_l, _V = np.linalg.eigh(SYMMETRIC_GAUSSIAN["cov"])
SQRT = _V @ np.diag(np.sqrt(_l)) @ _V.T


def Q_symmetric(u):
    """Q(u) = mu + Sigma^{1/2} Phi^{-1}(u): a valid sampler, but its Jacobian is full."""
    return SYMMETRIC_GAUSSIAN["mean"] + stats.norm.ppf(u) @ SQRT.T
