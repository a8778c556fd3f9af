"""The trainer: schedules, clipping, epochs, early stopping, history, settings, seeds."""

import io
import math

import numpy as np
import pytest

from nfref.autoregressive.maf import maf_stack
from nfref.distributions import Flow, StandardNormal
from nfref.one_layer.linear import ElementwiseAffine
from nfref.optim import GradientDescent
from nfref.train import (Progress, _epoch_batches, clip_by_global_norm, fit_mle, fit_reverse_kl,
                         learning_rate, train)


def _small_flow(seed=0):
    return Flow(StandardNormal(2), maf_stack(2, 2, (8,), random_state=seed))


def _data(n=400, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)) @ np.array([[1.0, 0.5], [0.0, 0.7]]) + [1.0, -1.0]


# ---------------------------------------------------------------------- schedules
def test_warmup_is_linear():
    assert [learning_rate(t, 100, 0.1, warmup=4) for t in range(4)] == \
        pytest.approx([0.025, 0.05, 0.075, 0.1], rel=1e-15)


def test_cosine_values():
    # 10 warm-up steps, then 90 steps: s = (t - 10) / 90.
    lr, f = 0.2, 0.1
    assert learning_rate(10, 100, lr, "cosine", 10, f) == pytest.approx(lr, rel=1e-15)
    assert learning_rate(55, 100, lr, "cosine", 10, f) == pytest.approx(lr * (f + (1 - f) * 0.5),
                                                                        rel=1e-14)
    assert learning_rate(99, 100, lr, "cosine", 10, f) == pytest.approx(
        lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * 89 / 90))), rel=1e-14)


def test_step_and_constant_values():
    assert [learning_rate(t, 30, 1.0, "step", step_every=10, gamma=0.5) for t in (0, 9, 10, 29)] \
        == [1.0, 1.0, 0.5, 0.25]
    assert learning_rate(17, 30, 0.3, "constant") == 0.3


# ---------------------------------------------------------------------- clipping
def test_clipping_scales_to_the_bound_and_leaves_the_argument():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0, rel=1e-15)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(clipped["b"], [[0.8]], rtol=1e-15)
    assert grads["a"][0] == 3.0 and grads["b"][0, 0] == 4.0
    same, _ = clip_by_global_norm(grads, 10.0)
    assert same["a"] is grads["a"]


def test_train_clips_every_large_step():
    # loss = 100 w: the gradient 100 is clipped to 2, so gradient descent moves by lr * 2.
    params = {"w": np.array([0.0])}
    hist = train(lambda rng: (100 * float(params["w"][0]), {"w": np.array([100.0])}), params, 5,
                 lr=0.1, optimizer=GradientDescent(0.1), schedule="constant", clip_norm=2.0,
                 progress=False)
    assert hist.n_clipped == 5
    assert params["w"][0] == pytest.approx(-1.0, rel=1e-14)


# ---------------------------------------------------------------------- early stopping
def test_early_stopping_restores_the_best():
    # Gradient descent on loss = w (gradient 1, lr 0.1): w_t = 1 - 0.1 t. Validation
    # (w - 0.37)^2 is smallest at t = 6 (w = 0.4); patience 3 stops at t = 9.
    params = {"w": np.array([1.0])}
    hist = train(lambda rng: (float(params["w"][0]), {"w": np.array([1.0])}), params, 50,
                 validate=lambda: float((params["w"][0] - 0.37) ** 2), lr=0.1,
                 optimizer=GradientDescent(0.1), schedule="constant", eval_every=1, patience=3,
                 progress=False)
    assert hist.best_step == 6
    assert params["w"][0] == pytest.approx(0.4, rel=1e-12)
    assert hist.stopped_early and hist.n_steps == 9
    assert len(hist) == 9 and hist.val_loss.argmin() == 5


def test_without_patience_the_best_is_still_restored():
    params = {"w": np.array([1.0])}
    hist = train(lambda rng: (0.0, {"w": np.array([1.0])}), params, 20,
                 validate=lambda: float((params["w"][0] - 0.37) ** 2), lr=0.1,
                 optimizer=GradientDescent(0.1), schedule="constant", eval_every=1,
                 progress=False)
    assert not hist.stopped_early and hist.n_steps == 20 and hist.best_step == 6
    assert params["w"][0] == pytest.approx(0.4, rel=1e-12)


# ---------------------------------------------------------------------- epochs, history, seeds
def test_epochs_without_replacement():
    rng = np.random.default_rng(0)
    nxt = _epoch_batches(10, 3)
    epochs = [np.concatenate([nxt(rng) for _ in range(3)]) for _ in range(4)]
    for e in epochs:
        assert len(e) == 9 and len(set(e.tolist())) == 9     # no repeats within an epoch
    assert not all(np.array_equal(epochs[0], e) for e in epochs[1:])


def test_history_shape():
    flow = _small_flow()
    x = _data()
    hist = fit_mle(flow, x[:300], x[300:], n_steps=45, batch_size=50, eval_every=10,
                   random_state=0, progress=False)
    assert hist.as_array().shape == (5, 4)
    assert hist.step.tolist() == [10, 20, 30, 40, 45]
    assert np.all(np.diff(hist.seconds) >= 0) and np.all(np.isfinite(hist.val_loss))
    # The validation loss is the held-out mean NLL of the restored parameters.
    assert -np.mean(flow.logpdf(x[300:])) == pytest.approx(hist.best_val_loss, rel=1e-12)


def test_mle_lowers_the_validation_loss():
    flow = _small_flow()
    x = _data()
    before = -np.mean(flow.logpdf(x[300:]))
    hist = fit_mle(flow, x[:300], x[300:], n_steps=200, batch_size=50, lr=1e-2, warmup=10,
                   eval_every=20, random_state=0, progress=False)
    assert hist.best_val_loss < before - 0.3


def test_same_seed_same_bits_other_seed_other_bits():
    x = _data()
    runs = []
    for seed in (3, 3, 4):
        flow = _small_flow()
        fit_mle(flow, x[:300], x[300:], n_steps=30, batch_size=64, lr=1e-2, eval_every=10,
                random_state=seed, progress=False)
        runs.append(flow.params)
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_reverse_kl_fits_a_gaussian_with_fresh_draws():
    # Target N(m, diag(s^2)); the elementwise affine flow reaches it exactly at (m, log s).
    m, s = np.array([1.0, -2.0]), np.array([0.5, 2.0])

    def log_target(z):
        return -0.5 * np.sum(((z - m) / s) ** 2, 1)

    def grad_log_target(z):
        return -(z - m) / s ** 2
    flow = Flow(StandardNormal(2), ElementwiseAffine(np.zeros(2), np.zeros(2)))
    hist = fit_reverse_kl(flow, log_target, grad_log_target, n_steps=600, batch_size=64,
                          lr=0.05, n_validation=512, eval_every=50, random_state=0,
                          progress=False)
    np.testing.assert_allclose(flow.params["transform.shift"], m, atol=0.05)
    np.testing.assert_allclose(flow.params["transform.log_scale"], np.log(s), atol=0.05)
    # Fresh draws: the training losses of the rows differ although the fit has converged.
    assert len(set(hist.train_loss[-4:].tolist())) == 4


# ---------------------------------------------------------------------- settings refused
@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-5), "batch_size"),
    (dict(batch_size=2.5), "batch_size"), (dict(batch_size=10_000), "batch_size"),
    (dict(lr=float("nan")), "lr"), (dict(lr=float("inf")), "lr"), (dict(lr=0.0), "lr"),
    (dict(lr=-1e-3), "lr"), (dict(n_steps=0), "n_steps"), (dict(warmup=50), "warmup"),
    (dict(schedule="linear"), "schedule"), (dict(clip_norm=0.0), "clip_norm"),
    (dict(eval_every=0), "eval_every"), (dict(patience=0), "patience"),
    (dict(final_fraction=1.5), "final_fraction"), (dict(optimizer="lbfgs"), "optimizer"),
])
def test_bad_settings_refused(kwargs, match):
    flow = _small_flow()
    x = _data()
    settings = dict(n_steps=50, batch_size=32, progress=False)
    settings.update(kwargs)
    before = {k: v.copy() for k, v in flow.params.items()}
    with pytest.raises(ValueError, match=match):
        fit_mle(flow, x[:300], x[300:], **settings)
    assert all(np.array_equal(before[k], flow.params[k]) for k in before)


def test_validation_of_the_wrong_dimension_refused():
    x = _data()
    with pytest.raises(ValueError, match="validation"):
        fit_mle(_small_flow(), x, np.zeros((10, 3)), n_steps=5, batch_size=32, progress=False)


def test_patience_without_validation_refused():
    with pytest.raises(ValueError, match="patience"):
        fit_mle(_small_flow(), _data(), None, n_steps=5, batch_size=32, patience=2,
                progress=False)


def test_non_finite_loss_raises():
    params = {"w": np.array([1.0])}
    with pytest.raises(ValueError, match="not finite at step 1"):
        train(lambda rng: (math.nan, {"w": np.array([1.0])}), params, 3, progress=False)


# ---------------------------------------------------------------------- progress line
def test_progress_terminal_rewrites_in_place():
    out = io.StringIO()
    bar = Progress(100, out, "terminal")
    bar.update(10, 1.5, 1.4, 1.0)
    bar.update(20, 1.2, math.nan, 2.0)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    # 80 steps left at 10 steps per second: 8 s
    assert "val 1.40000" in text and "10.0 steps/s" in text and " 8 s left" in text


def test_progress_plain_prints_lines():
    out = io.StringIO()
    params = {"w": np.array([1.0])}
    train(lambda rng: (1.0, {"w": np.array([0.0])}), params, 30, eval_every=10,
          progress="plain", stream=out)
    assert out.getvalue().count("\n") == 3 and "\r" not in out.getvalue()


def test_progress_notebook_updates_one_display(monkeypatch):
    # A stand-in for IPython.display: one display, then updates of the same handle.
    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    class Display:
        @staticmethod
        def Pretty(text):
            return text

        @staticmethod
        def display(obj, display_id=None):
            calls.append(("display", obj))
            assert display_id is True
            return Handle()
    import nfref.train as train_module
    monkeypatch.setattr(train_module, "_notebook_display", lambda: Display)
    bar = Progress(30, io.StringIO(), "auto")
    assert bar.mode == "notebook"
    for step in (10, 20, 30):
        bar.update(step, 1.0, 0.5, step / 10)
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert "step      30/30" in calls[-1][1]
