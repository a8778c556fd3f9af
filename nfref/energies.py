r"""The four energies of Rezende and Mohamed (2015), Table 1, as normalized targets for
variational inference, with their gradients and their log-normalizers.

With :math:`w_1(z) = \sin(2\pi z_1/4)`, :math:`w_2(z) = 3 e^{-\frac12((z_1 - 1)/0.6)^2}`,
:math:`w_3(z) = 3\sigma((z_1 - 1)/0.3)` (:math:`\sigma` the logistic function), the paper's
energies are

.. math::

   U_1(z) &= \tfrac12\Big(\frac{\|z\| - 2}{0.4}\Big)^2
             - \log\big(e^{-\frac12(\frac{z_1 - 2}{0.6})^2}
                         + e^{-\frac12(\frac{z_1 + 2}{0.6})^2}\big),\\
   U_2(z) &= \tfrac12\Big(\frac{z_2 - w_1}{0.4}\Big)^2,\\
   U_3(z) &= -\log\big(e^{-\frac12(\frac{z_2 - w_1}{0.35})^2}
                        + e^{-\frac12(\frac{z_2 - w_1 + w_2}{0.35})^2}\big),\\
   U_4(z) &= -\log\big(e^{-\frac12(\frac{z_2 - w_1}{0.4})^2}
                        + e^{-\frac12(\frac{z_2 - w_1 + w_3}{0.35})^2}\big).

**Confinement.** :math:`e^{-U_1}` is integrable on :math:`\mathbb R^2` (it decays like a
Gaussian in :math:`\|z\|`). :math:`e^{-U_2}, e^{-U_3}, e^{-U_4}` do not decay in :math:`z_1`
(for fixed :math:`z_1` they are Gaussian bumps in :math:`z_2` of a mass that does not depend
on :math:`z_1`), so they have no normalizer on :math:`\mathbb R^2`; the paper draws them on
:math:`[-4, 4]^2`. The targets used here multiply them by a Gaussian factor in :math:`z_1`,

.. math::  \tilde p_k(z) = \exp\big(-U_k(z) - c(z_1)\big),\qquad c(z_1) = \frac{z_1^2}{2 s^2},
           \quad s = 2 \quad (k = 2, 3, 4),

which keeps the picture on :math:`[-4, 4]^2` (the factor is :math:`e^{-2}` at its edges) and
is smooth, so a flow on :math:`\mathbb R^2` can match it. For these three the normalizer is in
closed form, which checks the quadrature: each Gaussian bump in :math:`z_2` of width
:math:`\tau` has mass :math:`\tau\sqrt{2\pi}` whatever :math:`z_1`, so

.. math::  Z_2 = \sqrt{2\pi}s\cdot 0.4\sqrt{2\pi},\quad
           Z_3 = \sqrt{2\pi}s\cdot 2\cdot 0.35\sqrt{2\pi},\quad
           Z_4 = \sqrt{2\pi}s\,(0.4 + 0.35)\sqrt{2\pi},

i.e. :math:`Z_2 = 1.6\pi`, :math:`Z_3 = 2.8\pi`, :math:`Z_4 = 3\pi` for :math:`s = 2`.

**Quadrature.** :func:`log_normalizer` takes :math:`\log\int\tilde p` by the trapezoid rule
on an :math:`n \times n` grid of a box outside which :math:`\tilde p < e^{-30}` times its
maximum (:attr:`Energy.box`). The integrands are smooth and decay like Gaussians, so the
rule converges faster than any power of the spacing; :math:`U_1` has a cone point at
:math:`z = 0`, where :math:`\tilde p_1 < 10^{-7}`. Accuracy: the difference between
:math:`n = 801` and :math:`n = 1601` (``log_normalizer(..., refine=True)``) is below
:math:`10^{-10}` nats for all four, and for :math:`U_2` to :math:`U_4` the value agrees with the
closed form to :math:`10^{-10}` (``tests/test_energies.py``).

**Gradients.** With primes for :math:`d/dz_1`:
:math:`w_1' = \frac{2\pi}4\cos(2\pi z_1/4)`, :math:`w_2' = -w_2\,(z_1 - 1)/0.6^2`,
:math:`w_3' = 3\sigma(1 - \sigma)/0.3` at :math:`(z_1 - 1)/0.3`.

* :math:`U_1`: with :math:`r = \|z\|`, :math:`\nabla r = z/r`, the ring term gives
  :math:`\frac{r - 2}{0.4^2}\frac{z}{r}` (0 at :math:`z = 0`); with :math:`a, b` the two
  exponents and :math:`\omega = e^a/(e^a + e^b) = \sigma(a - b)`,
  :math:`-\partial_{z_1}\log(e^a + e^b) = [\omega(z_1 - 2) + (1 - \omega)(z_1 + 2)]/0.6^2`.
* :math:`U_2`: with :math:`e = z_2 - w_1`, :math:`\partial_{z_2}U_2 = e/0.4^2`,
  :math:`\partial_{z_1}U_2 = -e\,w_1'/0.4^2`.
* :math:`U_3, U_4` are :math:`-\log(e^a + e^b)` with :math:`a = -\frac12(e_a/\tau_a)^2`,
  :math:`b = -\frac12(e_b/\tau_b)^2`, :math:`e_a = z_2 - w_1`, :math:`e_b = z_2 - w_1 + v`
  (:math:`v = w_2` or :math:`w_3`): :math:`\nabla U = -(\omega\nabla a + (1 - \omega)\nabla b)`,
  :math:`\omega = \sigma(a - b)`, with :math:`\partial_{z_2}a = -e_a/\tau_a^2`,
  :math:`\partial_{z_1}a = e_a w_1'/\tau_a^2`, :math:`\partial_{z_2}b = -e_b/\tau_b^2`,
  :math:`\partial_{z_1}b = -e_b(v' - w_1')/\tau_b^2`.
* The confinement adds :math:`c'(z_1) = z_1/s^2` to :math:`\partial_{z_1}`.

Every gradient is checked against finite differences in ``tests/test_energies.py``.
"""

import math
from dataclasses import dataclass

import numpy as np

from nfref._validation import as_batch
from nfref.numerics import sigmoid

__all__ = ["u1", "u2", "u3", "u4", "grad_u1", "grad_u2", "grad_u3", "grad_u4", "Energy",
           "ENERGIES", "log_normalizer", "CONFINEMENT_SCALE"]

#: :math:`s` of the confining factor :math:`e^{-z_1^2/(2s^2)}` of the targets 2, 3 and 4.
CONFINEMENT_SCALE = 2.0
_TWO_PI_OVER_4 = 2 * np.pi / 4


def _z(z):
    return as_batch(z, 2, "z")


def _w1(z1):
    return np.sin(_TWO_PI_OVER_4 * z1), _TWO_PI_OVER_4 * np.cos(_TWO_PI_OVER_4 * z1)


def _w2(z1):
    w = 3.0 * np.exp(-0.5 * ((z1 - 1.0) / 0.6) ** 2)
    return w, -w * (z1 - 1.0) / 0.6 ** 2


def _w3(z1):
    s = sigmoid((z1 - 1.0) / 0.3)
    return 3.0 * s, 3.0 * s * (1.0 - s) / 0.3


def u1(z):
    """:math:`U_1(z)`, shape (n,) for ``z`` of shape (n, 2) (module docstring)."""
    z = _z(z)
    r = np.hypot(z[:, 0], z[:, 1])
    a, b = -0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2
    return 0.5 * ((r - 2) / 0.4) ** 2 - np.logaddexp(a, b)


def grad_u1(z):
    r""":math:`\nabla U_1(z)`, shape (n, 2) (derivation in the module docstring)."""
    z = _z(z)
    r = np.hypot(z[:, 0], z[:, 1])
    ring = np.divide((r - 2) / 0.4 ** 2, r, out=np.zeros_like(r), where=r > 0)
    g = ring[:, None] * z
    a, b = -0.5 * ((z[:, 0] - 2) / 0.6) ** 2, -0.5 * ((z[:, 0] + 2) / 0.6) ** 2
    om = sigmoid(a - b)
    g[:, 0] += (om * (z[:, 0] - 2) + (1 - om) * (z[:, 0] + 2)) / 0.6 ** 2
    return g


def u2(z):
    """:math:`U_2(z)`, shape (n,)."""
    z = _z(z)
    return 0.5 * ((z[:, 1] - _w1(z[:, 0])[0]) / 0.4) ** 2


def grad_u2(z):
    r""":math:`\nabla U_2(z)`, shape (n, 2)."""
    z = _z(z)
    w1, dw1 = _w1(z[:, 0])
    e = (z[:, 1] - w1) / 0.4 ** 2
    return np.column_stack([-e * dw1, e])


def _two_bumps(z, shift, ta, tb):
    """``U = -log(e^a + e^b)`` and its gradient for the bumps of widths ``ta``, ``tb`` at
    ``w1`` and ``w1 - v`` (``shift(z1) -> (v, v')``)."""
    w1, dw1 = _w1(z[:, 0])
    v, dv = shift(z[:, 0])
    ea, eb = z[:, 1] - w1, z[:, 1] - w1 + v
    a, b = -0.5 * (ea / ta) ** 2, -0.5 * (eb / tb) ** 2
    u = -np.logaddexp(a, b)
    om = sigmoid(a - b)
    ga = np.column_stack([ea * dw1 / ta ** 2, -ea / ta ** 2])
    gb = np.column_stack([-eb * (dv - dw1) / tb ** 2, -eb / tb ** 2])
    return u, -(om[:, None] * ga + (1 - om)[:, None] * gb)


def u3(z):
    """:math:`U_3(z)`, shape (n,)."""
    return _two_bumps(_z(z), _w2, 0.35, 0.35)[0]


def grad_u3(z):
    r""":math:`\nabla U_3(z)`, shape (n, 2)."""
    return _two_bumps(_z(z), _w2, 0.35, 0.35)[1]


def u4(z):
    """:math:`U_4(z)`, shape (n,)."""
    return _two_bumps(_z(z), _w3, 0.4, 0.35)[0]


def grad_u4(z):
    r""":math:`\nabla U_4(z)`, shape (n, 2)."""
    return _two_bumps(_z(z), _w3, 0.4, 0.35)[1]


def _trapezoid_log_integral(log_f, box, n):
    """``log`` of the trapezoid rule of ``exp(log_f)`` on an ``n x n`` grid of ``box``,
    evaluated in row blocks (log-sum-exp, no underflow)."""
    (x0, x1), (y0, y1) = box
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    wx = np.full(n, (x1 - x0) / (n - 1))
    wx[[0, -1]] *= 0.5
    wy = np.full(n, (y1 - y0) / (n - 1))
    wy[[0, -1]] *= 0.5
    log_w = np.log(wy)
    parts = []
    block = max(1, 200_000 // n)
    for i in range(0, n, block):
        gx = np.repeat(xs[i:i + block], n)
        gy = np.tile(ys, len(xs[i:i + block]))
        lf = log_f(np.column_stack([gx, gy])).reshape(-1, n) + log_w
        lf += np.log(wx[i:i + block])[:, None]
        m = lf.max()
        parts.append(m + np.log(np.exp(lf - m).sum()))
    parts = np.array(parts)
    m = parts.max()
    return float(m + np.log(np.exp(parts - m).sum()))


def log_normalizer(log_target, box, n=801, refine=False):
    r""":math:`\log\int_{\text{box}} e^{\log\tilde p(z)}\,dz` by the trapezoid rule on an
    ``n x n`` grid (module docstring).

    Parameters
    ----------
    log_target : callable
        ``(m, 2) -> (m,)``.
    box : ((float, float), (float, float))
    n : int
        Grid points per axis, at least 3.
    refine : bool
        Also compute it on ``2n - 1`` points per axis (the spacing halved) and return
        ``(value, |difference|)``.

    Returns
    -------
    float, or (float, float) with ``refine``
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"n: expected an integer >= 3, got {n!r}")
    value = _trapezoid_log_integral(log_target, box, int(n))
    if not refine:
        return value
    fine = _trapezoid_log_integral(log_target, box, 2 * int(n) - 1)
    return fine, abs(fine - value)


@dataclass(frozen=True)
class Energy:
    r"""A target :math:`\tilde p(z) = e^{-U(z) - c(z_1)}` of the module docstring.

    Attributes
    ----------
    name : str
        ``"U1"`` to ``"U4"``.
    energy, grad : callable
        The paper's :math:`U` and :math:`\nabla U`.
    confined : bool
        Whether the Gaussian factor :math:`e^{-z_1^2/(2s^2)}` is applied.
    box : ((float, float), (float, float))
        The quadrature box (the target is below :math:`e^{-30}` of its maximum outside).
    plot_box : ((float, float), (float, float))
        The paper's drawing box, :math:`[-4, 4]^2`.
    exact_log_z : float or None
        The closed-form :math:`\log Z` where there is one.
    """

    name: str
    energy: object
    grad: object
    confined: bool
    box: tuple
    exact_log_z: object = None
    plot_box: tuple = ((-4.0, 4.0), (-4.0, 4.0))

    def log_target(self, z):
        r""":math:`\log\tilde p(z) = -U(z) - c(z_1)`, shape (n,)."""
        z = _z(z)
        out = -self.energy(z)
        if self.confined:
            out = out - 0.5 * (z[:, 0] / CONFINEMENT_SCALE) ** 2
        return out

    def grad_log_target(self, z):
        r""":math:`\nabla\log\tilde p(z) = -\nabla U(z) - (c'(z_1), 0)`, shape (n, 2)."""
        z = _z(z)
        g = -self.grad(z)
        if self.confined:
            g[:, 0] -= z[:, 0] / CONFINEMENT_SCALE ** 2
        return g

    def log_z(self, n=801, refine=False):
        r""":math:`\log Z = \log\int\tilde p` by :func:`log_normalizer` on :attr:`box`."""
        return log_normalizer(self.log_target, self.box, n, refine)


def _closed(*widths):
    return math.log(2 * math.pi * CONFINEMENT_SCALE * sum(widths))   # sqrt(2 pi) s sum(w) sqrt(2 pi)


_S = CONFINEMENT_SCALE
#: ``"U1"`` .. ``"U4"`` -> :class:`Energy`.
ENERGIES = {
    "U1": Energy("U1", u1, grad_u1, False, ((-5.5, 5.5), (-5.5, 5.5))),
    "U2": Energy("U2", u2, grad_u2, True, ((-8 * _S, 8 * _S), (-4.5, 4.5)), _closed(0.4)),
    "U3": Energy("U3", u3, grad_u3, True, ((-8 * _S, 8 * _S), (-7.0, 4.5)), _closed(0.35, 0.35)),
    "U4": Energy("U4", u4, grad_u4, True, ((-8 * _S, 8 * _S), (-7.0, 4.5)), _closed(0.4, 0.35)),
}
