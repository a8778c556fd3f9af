"""MADE: masks from degrees, the autoregressive property, hand-written backward pass."""

import numpy as np
import pytest

from nfref.gradcheck import check_gradient, numerical_jacobian
from nfref.autoregressive.made import MADE, mlp_backward, mlp_forward, mlp_jvp


@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
@pytest.mark.parametrize("dim,hidden", [(1, (4,)), (2, (3,)), (3, (5, 5)), (5, (4, 7)), (6, (2,))])
def test_mask_product_has_no_forbidden_path(order, dim, hidden, rng):
    made = MADE(dim, 3, hidden, order, random_state=rng)
    m0 = made.input_degrees
    paths = made.connectivity()                                # (d_in, d_out, k)
    forbidden = m0[:, None] >= m0[None, :]                     # input j, output l
    assert np.all(paths[forbidden] == 0)
    assert sorted(m0.tolist()) == list(range(1, dim + 1))


@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
def test_every_allowed_path_exists_with_wide_layers(order, rng):
    # Hidden layers of at least d - 1 units hold every degree 1..d-1 (cycled), so every
    # input of smaller degree reaches every output (Germain et al., 2015, sec. 4).
    made = MADE(5, 2, (4, 6), order, random_state=rng)
    m0 = made.input_degrees
    allowed = m0[:, None] < m0[None, :]
    assert np.all(made.connectivity()[allowed] > 0)


@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
def test_finite_difference_jacobian_is_strictly_triangular(order, rng):
    d, k = 5, 2
    made = MADE(d, k, (8, 8), order, random_state=rng)
    params = made.init_params(rng, output_scale=1.0)
    net = made.masked_weights(params)
    x = rng.standard_normal((4, d))
    jac = numerical_jacobian(lambda v: made.forward(v, net)[0].reshape(len(v), -1), x)
    jac = jac.reshape(4, d, k, d)                              # output (l, c), input j
    m0 = made.input_degrees
    forbidden = np.broadcast_to((m0[None, :] >= m0[:, None])[None, :, None, :], jac.shape)
    assert np.max(np.abs(jac[forbidden])) <= 1e-12
    assert np.max(np.abs(jac[~forbidden])) > 1e-3             # the test can fail


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_backward_against_finite_differences(activation, rng):
    d, k = 4, 3
    made = MADE(d, k, (6, 5), "random", random_state=rng, activation=activation)
    params = made.init_params(rng, output_scale=1.0)
    for kk, v in params.items():                               # biases off 0: with relu a
        if kk.startswith("b"):                                 # dead unit's input is then
            v += rng.standard_normal(v.shape)                  # not at the kink
    x = rng.standard_normal((7, d))
    g = rng.standard_normal((7, d, k))
    net = made.masked_weights(params)
    xi, hs = made.forward(x, net)
    gx, gp = made.backward(net, hs, g)

    def loss_params(p):
        return float((g * made.forward(x, made.masked_weights(p))[0]).sum())
    res = check_gradient(loss_params, gp, {kk: v.copy() for kk, v in params.items()})
    assert res.passed, str(res)
    res = check_gradient(lambda v: float((g * made.forward(v, net)[0]).sum()), gx, x)
    assert res.passed, str(res)
    np.testing.assert_allclose(made.input_vjp(net, hs, g), gx, rtol=1e-14, atol=1e-14)
    for i, m in enumerate(made.masks):                         # masked entries get zero
        assert np.all(gp[f"W{i}"][m == 0] == 0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_input_jacobian_against_finite_differences(activation, rng):
    made = MADE(3, 2, (5,), "reversed", random_state=rng, activation=activation)
    net = made.masked_weights(made.init_params(rng, output_scale=1.0))
    x = rng.standard_normal((3, 3))
    _, hs = made.forward(x, net)
    jac = made.input_jacobian(net, hs)                         # (n, d, k, d)
    num = numerical_jacobian(lambda v: made.forward(v, net)[0].reshape(len(v), -1), x)
    assert np.max(np.abs(num.reshape(jac.shape) - jac)) <= 1e-6 * np.max(np.abs(jac))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
@pytest.mark.parametrize("dim,hidden", [(1, (4,)), (3, ()), (4, (2,)), (5, (8, 3)), (6, (9, 9))])
def test_sequential_passes_end_with_the_activations_of_one_pass(activation, order, dim, hidden,
                                                                 rng):
    # step p gets xi of dimension order[p] from the inputs found so far; with every input
    # a function of its own xi, the activations at the end are those of one pass there
    made = MADE(dim, 2, hidden, order, random_state=rng, activation=activation)
    params = made.init_params(rng, output_scale=1.0)
    for v in params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    net = made.masked_weights(params)
    z = rng.standard_normal((5, dim))
    seen = []

    def step(p, xi):
        seen.append(p)
        return z[:, made.order[p]] * np.exp(xi[:, 1]) + xi[:, 0]
    x, hs = made.sequential(net, 5, step)
    xi, hs_one = made.forward(x, net)
    assert seen == list(range(dim))
    np.testing.assert_array_equal(hs[0], x)
    for h, h1 in zip(hs, hs_one):
        np.testing.assert_allclose(h, h1, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(x, z * np.exp(xi[..., 1]) + xi[..., 0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(made.output(net, hs), xi, rtol=1e-13, atol=1e-13)


def test_hidden_degrees_are_sorted_and_keep_the_cycle(rng):
    made = MADE(4, 1, (7, 2), "random", random_state=rng)
    np.testing.assert_array_equal(made.degrees[1], [1, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(made.degrees[2], [1, 2])


def test_relu_derivative_is_the_indicator(rng):
    # relu: sigma'(a) = 1[a > 0], read off h = max(a, 0); backward and forward mode agree
    w = [rng.standard_normal((3, 5)), rng.standard_normal((5, 2))]
    b = [rng.standard_normal(5), rng.standard_normal(2)]
    x = rng.standard_normal((40, 3))
    out, hs = mlp_forward(w, b, x, "relu")
    a = x @ w[0] + b[0]
    np.testing.assert_array_equal(hs[1], np.maximum(a, 0.0))
    assert 0 < np.mean(a > 0) < 1                               # both sides of the kink
    g = rng.standard_normal((40, 2))
    gx, gw, gb = mlp_backward(w, hs, g, activation="relu")
    np.testing.assert_allclose(gx, ((g @ w[1].T) * (a > 0)) @ w[0].T, rtol=1e-14, atol=1e-14)
    dx = rng.standard_normal((40, 3))
    np.testing.assert_allclose(np.sum(mlp_jvp(w, hs, dx, "relu") * g), np.sum(gx * dx),
                               rtol=1e-12)
    res = check_gradient(lambda v: float(np.sum(g * mlp_forward(w, b, v, "relu")[0])), gx, x)
    assert res.passed, str(res)


def test_bad_activation_is_refused(rng):
    for bad in ("sigmoid", "TANH", None, 0):
        with pytest.raises(ValueError, match="activation"):
            MADE(3, 2, (4,), activation=bad)
        with pytest.raises(ValueError, match="activation"):
            mlp_forward([np.ones((2, 1))], [np.zeros(1)], np.ones((1, 2)), bad)


def test_dim_one_gives_constant_outputs(rng):
    made = MADE(1, 2, (4,), random_state=rng)
    params = made.init_params(rng, output_scale=1.0)
    for k, v in params.items():
        v += rng.standard_normal(v.shape)
    net = made.masked_weights(params)
    xi, _ = made.forward(rng.standard_normal((6, 1)), net)
    assert np.ptp(xi, axis=0).max() == 0.0


@pytest.mark.parametrize("bad", ["sideways", [1, 1, 2], [0, 1, 2]])
def test_bad_order_is_refused(bad):
    with pytest.raises(ValueError, match="order"):
        MADE(3, 2, (4,), bad)


def test_bad_hidden_size_is_refused():
    with pytest.raises(ValueError, match="hidden_sizes"):
        MADE(3, 2, (4, 0))
    with pytest.raises(ValueError, match="n_outputs"):
        MADE(3, 0, (4,))


@pytest.mark.parametrize("bad", [(2.5,), (4, 0), 8, None, "8", (np.nan,), ([4],), (True,)])
def test_hidden_sizes_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="hidden_sizes"):
        MADE(3, 2, bad)
    assert MADE(3, 2.0, (4.0, np.int64(5))).hidden_sizes == (4, 5)


@pytest.mark.parametrize("bad", [None, 2.5, 0, [2], np.inf, True])
def test_n_outputs_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="n_outputs"):
        MADE(3, bad, (4,))


def test_made_forward_refuses_non_finite_and_misshapen_inputs():
    made = MADE(3, 2, (4,))
    net = made.masked_weights(made.init_params(0))
    for bad, word in ((np.array([[np.nan, 0.0, 0.0]]), "finite"),
                      (np.array([[np.inf, 0.0, 0.0]]), "finite"),
                      (np.zeros((2, 2)), "shape"), (np.array([[1j, 0, 0]]), "real")):
        with pytest.raises(ValueError, match=f"MADE.forward: x: expected.*{word}"):
            made.forward(bad, net)
