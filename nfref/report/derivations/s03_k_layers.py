"""Claims of notes 000, section 3: K-layer chains, eq. (9), the dependence of its terms on
theta_{k:K}, backpropagation through K layers, and the section's slips (the order of eq. (6),
the index of Y_k in eq. (9)). Figures: the density of every Y_k, layer by layer.
"""

import numpy as np

from nfref.distributions import DiagonalNormal, Flow, StandardNormal, UniformCube
from nfref.gradcheck import check_param_gradient, numerical_jacobian
from nfref.k_layers import Chain, log_likelihood_eq9
from nfref.one_layer.linear import ElementwiseAffine, PLULinear
from nfref.one_layer import Planar, Radial
from nfref.report.claims import benchmark, claim, figure


def mixed_chain(d, K, rng, scale=0.7):
    """``K`` layers cycling planar, radial, PLU, planar, elementwise affine (non-linear layers
    whose Jacobians vary with the point, so every term of eq. (9) depends on its ``Y_{k-1}``)."""
    makers = (lambda: Planar.random(d, rng, scale=scale), lambda: Radial.random(d, rng),
              lambda: PLULinear.random(d, rng, scale=0.3),
              lambda: Planar.random(d, rng, scale=scale),
              lambda: ElementwiseAffine.random(d, rng, scale=0.3))
    return Chain([makers[k % len(makers)]() for k in range(K)])


def fd_logdets(chain, u):
    """``sum_k log|det J_k(Y_(k-1))|`` from finite-difference Jacobians of each layer along the
    sampling procedure (Y_0 = u), and the ``Y_k`` (each layer's ``forward`` called alone)."""
    ys, total = [u], 0.0
    for layer in chain.layers:
        total = total + np.linalg.slogdet(numerical_jacobian(lambda v: layer.forward(v)[0],
                                                             ys[-1]))[1]
        ys.append(layer.forward(ys[-1])[0])
    return total, ys


@claim("eq. (9) with cached Y_k equals log p_U(u) - sum_k log|det J_k| (slogdet of each "
       "layer's finite-difference Jacobian, and of the explicit product)",
       where="000 sec. 3 eq. (9)", bound=1e-9,
       why="fourth-order differences at step 1e-4: each layer's J to 1e-12 relative, its "
           "log-determinant to cond(J_k) times that, summed over K <= 8 layers; measured 4e-11",
       measures="largest |eq. (9) - (log p_U - sum of FD slogdets)| (nats)")
def _():
    errs = []
    for d, K in ((1, 5), (2, 8), (3, 6)):
        rng = np.random.default_rng(30 + d)
        chain = mixed_chain(d, K, rng)
        base = DiagonalNormal(rng.normal(size=d), 0.3 * rng.normal(size=d))
        u = base.rvs(200, random_state=rng)
        x, _ = chain.forward(u)
        loglik, ys, _ = log_likelihood_eq9(base, chain, x)
        # independent: the base density at the sampled u and slogdet of the product of the
        # layers' explicit Jacobians along the sampling procedure
        fd, _ = fd_logdets(chain, u)
        errs.append(np.max(np.abs(loglik - (base.logpdf(u) - fd))))
        ref = base.logpdf(u) - np.linalg.slogdet(chain.jacobian(u))[1]
        errs.append(np.max(np.abs(loglik - ref)))
        errs.append(np.max(np.abs(ys[0] - u)))
    return max(errs), "d = 1, 2, 3 with K = 5, 8, 6 planar/radial/PLU/affine layers"


@claim("eq. (9): the k-th term does not move when theta_j, j < k, is perturbed",
       where="000 sec. 3 eq. (9)", bound=0.0,
       why="exact: term k reads theta_k and Y_(k-1), which depends on theta_(k..K) only, so it "
           "does not move at all",
       measures=("largest |change| of term k when theta_j, j < k, moves (nats; exactly 0 "
                 "expected)"))
def _():
    d, K = 2, 6
    rng = np.random.default_rng(31)
    chain = mixed_chain(d, K, rng)
    x = chain.forward(rng.standard_normal((100, d)))[0]
    _, t0 = chain.eq9_terms(x)
    still, moved = 0.0, np.inf
    for j, layer in enumerate(chain.layers):
        for arr in layer.params.values():
            saved = arr.copy()
            arr += 0.05 * rng.standard_normal(arr.shape)
            _, t1 = chain.eq9_terms(x)
            arr[...] = saved
            change = np.max(np.abs(t1 - t0), axis=1)             # (K,): per term
            still = max(still, change[j + 1:].max(initial=0.0))  # terms k > j (1-based k > j + 1)
            moved = min(moved, change[:j + 1].max())              # some term k <= j + 1 moves
    if moved < 1e-8:
        return np.inf, "a perturbation of theta_j moved none of the terms k <= j"
    return still, (f"terms 1..j move by at least {moved:.1e} for every perturbed array of "
                   f"theta_j; terms k > j by exactly {still:.0e}")


@claim("backprop through K = 16 layers: NLL gradient (every layer and base) vs finite differences",
       where="000 sec. 3; 003", bound=1e-7,
       why="fourth-order differences at step 1e-4 through 16 layers (planar inverses solved to "
           "4 eps): measured 6e-9. A layer's pullback off by 1 + 1e-6 fails",
       measures=("relative error of the 16-layer NLL gradient against finite differences "
                 "(unitless)"))
def _():
    d, K = 2, 16
    rng = np.random.default_rng(32)
    chain = mixed_chain(d, K, rng, scale=0.5)
    flow = Flow(DiagonalNormal(rng.normal(size=d), 0.2 * rng.normal(size=d)), chain)
    x = flow.rvs(30, random_state=rng) + 0.05 * rng.standard_normal((30, d))
    loss, grads = flow.nll_and_grad(x)
    params = flow.params
    res = check_param_gradient(lambda: -np.mean(flow.logpdf(x)), params, grads)
    return res.error, (f"{sum(v.size for v in params.values())} parameters; loss "
                       f"{loss:.4f} vs -mean logpdf: {abs(loss + np.mean(flow.logpdf(x))):.1e}")


def _affine_layers(d, K, rng):
    """``K`` layers ``x = A_k u + b_k`` (PLU and elementwise affine) and their matrices and
    biases, the matrices written out here from the parameters."""
    layers, mats = [], []
    for k in range(K):
        if k % 2:
            t = ElementwiseAffine.random(d, rng)
            A, b = np.diag(np.exp(t.params["log_scale"])), t.params["shift"]
        else:
            t = PLULinear.random(d, rng)
            p = t.params
            L = np.tril(p["lower"], -1) + np.eye(d)
            U = np.triu(p["upper"], 1) + np.diag(np.exp(p["log_diag"]))
            A, b = t.factors()[0] @ L @ U, p["bias"]
        layers.append(t)
        mats.append((A, b))
    return Chain(layers), mats


@claim("sampling procedure Y_k = phi_k(Y_(k-1)): Chain.forward is phi_K o ... o phi_1, against "
       "the product A_K ... A_1 of affine layers written out", where="000 sec. 3 vs eq. (6)",
       bound=1e-13,
       why="float64 floor: 4 products of 3 x 3 matrices with entries of size 1, a few ulps "
           "times |x| <= 10; measured 4e-15",
       measures="largest |Chain.forward(u) - (M u + c)| (data units)")
def _():
    rng = np.random.default_rng(33)
    chain, mats = _affine_layers(3, 4, rng)
    u = rng.standard_normal((100, 3))
    M, c = np.eye(3), np.zeros(3)
    for A, b in mats:                                  # phi_K o ... o phi_1: A_K ... A_1
        M, c = A @ M, A @ c + b
    printed_M = np.eye(3)
    for A, _ in reversed(mats):                        # eq. (6) as printed: A_1 ... A_K
        printed_M = A @ printed_M
    gap = np.max(np.abs(printed_M - M))
    return np.max(np.abs(chain.forward(u)[0] - (u @ M.T + c))), \
        f"eq. (6) as printed composes A_1 ... A_K, whose entries differ by up to {gap:.2f}"


@claim("eq. (6) as printed, phi_1 o ... o phi_K, is not the sampling procedure: it differs from "
       "Chain.forward (non-linear layers)", where="000 sec. 3 vs eq. (6)", bound=0.1,
       at_least=True,
       why="the two orders differ by 1.2 on these layers; 0.1 is far above rounding and far "
           "below the difference",
       measures=("largest |phi_1 o ... o phi_K(u) - Chain.forward(u)| (data units; must be "
                 "large)"))
def _():
    rng = np.random.default_rng(33)
    chain = mixed_chain(2, 4, rng)
    u = rng.standard_normal((100, 2))
    z = u
    for layer in reversed(chain.layers):                          # eq. (6) as printed
        z = layer.forward(z)[0]
    diff = np.max(np.abs(z - chain.forward(u)[0]))
    return diff, f"phi_1(phi_2(...phi_K(u))) against Chain.forward: up to {diff:.2f}"


@claim("eq. (9)'s phi_k^-1 o ... o phi_K^-1 (x) is Y_(k-1) of the sampling procedure, not Y_k",
       where="000 sec. 3 eq. (9)", bound=1e-13,
       why="float64 floor: up to 5 inverses (planar solved to 4 eps), each amplifying the "
           "rounding by ||J_k^-1|| <= 10; measured 2e-15. An inverse off by 1e-9 fails",
       measures="largest |inverse through layers K..k - Y_(k-1)| (data units)")
def _():
    rng = np.random.default_rng(34)
    chain = mixed_chain(2, 5, rng)
    u = rng.standard_normal((100, 2))
    ys_fwd, _ = chain.forward_pass(u)
    x = ys_fwd[-1]
    errs, off = [], []
    for k in range(1, len(chain) + 1):
        y = x
        for layer in reversed(chain.layers[k - 1:]):              # phi_k^-1 o ... o phi_K^-1
            y = layer.inverse(y)[0]
        errs.append(np.max(np.abs(y - ys_fwd[k - 1])))
        off.append(np.max(np.abs(y - ys_fwd[k])))
    return max(errs), f"against Y_k as printed: off by at least {min(off):.2f}"


@claim("uniform base: the Omega_0 term is 0 on the image of the cube, -inf off it: "
       "log-likelihood = -sum_k log Omega_k (finite-difference Jacobians of each layer)",
       where="000 sec. 3 eq. (9)", bound=5e-10,
       why="fourth-order differences at step 1e-4, 5 layers: cond(J_k) times 1e-12; measured "
           "6e-12",
       measures=("largest |log-likelihood + sum of FD log Omega_k| on the image (nats); inf if a"
                 " point off it is not -inf"))
def _():
    rng = np.random.default_rng(35)
    chain = mixed_chain(2, 5, rng)
    base = UniformCube(2)
    u = base.rvs(200, random_state=rng)
    x = chain.forward(u)[0]
    loglik, _, _ = log_likelihood_eq9(base, chain, x)
    fd, _ = fd_logdets(chain, u)
    outside = chain.forward(np.array([[1.5, 0.5], [-0.2, 0.3]]))[0]
    if not np.all(log_likelihood_eq9(base, chain, outside)[0] == -np.inf):
        return np.inf, "points off the image did not get -inf"
    return np.max(np.abs(loglik + fd)), "off the image: -inf"


# ---------------------------------------------------------------------- figures
def fitted_planar_flow(toy, K=8, n=1500, steps=400, seed=0, lr=0.05):
    """A flow of ``K`` planar layers on a diagonal-normal base fitted to ``n`` draws of ``toy``
    by Adam on the one-pass NLL gradient; returns ``(flow, history, data)``."""
    from nfref.optim import Adam, fit
    rng = np.random.default_rng(seed)
    data = toy.rvs(n, random_state=rng)
    mean, std = data.mean(0), data.std(0)
    flow = Flow(DiagonalNormal(mean, np.log(std)),
                Chain([Planar.random(2, rng, scale=0.5) for _ in range(K)]))
    history = fit(lambda: flow.nll_and_grad(data[rng.choice(n, 500, replace=False)]),
                  flow.params, Adam(lr=lr), n_steps=steps, verbose=False)
    return flow, history, data


@figure("s03_layers_density")
def _():
    from nfref.datasets import TwoMoons
    from nfref.plotting import plot_layers, plot_samples
    import matplotlib.pyplot as plt
    toy = TwoMoons()
    flow, _, data = fitted_planar_flow(toy, K=8, steps=600)
    fig, axes = plt.subplots(2, 5, figsize=(17, 6.4), layout="constrained")
    axes = axes.ravel()
    plot_layers(flow, axes=axes[:9], grid=120)        # one box for all, a colour scale each
    plot_samples(flow.rvs(1500, random_state=1), data=data, ax=axes[9],
                 bounds=(axes[8].get_xlim(), axes[8].get_ylim()),      # the same box
                 title="samples vs data")
    axes[9].set_xlabel("$x_1$")
    axes[9].set_ylabel("$x_2$")
    fig.suptitle("Density of each Y_k (colour bars: density) for 8 planar layers fitted to two "
                 "moons (Y_0 = U: diagonal-normal base)")
    return fig


@figure("s03_warped_grids")
def _():
    from nfref.datasets import TwoMoons
    from nfref.plotting import plot_warped_grid
    import matplotlib.pyplot as plt
    flow, _, _ = fitted_planar_flow(TwoMoons(), K=8, steps=600)
    chain = Chain([ElementwiseAffine(flow.base.params["loc"], flow.base.params["log_scale"]),
                   *flow.transform.layers])
    ks = (1, 3, 5, 7, 9)
    fig, axes = plt.subplots(1, len(ks), figsize=(3.4 * len(ks), 3.4), layout="constrained")
    for ax, k in zip(axes, ks):
        plot_warped_grid(chain[:k], ax=ax, bounds=((-2.5, 2.5), (-2.5, 2.5)),
                         title="base: loc + scale * u" if k == 1 else
                         f"then {k - 1} planar layers", xlabel=f"$(Y_{{{k - 1}}})_1$",
                         ylabel=f"$(Y_{{{k - 1}}})_2$")
    lo = np.min([[a.dataLim.x0, a.dataLim.y0] for a in axes], 0)       # one box for all panels
    hi = np.max([[a.dataLim.x1, a.dataLim.y1] for a in axes], 0)
    pad = 0.05 * (hi - lo)
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    fig.suptitle("Image of the square [-2.5, 2.5]^2 of standard-normal coordinates under the "
                 "fitted two-moons flow, layer by layer (one box for all panels)")
    return fig


# ---------------------------------------------------------------------- benchmarks
def _cpu_per_step(step, repeats):
    import time
    step()                                                        # warm up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return float(np.median(times))


@benchmark("k_layers")
def _(stream):
    """Time per NLL-and-gradient step against K: linear in K (each layer's VJP called once)."""
    import sys
    stream = stream or sys.stdout
    rng = np.random.default_rng(0)
    n, d = 1000, 2
    x = rng.standard_normal((n, d))
    print(f"one step = nll_and_grad on n = {n} points, d = {d} (CPU time, median of 5)",
          file=stream)
    print(f"{'K':>4} {'planar ms':>10} {'ms / K':>8} {'PLU+affine ms':>14} {'ms / K':>8} "
          f"{'cache Y_k (MB)':>15}", file=stream)
    for K in (1, 2, 4, 8, 16, 32, 64):
        planar = Flow(StandardNormal(d), Chain([Planar.random(d, rng, scale=0.5)
                                                for _ in range(K)]))
        linear = Flow(StandardNormal(d), Chain([(PLULinear if k % 2 else ElementwiseAffine)
                                                .random(d, rng, scale=0.1) for k in range(K)]))
        tp = _cpu_per_step(lambda: planar.nll_and_grad(x), 5) * 1e3
        tl = _cpu_per_step(lambda: linear.nll_and_grad(x), 5) * 1e3
        print(f"{K:>4} {tp:>10.2f} {tp / K:>8.3f} {tl:>14.2f} {tl / K:>8.3f} "
              f"{(K + 1) * n * d * 8 / 1e6:>15.3f}", file=stream, flush=True)


#: layer ``k`` of a chain of each kind, ``(rng, k) -> Transform``
LAYERS = {
    "planar": lambda rng, k: Planar.random(2, rng, scale=0.5),
    "radial": lambda rng, k: Radial.random(2, rng),
    "PLU linear": lambda rng, k: PLULinear.random(2, rng, scale=0.3),
    "planar/radial": lambda rng, k: (Planar.random(2, rng, scale=0.5) if k % 2 == 0
                                     else Radial.random(2, rng)),
}


def k_table(toy, Ks=(1, 2, 4, 8, 16, 32), n_train=3000, n_test=20000, steps=1500, lr=0.02,
            batch=500, seed=0, layer="planar"):
    r"""Fit ``K`` layers (``LAYERS[layer]``, planar by default) on a diagonal-normal base to
    ``toy`` for each ``K``; returns rows
    ``(K, train NLL, test NLL, its standard error, KL, its standard error, seconds)``.

    ``KL`` is the paired estimate :math:`\frac1m\sum_i [\log p(x_i) - \log q(x_i)]` over the test
    points with the toy's exact ``logpdf``: the same quantity as ``test NLL - H(p)`` in
    expectation, with a smaller standard error when the model is close to the truth (the
    fluctuation of ``-log p`` cancels).

    Each fit: Adam on mini-batches of the one-pass NLL gradient, the base initialized at the
    data's mean and standard deviation, planar parameters from ``Planar.random(scale=0.5)``.
    """
    import time
    from nfref.optim import Adam, fit
    rng = np.random.default_rng(seed)
    train, test = toy.rvs(n_train, random_state=rng), toy.rvs(n_test, random_state=rng)
    log_p_test = toy.logpdf(test)
    rows = []
    for K in Ks:
        fit_rng = np.random.default_rng([seed, K])
        flow = Flow(DiagonalNormal(train.mean(0), np.log(train.std(0))),
                    Chain([LAYERS[layer](fit_rng, k) for k in range(K)]))
        start = time.process_time()
        fit(lambda: flow.nll_and_grad(train[fit_rng.choice(n_train, batch, replace=False)]),
            flow.params, Adam(lr=lr), n_steps=steps, verbose=False)
        seconds = time.process_time() - start
        lp = flow.logpdf(test)
        diff = log_p_test - lp
        rows.append((K, -float(flow.logpdf(train).mean()), -float(lp.mean()),
                     float(lp.std(ddof=1) / np.sqrt(n_test)), float(diff.mean()),
                     float(diff.std(ddof=1) / np.sqrt(n_test)), seconds))
    return rows


def _k_row(row, entropy):
    K, tr, te, se, kl, kl_se, sec = row
    return (f"{K:>4} {tr:>10.4f} {te:>10.4f} {se:>7.4f} {te - entropy:>10.4f} {kl:>9.4f} "
            f"{kl_se:>7.4f} {sec:>7.1f}",)


@benchmark("ktable")
def _(stream):
    """The K table: test NLL of K planar layers against the exact entropy of the toy."""
    import sys
    from nfref.datasets import TwoMoons, Banana
    stream = stream or sys.stdout
    for toy in (TwoMoons(), Banana()):
        H, H_se = toy.entropy(n=400_000, random_state=1)
        print(f"{type(toy).__name__}: entropy H = {H:.4f} (standard error {H_se:.4f}); "
              "3000 training points, 20000 test points, 1500 Adam steps (batch 500, lr 0.02)",
              file=stream)
        print(f"{'K':>4} {'train NLL':>10} {'test NLL':>10} {'+-':>7} {'NLL - H':>10} "
              f"{'KL paired':>9} {'+-':>7} {'CPU s':>7}", file=stream, flush=True)
        for row in k_table(toy):
            print(*_k_row(row, H), file=stream, flush=True)
    toy = TwoMoons()
    H, _ = toy.entropy(n=400_000, random_state=1)
    print("TwoMoons, other layer types (same data, steps and base):", file=stream)
    print(f"{'layers':>18} {'train NLL':>10} {'test NLL':>10} {'+-':>7} {'NLL - H':>10} "
          f"{'KL paired':>9} {'+-':>7} {'CPU s':>7}", file=stream, flush=True)
    for layer in ("radial", "PLU linear", "planar/radial"):
        for row in k_table(toy, Ks=(8, 32), layer=layer):
            print(f"{f'{row[0]} {layer}':>18}" + _k_row(row, H)[0][4:], file=stream, flush=True)
