r"""Base distributions and ``Flow`` = base + transform (notes 000 eq. (7); notes 003).

A flow models data as :math:`X = \phi(U;\theta)`, :math:`U \sim p_U`, so by the change of
variables formula, eq. (7) of notes 000,

.. math:: \log p_X(x) = \log p_U(\phi^{-1}(x)) + \log|\det J_{\phi^{-1}}(x)|.

Bases (all with scipy-like ``logpdf``, ``pdf``, ``rvs(size, random_state)``):

* :class:`UniformCube` -- :math:`\mathrm{Uni}[0,1]^d`, the base of notes 000; ``logpdf`` is
  0 inside and ``-inf`` outside (never NaN);
* :class:`StandardNormal` -- :math:`N(0, I_d)`, the base of notes 003;
* :class:`DiagonalNormal` -- :math:`N(\mu, \operatorname{diag}(e^{2s}))` with learnable
  ``loc`` and ``log_scale``.

Each base also gives ``logpdf_vjp(x, g)``: the gradient of :math:`\sum_n g_n \log p(x_n)`
with respect to ``x`` and its parameters. For the diagonal normal, with
:math:`z = (x - \mu) e^{-s}` and :math:`\log p = \sum_i (-z_i^2/2 - s_i) - \tfrac d2\log 2\pi`:
:math:`\partial_x = -z e^{-s}`, :math:`\partial_\mu = z e^{-s}`, :math:`\partial_s = z^2 - 1`.

Negative log-likelihood gradient of a flow (the forward KL of notes 001 up to a
constant): with :math:`u = \phi^{-1}(x)` and :math:`\mathcal L = -\frac1n\sum_n \log p_X(x_n)`,

.. math::
    \nabla_\theta \mathcal L = \text{pullback}\big(g_u = -\tfrac1n \nabla_u \log p_U(u),
    \ g_\ell = -\tfrac1n\big)_\theta,

where ``pullback`` is the one returned by the inverse pass that computed :math:`u`
(``transform.inverse_and_vjp(x)``), so the pass runs once per step,

and the base parameters get :math:`-\frac1n \sum_n \nabla_\psi \log p_U(u_n)`.
"""

import numpy as np

from nfref._validation import (as_batch, as_int, as_real, as_rng, as_vector, check_dim,
                               check_finite, check_finite_result)
from nfref.transform import Transform, prefix_params

__all__ = ["Distribution", "UniformCube", "StandardNormal", "DiagonalNormal", "Flow",
           "refuse_off_support"]

LOG_2PI = np.log(2 * np.pi)

#: ``DiagonalNormal`` log-scales are refused outside ``[-MAX_LOG_SCALE, MAX_LOG_SCALE]``:
#: beyond about 709.78, ``exp(s)`` or ``exp(-s)`` overflows float64 (the density's
#: ``(x - mu) e^{-s}`` would be ``0 * inf``, its samples ``inf``).
MAX_LOG_SCALE = 700.0


def check_model(base, transform, where):
    """Raise ``ValueError`` unless ``base`` is a :class:`Distribution` and ``transform`` a
    :class:`~nfref.transform.Transform` of the same dimension (``where`` names the caller)."""
    if not isinstance(base, Distribution):
        raise ValueError(f"{where}: expected base to be a Distribution (UniformCube, "
                         f"StandardNormal, DiagonalNormal), got {type(base).__name__}")
    if not isinstance(transform, Transform):
        raise ValueError(f"{where}: expected transform to be a Transform, got "
                         f"{type(transform).__name__}")
    if base.dim != transform.dim:
        raise ValueError(f"{where}: base has dimension {base.dim} but the transform has "
                         f"dimension {transform.dim}")


def refuse_off_support(base, log_pu, where):
    """Raise ``ValueError`` naming the rows where ``log_pu = log p_U(u)`` is ``-inf``.

    The one rule for likelihood gradients (:meth:`Flow.nll_and_grad`,
    :func:`nfref.one_layer.modeling.mean_log_likelihood_and_grad`): a point with zero base
    density (outside the support of the base, for a uniform base outside the image of the
    unit cube) has log-likelihood ``-inf`` and no gradient.
    """
    off = np.isneginf(log_pu)
    if np.any(off):
        rows = np.flatnonzero(off)
        shown = ", ".join(str(int(i)) for i in rows[:5]) + (" ..." if rows.size > 5 else "")
        support = ("the image of the unit cube" if isinstance(base, UniformCube) else
                   "the support of the base (its log-density underflows to -inf there)")
        raise ValueError(f"{where}: {rows.size} of {log_pu.size} points lie outside {support}, "
                         f"rows [{shown}]; the log-likelihood is -inf there and has no "
                         "gradient; expected every point where the model's density is positive")


class Distribution:
    """Base class: validation of ``x`` and ``size``, and the scipy-like public names."""

    def __init__(self, dim, params=None):
        self.dim = check_dim(dim)
        self.params = {k: np.array(as_real(v, k), dtype=np.float64)
                       for k, v in (params or {}).items()}

    def logpdf(self, x):
        """Log density at each row of ``x`` (shape ``(n, d)``), shape ``(n,)``."""
        self._check_params()
        return self._logpdf(as_batch(x, self.dim, "x"))     # -inf off the support, never NaN

    def pdf(self, x):
        """Density at each row of ``x``, shape ``(n,)``."""
        return np.exp(self.logpdf(x))

    def rvs(self, size=1, random_state=None):
        """Draw ``size`` points, shape ``(size, d)``, from an explicit generator or seed."""
        size = as_int(size, "size (a positive integer)", minimum=1)
        self._check_params()
        rng = as_rng(random_state)
        return check_finite_result(f"{type(self).__name__}.rvs", [self._rvs(size, rng)],
                                   "(overflow: expected parameters whose samples are "
                                   "representable in float64)")[0]

    def logpdf_vjp(self, x, g=None):
        """Gradient of ``sum(g * logpdf(x))`` w.r.t. ``x`` (shape ``(n, d)``) and the parameters.

        ``g`` (shape ``(n,)``, finite; ones if omitted) is checked like every cotangent. A
        point with zero density (outside a uniform base's cube) has no gradient and is
        refused.
        """
        self._check_params()
        x = as_batch(x, self.dim, "x")
        g = np.ones(x.shape[0]) if g is None else as_vector(g, x.shape[0], "g")
        gx, gp = self._logpdf_vjp(x, g)
        check_finite_result(f"{type(self).__name__}.logpdf_vjp", [gx, *gp.values()],
                            "(overflow: expected points and parameters whose gradient is "
                            "representable in float64)")
        return gx, gp

    def _check_params(self):
        for k, v in self.params.items():
            check_finite(v, f"{type(self).__name__} parameter {k!r}")
        self._validate_params()

    def _validate_params(self):
        """Override to refuse parameters outside the valid set (``ValueError``)."""

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


class UniformCube(Distribution):
    """Uniform distribution on the unit cube ``[0, 1]^d`` (the base of notes 000).

    ``logpdf_vjp`` is zero inside the cube for any cotangent ``g`` (the log-density is
    constant there); ``g`` is still checked, and points outside the cube are refused.
    """

    def _logpdf(self, x):
        inside = np.all((x >= 0.0) & (x <= 1.0), axis=1)
        return np.where(inside, 0.0, -np.inf)

    def _rvs(self, size, rng):
        return rng.uniform(size=(size, self.dim))

    def _logpdf_vjp(self, x, g):
        refuse_off_support(self, self._logpdf(x), "UniformCube.logpdf_vjp")
        return np.zeros_like(x), {}


class StandardNormal(Distribution):
    """Standard normal ``N(0, I_d)``."""

    def _logpdf(self, x):
        return -0.5 * np.sum(x * x, axis=1) - 0.5 * self.dim * LOG_2PI

    def _rvs(self, size, rng):
        return rng.standard_normal((size, self.dim))

    def _logpdf_vjp(self, x, g):
        return -g[:, None] * x, {}


class DiagonalNormal(Distribution):
    """Normal with learnable ``loc`` (shape (d,)) and ``log_scale`` (shape (d,)).

    ``log_scale`` must lie in ``[-700, 700]`` (:data:`MAX_LOG_SCALE`): beyond, ``exp(s)`` or
    ``exp(-s)`` is not representable in float64 and the density or the samples would be
    ``NaN`` or infinite; such parameters are refused with a ``ValueError``. Inside, far
    points may still have ``logpdf = -inf`` (the exact value is below the float64 range).
    """

    def __init__(self, loc, log_scale):
        loc = np.atleast_1d(as_real(loc, "loc"))
        log_scale = np.atleast_1d(as_real(log_scale, "log_scale"))
        if loc.ndim != 1 or loc.shape != log_scale.shape or loc.size == 0:
            raise ValueError(f"DiagonalNormal: expected loc and log_scale of the same shape (d,), "
                             f"d >= 1, got {loc.shape} and {log_scale.shape}")
        super().__init__(loc.size, {"loc": loc, "log_scale": log_scale})
        self._check_params()

    def _validate_params(self):
        d = self.dim
        for k in ("loc", "log_scale"):
            if self.params[k].shape != (d,):
                raise ValueError(f"DiagonalNormal parameter {k!r}: expected shape ({d},), got "
                                 f"{self.params[k].shape}")
        s = self.params["log_scale"]
        if np.any(np.abs(s) > MAX_LOG_SCALE):
            i = int(np.argmax(np.abs(s)))
            raise ValueError(f"DiagonalNormal parameter 'log_scale': expected entries in "
                             f"[-{MAX_LOG_SCALE:g}, {MAX_LOG_SCALE:g}] (exp(+-log_scale) must be "
                             f"finite in float64), got log_scale[{i}] = {float(s[i])}")

    def _z(self, x):
        return (x - self.params["loc"]) * np.exp(-self.params["log_scale"])

    def _logpdf(self, x):
        z = self._z(x)
        with np.errstate(over="ignore"):                   # z^2 = inf: log-density -inf
            return (-0.5 * np.sum(z * z, axis=1) - self.params["log_scale"].sum()
                    - 0.5 * self.dim * LOG_2PI)

    def _rvs(self, size, rng):
        return self.params["loc"] + np.exp(self.params["log_scale"]) * rng.standard_normal(
            (size, self.dim))

    def _logpdf_vjp(self, x, g):
        z = self._z(x)
        gz = g[:, None] * z * np.exp(-self.params["log_scale"])    # (n, d)
        return -gz, {"loc": gz.sum(0), "log_scale": (g[:, None] * (z * z - 1.0)).sum(0)}


class Flow:
    """A normalizing flow: ``X = transform.forward(U)``, ``U ~ base``.

    Parameters
    ----------
    base : Distribution
    transform : Transform
        Its forward map goes from the base to the data.

    Attributes
    ----------
    params : dict
        ``"base.<name>"`` and ``"transform.<name>"`` entries; the arrays are shared with
        the base and the transform, so updating them in place updates the flow.

    Examples
    --------
    >>> import numpy as np
    >>> from nfref.one_layer.linear import ElementwiseAffine
    >>> flow = Flow(StandardNormal(2), ElementwiseAffine([0.0, 1.0], [0.0, 0.5]))
    >>> x = flow.rvs(5, random_state=0)
    >>> flow.logpdf(x).shape
    (5,)
    """

    def __init__(self, base, transform):
        check_model(base, transform, "Flow")
        self.base, self.transform, self.dim = base, transform, base.dim

    @property
    def params(self):
        return {**prefix_params("base", self.base.params),
                **prefix_params("transform", self.transform.params)}

    def logpdf(self, x):
        """``log p_X(x) = log p_U(phi^{-1}(x)) + log|det J_{phi^{-1}}(x)|`` (eq. (7)), shape (n,)."""
        u, logdet = self.transform.inverse(x)
        return self.base.logpdf(u) + logdet

    def pdf(self, x):
        """Density of the data, shape (n,)."""
        return np.exp(self.logpdf(x))

    def rvs(self, size=1, random_state=None):
        """Sample ``size`` data points: ``x = phi(u)``, ``u ~ base``."""
        return self.transform.forward(self.base.rvs(size, random_state))[0]

    def nll_and_grad(self, x):
        """Mean negative log-likelihood of ``x`` and its gradient for every parameter.

        Returns
        -------
        loss : float
        grads : dict
            Same keys as :attr:`params`.

        Raises
        ------
        ValueError
            If some point has zero model density (its inverse lies outside the support of
            the base; :func:`refuse_off_support`, the same rule as
            :func:`nfref.one_layer.modeling.mean_log_likelihood_and_grad`), naming the rows.
        """
        x = as_batch(x, self.dim, "x")
        n = x.shape[0]
        u, logdet, pullback = self.transform.inverse_and_vjp(x)      # one inverse pass
        log_pu = self.base.logpdf(u)
        refuse_off_support(self.base, log_pu, "Flow.nll_and_grad")
        loss = -float(np.mean(log_pu + logdet))
        w = np.full(n, -1.0 / n)
        gu, gbase = self.base.logpdf_vjp(u, w)
        _, gtrans = pullback(gu, w)
        return loss, {**prefix_params("base", gbase), **prefix_params("transform", gtrans)}

    def __repr__(self):
        return f"Flow(base={self.base!r}, transform={self.transform!r})"
