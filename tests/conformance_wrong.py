"""Implementations for the checker's own tests (``tests/test_conformance.py``).

``NfrefWrapper`` wraps nfref's own classes in the checker's NumPy interface: it must pass,
but it is not an independent implementation (it runs nfref's code, so agreeing with the
vectors shows only that the checker's plumbing is right). ``planar_forward`` is written
from the formulas of docs/vectors.md, section 2.1. Every other class here is deliberately
wrong in one way, which the checker must catch.
"""

import numpy as np

from nfref.registry import CASES, FLOWS, TRANSFORMERS, case_seed


class NfrefWrapper:
    """nfref's own object for the case being checked (rebuilt from the registry row with
    the vectors' seed, so its structure is the vectors'), its parameters set from
    ``params`` before every call."""

    def configure(self, info):
        self.kind = info["kind"]
        name, d = info["case"], info["dim"]
        rng = np.random.default_rng(case_seed(name, d))
        if self.kind == "transform":
            self.t = CASES[name].make(d, rng)
        elif self.kind == "transformer":
            self.t = TRANSFORMERS[name].make()
        else:
            self.t = FLOWS[name].make(d, rng)

    def _set(self, params):
        for k, v in self.t.params.items():
            v[...] = params[k]

    def forward(self, params, u):
        if self.kind == "transformer":
            return self.t.forward(u, params["xi"])
        self._set(params)
        return self.t.forward(u)

    def inverse(self, params, x):
        if self.kind == "transformer":
            return self.t.inverse(x, params["xi"])
        self._set(params)
        return self.t.inverse(x)

    def forward_vjp(self, params, u, gx, gl):
        if self.kind == "transformer":
            gt, gxi = self.t.forward_vjp(u, params["xi"], gx, gl)
            return gt, {"xi": gxi}
        self._set(params)
        return self.t.forward_vjp(u, gx, gl)

    def inverse_vjp(self, params, x, gu, gl):
        if self.kind == "transformer":
            gy, gxi = self.t.inverse_vjp(x, params["xi"], gu, gl)
            return gy, {"xi": gxi}
        self._set(params)
        return self.t.inverse_vjp(x, gu, gl)

    def jacobian(self, params, u):
        if self.kind == "transformer":
            return self.t.derivative(u, params["xi"])
        self._set(params)
        return self.t.jacobian(u)

    def loss_and_grad(self, params, u, gx, gl):
        x, logdet = self.forward(params, u)
        gu, gp = self.forward_vjp(params, u, gx, gl)
        return float(np.sum(gx * x) + np.sum(gl * logdet)), gu, gp

    def logpdf(self, params, x):
        self._set(params)
        return self.t.logpdf(x)

    def nll_and_grad(self, params, x):
        self._set(params)
        return self.t.nll_and_grad(x)


def planar_forward(params, u, softplus=True):
    """Planar flow from docs/vectors.md, sec. 2.1; ``softplus=False`` forgets the softplus
    of ``m(s) = -1 + softplus(s)`` (a wrong parameter mapping)."""
    w, rho, b = params["w"], params["rho"], params["b"][0]
    s = w @ rho
    m = -1.0 + (np.logaddexp(0.0, s) if softplus else s)
    rho_hat = rho + (m - s) * w / (w @ w)
    a = u @ w + b
    x = u + np.tanh(a)[:, None] * rho_hat
    logdet = np.log(np.abs(1.0 + (1.0 - np.tanh(a) ** 2) * (w @ rho_hat)))
    return x, logdet


def planar_forgets_softplus(params, u):
    """The wrong parameter mapping."""
    return planar_forward(params, u, softplus=False)


class WrongSignLogdet(NfrefWrapper):
    """forward returns ``-log|det J|``."""

    def forward(self, params, u):
        x, logdet = super().forward(params, u)
        return x, -logdet


class TransposedJacobian(NfrefWrapper):
    """jacobian returns ``d x_j / d u_i`` (the notes' orientation, not nfref's)."""

    def jacobian(self, params, u):
        return np.swapaxes(super().jacobian(params, u), 1, 2)


class GradientOff(NfrefWrapper):
    """The parameter gradient of the forward VJP is off by a relative 1e-6."""

    def forward_vjp(self, params, u, gx, gl):
        gu, gp = super().forward_vjp(params, u, gx, gl)
        return gu, {k: v * (1.0 + 1e-6) for k, v in gp.items()}


class InverseNearZero(NfrefWrapper):
    """The inverse is nfref's linearized at ``x = 0``: right at 0, wrong elsewhere."""

    def inverse(self, params, x):
        zero = np.zeros((1, x.shape[1]))
        u0, ld0 = super().inverse(params, zero)
        self._set(params)
        jinv = self.t.inverse_jacobian(zero)[0]
        return u0 + x @ jinv.T, np.full(x.shape[0], ld0[0])


class LeakyMask(NfrefWrapper):
    """A MADE whose output mask lets one forbidden connection through: the hidden unit of
    the largest degree reaches the first parameter of the dimension of degree 1."""

    def configure(self, info):
        super().configure(info)
        made = self.t.made
        g = int(np.argmax(made.degrees[-1]))
        first = int(made.order[0])                             # the dimension of degree 1
        made.masks[-1][g, first * made.n_outputs] = 1.0


class WrongShape(NfrefWrapper):
    """forward returns the log-determinant as a column ``(n, 1)``."""

    def forward(self, params, u):
        x, logdet = super().forward(params, u)
        return x, logdet[:, None]
