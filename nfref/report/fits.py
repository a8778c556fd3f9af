r"""Fitting benchmarks: ``python -m nfref bench -k fits`` (the fits are saved in ``nfref/fits/``).

Three benchmarks, registered with :func:`nfref.report.claims.benchmark`; each prints its
progress and a table, and saves every fitted flow as ``nfref/fits/<name>.npz`` (the
parameters, and in ``metadata`` the architecture, the settings, the command and the
measurements). :func:`load_fit` rebuilds a saved flow in milliseconds.

``fits_toy``
    Maximum likelihood (:func:`nfref.train.fit_mle`) on the 2-D toys of
    :mod:`nfref.datasets` (eight Gaussians, two moons, checkerboard) and on the 8-D Gaussian
    mixture :func:`nfref.report.derivations.s04_fitting.gmm8`. Reference models: a spline
    MAF (5 layers, MADE 64 x 64, ``RationalQuadraticSpline(8, 4.0)``) and a spline coupling
    stack (6 layers, same conditioner and transformer); contrast: the same stacks with the
    affine transformer. Every model ends with a trainable elementwise affine layer started
    at the training data's mean and standard deviation (so the data sits inside the
    splines' box). Data: ``N_TRAIN`` training, ``N_VALID`` validation (early stopping) and
    ``N_TEST`` held-out points, independent draws.

    The score is the KL divergence from the truth,

    .. math::  D_{KL}(p\,\|\,q) = E_p[\log p(X) - \log q(X)]
               = \text{(held-out NLL of } q) - H(p),

    estimated on the held-out points by the paired mean
    :math:`\hat D = \frac1n\sum_i[\log p(x_i) - \log q(x_i)]` with standard error
    :math:`\mathrm{sd}_i(\log p(x_i) - \log q(x_i))/\sqrt n`. It equals the held-out NLL minus
    the Monte Carlo entropy on the same points, and its expectation is the held-out NLL minus
    the exact entropy; the pairing cancels most of the noise of either term (for the
    checkerboard :math:`\log p = -\log 8` on the data, so it is exactly NLL minus
    :math:`\log 8`).

``fits_vi``
    Variational inference on the energies of Rezende and Mohamed (2015), Table 1
    (:mod:`nfref.energies`), by reverse KL (:func:`nfref.train.fit_reverse_kl`, fresh base
    draws every step): planar and radial flows with ``K = 2, 8, 32`` layers and an IAF with
    spline transformers. The score is

    .. math::  D_{KL}(q\,\|\,p) = E_q[\log q(Z) + U(Z)] + \log Z_U,

    the reverse-KL loss on ``N_VI_TEST`` fresh base draws plus the quadrature
    :math:`\log Z_U`, with the Monte Carlo standard error of the loss.

``fits_rbig``
    RBIG (:func:`nfref.destructors.fit_rbig`, one round per call) on two moons, round after
    round until the held-out KS distance to :math:`N(0, 1)` stops improving (the rule in
    :func:`rbig_until_converged`); the KS curve per round, the held-out log-likelihood and
    KL against the best single Gaussian and the saved spline MAF fit (RBIG and the Gaussian are
    fitted to the first ``N_RBIG`` points of that fit's training set).

Select fits: the environment variable ``NFREF_FITS`` (comma-separated substrings of fit
names) restricts a benchmark to the fits whose name contains one of them;
``NFREF_FITS_STEPS`` caps every fit's steps (for a quick run). Both are written into each
saved fit's ``command``.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from nfref.report.claims import benchmark

__all__ = ["FITS_DIR", "TOY_FITS", "VI_FITS", "toy_target", "toy_data", "build_flow", "save_fit",
           "load_fit", "saved_fits", "heldout_kl", "reverse_kl_estimate", "fit_toy", "fit_vi",
           "toy_fits", "vi_fits", "rbig_until_converged", "rbig_fits"]

FITS_DIR = Path(__file__).resolve().parent.parent / "fits"
N_TRAIN, N_VALID, N_TEST = 200_000, 10_000, 200_000
N_VI_TEST = 100_000
N_RBIG = 20_000
COMMAND = "python -m nfref bench -k fits"

_SPLINE = dict(transformer="spline", n_bins=8, bound=4.0, hidden=(64, 64))
_AFFINE = dict(transformer="affine", hidden=(64, 64))
_TRAIN2 = dict(batch_size=512, lr=2e-3, schedule="cosine", warmup=200, clip_norm=10.0,
               eval_every=250, patience=12)


def _toy_rows():
    rows = {}
    for data, steps in (("eight_gaussians", 8000), ("two_moons", 8000), ("checkerboard", 12000),
                        ("gmm8", 8000)):
        d = 8 if data == "gmm8" else 2
        rows[f"{data}_spline_maf"] = dict(data=data, model=dict(kind="maf", dim=d, n_layers=5,
                                                                **_SPLINE),
                                          train=dict(_TRAIN2, n_steps=steps))
        rows[f"{data}_spline_coupling"] = dict(data=data, model=dict(kind="coupling", dim=d,
                                                                     n_layers=6, **_SPLINE),
                                               train=dict(_TRAIN2, n_steps=min(steps, 6000)))
        rows[f"{data}_affine_maf"] = dict(data=data, model=dict(kind="maf", dim=d, n_layers=5,
                                                                **_AFFINE),
                                          train=dict(_TRAIN2, n_steps=2000))
        if d == 2:
            rows[f"{data}_affine_coupling"] = dict(data=data, model=dict(kind="coupling", dim=d,
                                                                         n_layers=6, **_AFFINE),
                                                   train=dict(_TRAIN2, n_steps=2000))
    return rows


#: name -> {"data", "model" (see :func:`build_flow`), "train" (settings of :func:`fit_mle`)}.
TOY_FITS = _toy_rows()


# ---------------------------------------------------------------------- targets and data
def toy_target(name):
    """The target with an exact ``logpdf``: a toy of :mod:`nfref.datasets` or ``"gmm8"``."""
    if name == "gmm8":
        from nfref.report.derivations.s04_fitting import gmm8
        return gmm8()
    from nfref.datasets import make_toy
    return make_toy(name)


def _seed(data, part):
    """Independent seeds for the training, validation and test draws of one data set."""
    code = sum(ord(c) * 31 ** i for i, c in enumerate(data)) % 2 ** 31
    return np.random.SeedSequence([code, {"train": 1, "valid": 2, "test": 3, "check": 4}[part]])


def toy_data(data, part, n=None):
    """``part`` in ``{"train", "valid", "test", "check"}`` of the data set ``data``: fixed,
    independent draws (``"check"`` is a fourth sample, for re-measuring a saved fit)."""
    n = {"train": N_TRAIN, "valid": N_VALID, "test": N_TEST, "check": 20_000}[part] \
        if n is None else n
    return toy_target(data).rvs(n, random_state=np.random.default_rng(_seed(data, part)))


def heldout_kl(flow, target, x):
    r""":math:`\hat D_{KL}(p\|q) = \mathrm{mean}(\log p - \log q)` on ``x ~ p``, its standard
    error, and the held-out NLL of ``q`` (module docstring)."""
    lq = flow.logpdf(x)
    diff = target.logpdf(x) - lq
    n = len(diff)
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n)), float(-lq.mean())


# ---------------------------------------------------------------------- flows as data
def build_flow(spec, shift=None, log_scale=None, random_state=0):
    """The flow of an architecture ``spec`` (a dict, as saved in the metadata).

    ``kind``: ``"maf"``, ``"coupling"`` (``n_layers``, ``hidden``, ``transformer`` in
    ``{"spline", "affine"}``, ``n_bins``, ``bound``; then an elementwise affine layer),
    ``"iaf"`` (the same with IAF layers), ``"planar"``, ``"radial"`` (``n_layers``). The
    parameter values are a random start; :func:`load_fit` writes the saved ones in.
    """
    from nfref.autoregressive.coupling import coupling_stack
    from nfref.autoregressive.maf import IAF, maf_stack
    from nfref.autoregressive.transformers.spline import RationalQuadraticSpline
    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain
    from nfref.one_layer.linear import ElementwiseAffine
    from nfref.one_layer.planar import Planar
    from nfref.one_layer.radial import Radial

    rng = np.random.default_rng(random_state)
    d, kind, k = int(spec["dim"]), spec["kind"], int(spec["n_layers"])
    if kind in ("planar", "radial"):
        cls = Planar if kind == "planar" else Radial
        return Flow(StandardNormal(d), Chain([cls.random(d, rng, scale=spec.get("scale", 0.5))
                                              for _ in range(k)]))
    transformer = RationalQuadraticSpline(int(spec["n_bins"]), float(spec["bound"])) \
        if spec["transformer"] == "spline" else None
    hidden = tuple(int(h) for h in spec["hidden"])
    if kind == "maf":
        layers = maf_stack(d, k, hidden, transformer, random_state=rng).layers
    elif kind == "iaf":
        layers = maf_stack(d, k, hidden, transformer, random_state=rng, cls=IAF).layers
    elif kind == "coupling":
        layers = coupling_stack(d, k, hidden, transformer, random_state=rng).layers
    else:
        raise ValueError(f"spec: unknown kind {kind!r}")
    shift = np.zeros(d) if shift is None else np.asarray(shift, dtype=float)
    log_scale = np.zeros(d) if log_scale is None else np.asarray(log_scale, dtype=float)
    return Flow(StandardNormal(d), Chain(list(layers) + [ElementwiseAffine(shift, log_scale)]))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def save_fit(name, flow, metadata, history=None, folder=None):
    """Write ``<folder>/<name>.npz``: every parameter (``param/<key>``), the history rows
    (``history``: step, train loss, validation loss, seconds) and ``metadata`` as JSON."""
    folder = Path(folder or FITS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"param/{k}": np.asarray(v) for k, v in flow.params.items()}
    if history is not None:
        arrays["history"] = history.as_array()
    arrays["metadata"] = np.array(json.dumps(_jsonable(metadata), sort_keys=True))
    path = folder / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    return path


def load_fit(name, folder=None):
    """A saved fit: ``(flow, metadata)``; ``metadata["history"]`` holds the history rows
    (an array of shape (m, 4): step, train loss, validation loss, seconds) when saved.

    Raises
    ------
    ValueError
        If there is no such fit (with the names there are).
    """
    folder = Path(folder or FITS_DIR)
    path = folder / f"{name}.npz"
    if not path.is_file():
        raise ValueError(f"name: no saved fit {name!r} in {folder}; expected one of "
                         f"{saved_fits(folder)}")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["metadata"]))
        params = {k[len("param/"):]: z[k] for k in z.files if k.startswith("param/")}
        if "history" in z.files:
            meta["history"] = z["history"]
    flow = build_flow(meta["model"])
    flow.transform.set_params({k[len("transform."):]: v for k, v in params.items()
                               if k.startswith("transform.")})
    return flow, meta


def saved_fits(folder=None):
    """Names of the saved fits (the RBIG curve files, ``*_curve.npz``, hold no flow)."""
    return sorted(p.stem for p in Path(folder or FITS_DIR).glob("*.npz")
                  if not p.stem.endswith("_curve"))


def _selected(names):
    sel = [s for s in os.environ.get("NFREF_FITS", "").split(",") if s]
    return [n for n in names if not sel or any(s in n for s in sel)]


def _settings(row):
    """A row's training settings, with ``n_steps`` capped by ``NFREF_FITS_STEPS`` if set."""
    settings = dict(row["train"])
    cap = os.environ.get("NFREF_FITS_STEPS")
    if cap:
        settings["n_steps"] = min(settings["n_steps"], int(cap))
    return settings


def _command(bench):
    """The command that runs benchmark ``bench`` with the current selection and threads."""
    env = [f"{k}={os.environ[k]}" for k in ("NFREF_FITS", "NFREF_FITS_STEPS",
                                            "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
           if os.environ.get(k)]
    return " ".join(env + [f"{COMMAND}_{bench}"])


# ---------------------------------------------------------------------- toy fits
def fit_toy(name, stream=None, progress="auto", save=True, folder=None):
    """Fit the row ``name`` of :data:`TOY_FITS`; returns ``(flow, metadata, history)``."""
    from nfref.train import fit_mle

    row = TOY_FITS[name]
    stream = stream or sys.stdout
    train, valid = toy_data(row["data"], "train"), toy_data(row["data"], "valid")
    flow = build_flow(row["model"], train.mean(0), np.log(train.std(0)))
    settings = _settings(row)
    start = time.perf_counter()
    history = fit_mle(flow, train, valid, random_state=0, progress=progress, stream=stream,
                      **settings)
    seconds = time.perf_counter() - start
    kl, se, nll = heldout_kl(flow, toy_target(row["data"]), toy_data(row["data"], "test"))
    meta = dict(name=name, data=row["data"], model=row["model"], train=settings,
                n_train=N_TRAIN, n_valid=N_VALID, n_test=N_TEST, fit_random_state=0,
                init_random_state=0, command=_command("toy"), kl=kl, kl_se=se, heldout_nll=nll,
                steps=history.n_steps, best_step=history.best_step,
                stopped_early=history.stopped_early, seconds=seconds,
                n_params=int(sum(v.size for v in flow.params.values())))
    if save:
        save_fit(name, flow, meta, history, folder)
    return flow, meta, history


def _fit_and_tabulate(table, fit, label, heading, width, k, stream):
    """Fit the rows of ``table`` that ``NFREF_FITS`` selects with ``fit(name, stream)``,
    printing each result as it comes and then one table (name, KL, s.e., steps, seconds);
    ``width`` and ``k`` are the widths of the name and KL columns."""
    rows = []
    for name in _selected(list(table)):
        print(f"-- {name}", file=stream, flush=True)
        _, meta, _ = fit(name, stream)
        rows.append(meta)
        print(f"{name}: {label} {meta['kl']:.4f} +- {meta['kl_se']:.4f} nats, "
              f"{meta['steps']} steps, {meta['seconds']:.0f} s", file=stream, flush=True)
    print(f"\n{'fit':<{width}} {heading:>{k}} {'s.e.':>7} {'steps':>6} {'seconds':>8}",
          file=stream)
    for m in rows:
        print(f"{m['name']:<{width}} {m['kl']:>{k}.4f} {m['kl_se']:>7.4f} {m['steps']:>6d} "
              f"{m['seconds']:>8.0f}", file=stream)


@benchmark("fits_toy")
def toy_fits(stream=None):
    """Fit every row of :data:`TOY_FITS` (or those ``NFREF_FITS`` selects), save, tabulate."""
    _fit_and_tabulate(TOY_FITS, fit_toy, "KL", "KL (nats)", 34, 10, stream or sys.stdout)


# ---------------------------------------------------------------------- variational inference
_VI_TRAIN = dict(batch_size=256, lr=5e-3, schedule="cosine", warmup=200, clip_norm=10.0,
                 eval_every=250, patience=12, n_validation=4096)


def _vi_rows():
    rows = {}
    for energy in ("U1", "U2", "U3", "U4"):
        for kind in ("planar", "radial"):
            for k in (2, 8, 32):
                rows[f"vi_{energy}_{kind}{k}"] = dict(
                    energy=energy, model=dict(kind=kind, dim=2, n_layers=k, scale=0.5),
                    train=dict(_VI_TRAIN, n_steps=2000))
        rows[f"vi_{energy}_spline_iaf"] = dict(
            energy=energy, model=dict(kind="iaf", dim=2, n_layers=4, transformer="spline",
                                      n_bins=8, bound=5.0, hidden=(64, 64)),
            train=dict(_VI_TRAIN, n_steps=5000, lr=2e-3))
    return rows


#: name -> {"energy" (a key of :data:`nfref.energies.ENERGIES`), "model", "train"}.
VI_FITS = _vi_rows()


def reverse_kl_estimate(flow, energy, n=N_VI_TEST, random_state=12345, log_z=None):
    r""":math:`\hat D_{KL}(q\|p)` = the reverse-KL loss on ``n`` fresh base draws
    plus :math:`\log Z`, and its standard error :math:`\mathrm{sd}(\log q - \log\tilde p)/\sqrt n`.

    ``energy`` is an :class:`nfref.energies.Energy`; ``log_z`` defaults to its quadrature.
    """
    u = flow.base.rvs(n, random_state)
    x, logdet = flow.transform.forward(u)
    terms = flow.base.logpdf(u) - logdet - energy.log_target(x)
    log_z = energy.log_z() if log_z is None else log_z
    return float(terms.mean() + log_z), float(terms.std(ddof=1) / np.sqrt(n))


def fit_vi(name, stream=None, progress="auto", save=True, folder=None):
    """Fit the row ``name`` of :data:`VI_FITS` by reverse KL; returns
    ``(flow, metadata, history)``."""
    from nfref.energies import CONFINEMENT_SCALE, ENERGIES
    from nfref.train import fit_reverse_kl

    row = VI_FITS[name]
    stream = stream or sys.stdout
    energy = ENERGIES[row["energy"]]
    flow = build_flow(row["model"])
    settings = _settings(row)
    start = time.perf_counter()
    history = fit_reverse_kl(flow, energy.log_target, energy.grad_log_target, random_state=0,
                             progress=progress, stream=stream, **settings)
    seconds = time.perf_counter() - start
    log_z, log_z_err = energy.log_z(refine=True)
    kl, se = reverse_kl_estimate(flow, energy, log_z=log_z)
    meta = dict(name=name, energy=row["energy"], model=row["model"], train=settings,
                fit_random_state=0, init_random_state=0, command=_command("vi"), kl=kl, kl_se=se,
                log_z=log_z, log_z_refinement=log_z_err, n_test=N_VI_TEST,
                steps=history.n_steps, best_step=history.best_step,
                stopped_early=history.stopped_early, seconds=seconds,
                confinement_scale=CONFINEMENT_SCALE if energy.confined else None)
    if save:
        save_fit(name, flow, meta, history, folder)
    return flow, meta, history


@benchmark("fits_vi")
def vi_fits(stream=None):
    """Fit every row of :data:`VI_FITS` (or those ``NFREF_FITS`` selects), save, tabulate."""
    _fit_and_tabulate(VI_FITS, fit_vi, "KL(q||p)", "KL(q||p)", 26, 9, stream or sys.stdout)


# ---------------------------------------------------------------------- RBIG until it converges
def _worst_ks(z, n_directions=8):
    r"""Largest Kolmogorov-Smirnov distance between a 1-D projection :math:`z^\top e_\theta`
    (``n_directions`` angles in :math:`[0, \pi)`) and :math:`N(0, 1)`; not standardized, so
    a wrong mean or scale counts too."""
    from scipy import stats
    angles = np.linspace(0, np.pi, n_directions, endpoint=False)
    return max(float(stats.kstest(z @ np.array([np.cos(a), np.sin(a)]), "norm").statistic)
               for a in angles)


def rbig_until_converged(train, heldout, max_rounds=100, patience=5, max_centers=500,
                         random_state=0, stream=None):
    r"""RBIG rounds (:func:`nfref.destructors.fit_rbig` with ``n_rounds=1`` on the data as
    destroyed so far) until the held-out KS distance stops improving.

    Rule: after round :math:`r`, :math:`\mathrm{KS}_r` is :func:`_worst_ks` of the held-out
    points pushed through the :math:`r` rounds; the loop stops when :math:`\mathrm{KS}_r` has
    not gone below the best :math:`\min_{s<r}\mathrm{KS}_s` for ``patience`` rounds in a row
    (or at ``max_rounds``), and keeps the rounds up to the best one.

    Returns
    -------
    layers : list of Transform
        Generative order (``Flow(StandardNormal(d), Chain(layers))``), the best rounds.
    curve : dict
        ``"ks"`` (KS after each round, round 0 = the raw data) and ``"loglik"`` (mean
        held-out log-likelihood of the flow of the first ``r`` rounds, ``r >= 1``), ``"best"``.
    """
    from nfref.destructors import fit_rbig

    rng = np.random.default_rng(random_state)
    x, z = np.array(train, dtype=float), np.array(heldout, dtype=float)
    logdet = np.zeros(len(z))
    destroy, ks, loglik = [], [_worst_ks(z)], []
    best, since = 0, 0
    for r in range(1, max_rounds + 1):
        round_layers = fit_rbig(x, n_rounds=1, max_centers=max_centers, random_state=rng)
        for layer in reversed(round_layers):                       # destroy: data -> Gaussian
            x = layer.inverse(x)[0]
            z, ld = layer.inverse(z)
            logdet += ld
        destroy.append(round_layers)
        ks.append(_worst_ks(z))
        loglik.append(float(np.mean(-0.5 * np.sum(z ** 2, 1) - np.log(2 * np.pi) + logdet)))
        if stream is not None:
            print(f"round {r:>3d}  held-out KS {ks[-1]:.4f}  log-likelihood {loglik[-1]:.4f}",
                  file=stream, flush=True)
        if ks[-1] < ks[best]:
            best, since = r, 0
        else:
            since += 1
            if since >= patience:
                break
    layers = [layer for round_layers in destroy[:best][::-1] for layer in round_layers]
    return layers, {"ks": np.array(ks), "loglik": np.array(loglik), "best": best}


@benchmark("fits_rbig")
def rbig_fits(stream=None, data="two_moons"):
    """RBIG on two moons until the held-out KS stops improving; against the best Gaussian and
    the saved spline MAF fit (module docstring). Saves the curve as
    ``nfref/fits/rbig_two_moons_curve.npz``."""
    from scipy.stats import multivariate_normal

    from nfref.distributions import Flow, StandardNormal
    from nfref.k_layers import Chain

    stream = stream or sys.stdout
    target = toy_target(data)
    # the first N_RBIG points of the spline fits' training set (each round's marginal
    # Gaussianization costs n x max_centers kernel CDFs per coordinate)
    train, valid = toy_data(data, "train")[:N_RBIG], toy_data(data, "valid")
    test = toy_data(data, "test")[:50_000]
    start = time.perf_counter()
    layers, curve = rbig_until_converged(train, valid, stream=stream)
    seconds = time.perf_counter() - start
    rbig = Flow(StandardNormal(2), Chain(layers))
    lp = target.logpdf(test)
    scores = {}
    gauss = multivariate_normal(train.mean(0), np.cov(train.T))
    for label, lq in (("RBIG", rbig.logpdf(test)), ("best Gaussian", gauss.logpdf(test))):
        scores[label] = (float(lq.mean()), float(np.mean(lp - lq)),
                         float(np.std(lp - lq, ddof=1) / np.sqrt(len(lq))))
    try:
        flow, _ = load_fit(f"{data}_spline_maf")
        lq = flow.logpdf(test)
        scores["spline MAF"] = (float(lq.mean()), float(np.mean(lp - lq)),
                                float(np.std(lp - lq, ddof=1) / np.sqrt(len(lq))))
    except ValueError as err:
        print(f"(no spline MAF fit to compare: {err})", file=stream)
    print(f"\nRBIG on {data}: {curve['best']} rounds kept (stopped after {len(curve['ks']) - 1}), "
          f"{seconds:.0f} s; held-out KS {curve['ks'][0]:.4f} -> {curve['ks'][curve['best']]:.4f}",
          file=stream)
    print(f"{'model':<14} {'held-out loglik':>15} {'KL(p||q)':>9} {'s.e.':>7}", file=stream)
    for label, (ll, kl, se) in scores.items():
        print(f"{label:<14} {ll:>15.4f} {kl:>9.4f} {se:>7.4f}", file=stream)
    FITS_DIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FITS_DIR / f"rbig_{data}_curve.npz", ks=curve["ks"],
                        loglik=curve["loglik"], metadata=np.array(json.dumps(_jsonable(dict(
                            data=data, best_round=curve["best"], seconds=seconds,
                            rule="stop when the held-out worst KS has not improved for 5 rounds; "
                                 "keep the rounds up to the best", max_centers=500,
                            n_train=len(train), n_heldout_ks=len(valid), n_test=len(test),
                            scores=scores, command=_command("rbig"))))))
