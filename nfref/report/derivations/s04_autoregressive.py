"""Claims and figures of section 4: autoregressive flows, MADE, MAF and IAF, coupling.

Every flow here runs one pass per direction and returns its pullback
(``forward_and_vjp``, ``inverse_and_vjp``); the sequential direction of MAF and IAF is
differentiated by the implicit-function rule with back substitution
(:mod:`nfref.autoregressive.maf`).

Notes 000, section 4, eq. (10) and section 4.1 (the transformer flow); notes 002 (MAF, IAF).
The fits to toy densities and the training-step benchmark are in :mod:`.s04_fitting`.
"""

import numpy as np

from nfref.autoregressive.maf import IAF, MAF, maf_stack
from nfref.autoregressive.coupling import Coupling
from nfref.gradcheck import check_vjp, numerical_jacobian
from nfref.autoregressive.made import MADE
from nfref.report.claims import claim, figure
from nfref.autoregressive.transformers import BoundedAffine

ORDERS = ("natural", "reversed", "random")


def _flows(d, seed=0):
    """One of each: MAF and IAF in every order, a bounded-scale MAF, coupling both ways."""
    rng = np.random.default_rng(seed)
    flows = [cls.random(d, rng, hidden_sizes=(8, 8), order=o) for cls in (MAF, IAF)
             for o in ORDERS]
    flows.append(MAF.random(d, rng, transformer=BoundedAffine(2.0), hidden_sizes=(6,)))
    flows += [Coupling.random(d, rng, hidden_sizes=(8,), flip=f) for f in (False, True)]
    return flows


def _order(t):
    """The autoregressive order of a flow: MADE's, or (A, B) for a coupling layer."""
    if isinstance(t, Coupling):
        return np.concatenate([t.cond_idx, t.trans_idx])
    return t.made.order


@claim("MADE: finite-difference Jacobian of each output block is strictly triangular",
       where="Germain et al. 2015; 000 sec. 4.1", bound=0.0,
       why="exact: an output whose masked weights to an input are 0 does not move at all when "
           "that input moves; any forbidden connection shows",
       measures=("largest |FD Jacobian entry| where the masks forbid a dependence (unitless; "
                 "exactly 0)"))
def _():
    rng = np.random.default_rng(0)
    worst, smallest_allowed = 0.0, np.inf
    for order in ORDERS:
        for d, hidden in ((3, (4,)), (5, (8, 8)), (6, (3, 7))):
            made = MADE(d, 2, hidden, order, random_state=rng)
            net = made.masked_weights(made.init_params(rng, output_scale=1.0))
            x = rng.standard_normal((6, d))
            jac = numerical_jacobian(lambda v: made.forward(v, net)[0].reshape(len(v), -1), x)
            jac = jac.reshape(6, d, 2, d)                      # d xi_{l c} / d x_j
            m0 = made.input_degrees
            bad = np.broadcast_to((m0[None, :] >= m0[:, None])[None, :, None, :], jac.shape)
            worst = max(worst, np.max(np.abs(jac[bad])))
            smallest_allowed = min(smallest_allowed, np.max(np.abs(jac[~bad])))
    return worst, f"entries where m(j) >= m(l): max {worst:.1e}; allowed block max >= " \
                  f"{smallest_allowed:.2f}"


@claim("MADE: mask product M_1...M_{L+1} has no path from x_j to xi_l for m(j) >= m(l)",
       where="Germain et al. 2015 sec. 4", bound=0.0,
       why="exact: a count of paths through 0/1 masks",
       measures="number of paths through forbidden pairs in the mask product (count)")
def _():
    rng = np.random.default_rng(1)
    forbidden, allowed_missing = 0.0, 0
    for order in ORDERS:
        for d in (1, 2, 3, 5, 8):
            made = MADE(d, 3, (max(d - 1, 1), 2 * d), order, random_state=rng)
            paths = made.connectivity()                        # (d_in, d_out, k)
            m0 = made.input_degrees
            bad = m0[:, None] >= m0[None, :]
            forbidden += paths[bad].sum()
            allowed_missing += int(np.sum(paths[~bad] == 0))
    return forbidden, (f"paths through forbidden pairs: {forbidden:.0f}; allowed pairs without "
                       f"a path (layers >= d-1 wide): {allowed_missing}")


@claim("eq. (10): Jacobian lower triangular with J = dx/du (nfref; finite differences of both "
       "directions, and the analytic J); the notes' J^T upper", where="000 sec. 4 eq. (10)",
       bound=0.0,
       why="exact: x_l does not read u_j for j > l (nor u_l read x_j), so the differences are "
           "0 in floating point, not merely small",
       measures=("largest |entry| above (nfref) / below (notes) the diagonal (unitless; exactly "
                 "0)"))
def _():
    worst, n = 0.0, 0
    for d in (2, 3, 5):
        for t in _flows(d, seed=d):
            u = np.random.default_rng(d).standard_normal((7, d))
            x = t.forward(u)[0]
            p = _order(t)
            fd_fwd = numerical_jacobian(lambda v: t.forward(v)[0], u)[:, p][:, :, p]
            fd_inv = numerical_jacobian(lambda v: t.inverse(v)[0], x)[:, p][:, :, p]
            jp = t.jacobian(u)[:, p][:, :, p]                  # nfref: rows are outputs
            notes = np.swapaxes(fd_fwd, 1, 2)                  # notes: [J]_ij = dphi_j/du_i
            worst = max(worst, np.max(np.abs(np.triu(fd_fwd, 1))),
                        np.max(np.abs(np.triu(fd_inv, 1))), np.max(np.abs(np.triu(jp, 1))),
                        np.max(np.abs(np.tril(notes, -1))))
            n += 1
    return worst, (f"max |entry above (nfref) / below (notes) the diagonal| over {n} flows, "
                   "forward and inverse")


@claim("sec. 4: log|det J| = sum_l log dzeta(u_l; xi_l)/du_l, against slogdet of a "
       "finite-difference Jacobian", where="000 sec. 4; sec. 4.1", bound=1e-9,
       why="fourth-order differences at step 1e-4: J to 1e-12 relative, the log-determinant to "
           "cond(J) (up to 1e2 for a 3-layer stack) times that; measured 2e-11",
       measures="largest |sum log dzeta/du - FD slogdet| (nats)")
def _():
    errs = []
    for d in (1, 2, 3, 5):
        flows = _flows(d, seed=10 + d) + [maf_stack(d, 3, (8,), random_state=d, output_scale=1.0)]
        for t in flows:
            u = np.random.default_rng(d).standard_normal((20, d))
            _, logdet = t.forward(u)                           # sum of transformer log-derivs
            fd = numerical_jacobian(lambda v: t.forward(v)[0], u)
            errs.append(np.max(np.abs(logdet - np.linalg.slogdet(fd)[1])))
    return max(errs), f"{len(errs)} flows"


@claim("sec. 4.1 slip: the last formula needs the log: nfref's log|det J| = sum log g(u_j) "
       "with g the diagonal of a finite-difference Jacobian, not sum g(u_j)",
       where="000 sec. 4.1 (last formula)", bound=5e-10,
       why="fourth-order differences at step 1e-4: each g to 1e-12 relative; measured 5e-12",
       measures="|sum log g - FD slogdet|, with the log (nats)")
def _():
    t = MAF.random(4, 3, hidden_sizes=(8,))
    u = np.random.default_rng(3).standard_normal((50, 4))
    fd = numerical_jacobian(lambda v: t.forward(v)[0], u)
    g = np.diagonal(fd, axis1=1, axis2=2)                      # g(u_j; xi_j) = dzeta/du_j
    _, logdet = t.forward(u)
    right = max(np.max(np.abs(np.log(g).sum(1) - logdet)),
                np.max(np.abs(np.linalg.slogdet(fd)[1] - logdet)))
    printed = np.max(np.abs(g.sum(1) - logdet))
    return right, f"with the log: {right:.1e}; as printed (no log): {printed:.2f}"


@claim("eq. (10) slip: kappa_l reading u_<l only (not u_<=l) gives det J = 0, no flow",
       where="000 sec. 4 eq. (10)", bound=0.0,
       why="exact: the determinant of a strictly triangular matrix (a zero pivot)",
       measures="largest |det J| when kappa_l reads u_<l only (unitless; exactly 0 expected)")
def _():
    # phi_l(u) = mu_l(u_<l): the MADE shift alone, i.e. kappa_l(u_<l) as printed.
    t = IAF.random(4, 4, hidden_sizes=(8,))
    u = np.random.default_rng(4).standard_normal((30, 4))
    net = t.made.masked_weights(t.params)
    strict = numerical_jacobian(lambda v: t.made.forward(v, net)[0][..., 0], u)
    dets = np.abs(np.linalg.det(strict))
    ok = np.abs(np.linalg.det(t.jacobian(u)))
    return float(dets.max()), f"|det| with u_<l: {dets.max():.1e}; with u_<=l: min {ok.min():.2f}"


@claim("MAF: density pass (1 MADE pass) and sampling pass (d passes) are inverses",
       where="002 MAF; Papamakarios 2017", bound=1e-13,
       why="float64 floor: d <= 8 affine steps, each a few ulps times the scale e^alpha <= 10; "
           "measured 2e-15",
       measures=("largest of |u' - u|, |x' - x| (data units) and |logdet_fwd + logdet_inv| "
                 "(nats)"))
def _():
    errs = []
    for d in (1, 2, 5, 8):
        rng = np.random.default_rng(d)
        for order in ORDERS:
            t = MAF.random(d, rng, hidden_sizes=(16, 16), order=order)
            u = rng.standard_normal((50, d))
            x, ld = t.forward(u)                               # sampling: sequential
            u2, ld2 = t.inverse(x)                             # density: parallel
            x2, _ = t.forward(t.inverse(x)[0])
            errs += [np.max(np.abs(u2 - u)), np.max(np.abs(ld + ld2)), np.max(np.abs(x2 - x))]
    return max(errs), "max of |u' - u|, |x' - x| and |logdet_fwd + logdet_inv|"


@claim("IAF: sampling pass (1 MADE pass) and density pass (d passes) are inverses",
       where="002 IAF; Kingma et al. 2016", bound=5e-14,
       why="float64 floor, as for MAF; measured 7e-16",
       measures=("largest of |u' - u|, |x' - x| (data units) and |logdet_fwd + logdet_inv| "
                 "(nats)"))
def _():
    errs = []
    for d in (1, 2, 5, 8):
        rng = np.random.default_rng(20 + d)
        for order in ORDERS:
            t = IAF.random(d, rng, hidden_sizes=(16, 16), order=order)
            u = rng.standard_normal((50, d))
            x, ld = t.forward(u)
            u2, ld2 = t.inverse(x)
            errs += [np.max(np.abs(u2 - u)), np.max(np.abs(ld + ld2))]
    return max(errs)


@claim("MAF, IAF, coupling (tanh and relu conditioners): pullbacks of one pass, both "
       "directions, against finite differences", where="000 sec. 4.1; docs/contract.md",
       bound=1e-8,
       why="fourth-order differences at step 1e-4 (relu kinks avoided by the points): measured "
           "1e-10. A pullback off by 1 + 1e-6 fails",
       measures="largest relative error of the pullbacks against finite differences (unitless)")
def _():
    rng = np.random.default_rng(31)
    relu = [cls.random(3, rng, hidden_sizes=(8, 8), order="random", activation="relu")
            for cls in (MAF, IAF)] + [Coupling.random(3, rng, hidden_sizes=(8,), flip=True,
                                                      activation="relu")]
    errs = []
    for t in _flows(3, seed=30) + relu:
        u = np.random.default_rng(30).standard_normal((6, 3))
        errs += [check_vjp(t, u, "forward").error, check_vjp(t, u, "inverse").error]
    return max(errs), f"{len(errs) // 2} flows, 3 of them with relu conditioners"


@claim("MADE sequential pass: each hidden unit computed once; at the end the activations of "
       "one pass at the final point", where="002 MAF; Germain et al. 2015 sec. 4", bound=1e-14,
       why="float64 floor: the same sums, accumulated in another order; measured 9e-16",
       measures="largest |h_sequential - h_one_pass| (activations) and |u' - u| (data units)")
def _():
    # MAF sampling: x from its d passes; then one ordinary MADE pass at x must give the same
    # hidden activations, and the density pass at x must return the u that was sampled.
    worst, n_units = 0.0, 0
    for d, hidden in ((2, (64, 64)), (5, (16, 7)), (8, (64, 64))):
        for order in ORDERS:
            rng = np.random.default_rng(40 + d)
            t = MAF.random(d, rng, hidden_sizes=hidden, order=order)
            u = rng.standard_normal((30, d))
            net = t.made.masked_weights(t.params)
            x, _, _, hs = t._sequential_pass(u)
            _, hs_one = t.made.forward(x, net)
            worst = max([worst, np.max(np.abs(t.inverse(x)[0] - u))]
                        + [np.max(np.abs(h - h1)) for h, h1 in zip(hs, hs_one)])
            n_units += sum(hidden)
    return worst, (f"max |h_sequential - h_one_pass| and |u' - u| over {n_units} hidden units "
                   "(9 flows)")


@claim("coupling = two-block case: J_AA = I, J_AB = 0, log|det J| = sum over B",
       where="Dinh et al. 2017 eq. (6); 000 sec. 4.1", bound=1e-14,
       why="float64 floor: the identity block is exact, the log-determinant a sum of d logs; "
           "measured 2e-16",
       measures="largest of |J_AA - I|, |J_AB| (unitless) and the log-determinant error (nats)")
def _():
    errs = []
    for d in (2, 3, 5):
        for flip in (False, True):
            t = Coupling.random(d, d, hidden_sizes=(8,), flip=flip)
            u = np.random.default_rng(d).standard_normal((10, d))
            J = t.jacobian(u)
            A, B = t.cond_idx, t.trans_idx
            jbb = np.diagonal(J[:, B][:, :, B], axis1=1, axis2=2)
            errs += [np.max(np.abs(J[:, A][:, :, A] - np.eye(len(A)))),
                     np.max(np.abs(J[:, A][:, :, B]), initial=0.0),
                     np.max(np.abs(t.forward(u)[1] - np.log(jbb).sum(1)))]
    return max(errs)


# ---------------------------------------------------------------------- figures
@figure("s04_made_connectivity")
def made_connectivity_figure():
    """MADE with d = 4, two hidden layers of 6, k = 1: units labelled by degree, live edges,
    and the path counts M_1 M_2 M_3 between inputs and outputs."""
    import matplotlib.pyplot as plt
    made = MADE(4, 1, (6, 6), order=[2, 4, 1, 3])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.6, 1]})
    layers = made.degrees + [made.input_degrees]
    pos = []
    for i, deg in enumerate(layers):
        xs = np.linspace(0, 1, len(deg)) if len(deg) > 1 else np.array([0.5])
        pos.append(np.stack([xs, np.full(len(deg), i)], 1))
    for i, mask in enumerate(made.masks):
        for a, b in zip(*np.nonzero(mask)):
            ax.plot([pos[i][a, 0], pos[i + 1][b, 0]], [i, i + 1], color="0.6", lw=0.7, zorder=1)
    names = ["input x", "hidden 1", "hidden 2", "output xi"]
    for i, deg in enumerate(layers):
        ax.scatter(pos[i][:, 0], pos[i][:, 1], s=420, c=deg, cmap="viridis", vmin=0, vmax=4,
                   edgecolor="k", zorder=2)
        for (px, py), m in zip(pos[i], deg):
            ax.text(px, py, str(m), ha="center", va="center", color="w", fontsize=10, zorder=3)
        ax.text(-0.12, i, names[i], ha="right", va="center")
    ax.set_xlim(-0.45, 1.08)
    ax.set_ylim(-0.5, 3.5)
    ax.axis("off")
    ax.set_title("MADE degrees (order [2, 4, 1, 3]); edge where mask = 1")
    paths = made.connectivity()[:, :, 0]                       # (input j, output l)
    im = ax2.imshow(paths.T, cmap="Greys")
    ax2.set_xlabel("input j (degree)")
    ax2.set_ylabel("output l (degree)")
    ticks = [f"{j} ({m})" for j, m in enumerate(made.input_degrees)]
    ax2.set_xticks(range(4), ticks)
    ax2.set_yticks(range(4), ticks)
    for (l, j), v in np.ndenumerate(paths.T):
        ax2.text(j, l, f"{v:.0f}", ha="center", va="center", color="r")
    ax2.set_title("paths x_j -> xi_l: (M1 M2 M3)^T")
    fig.colorbar(im, ax=ax2, fraction=0.046)
    fig.tight_layout()
    return fig


@figure("s04_jacobian_patterns")
def jacobian_patterns_figure():
    """``|J|`` of MAF (natural, random order), IAF and a coupling layer, d = 6, in nfref's
    convention ``J = dx/du`` (top) and the notes' transpose (bottom)."""
    import matplotlib.pyplot as plt
    d, rng = 6, np.random.default_rng(5)
    flows = {"MAF natural": MAF.random(d, rng, hidden_sizes=(12,)),
             "MAF random order": MAF.random(d, rng, hidden_sizes=(12,), order="random"),
             "IAF reversed": IAF.random(d, rng, hidden_sizes=(12,), order="reversed"),
             "coupling": Coupling.random(d, rng, hidden_sizes=(12,))}
    u = rng.standard_normal((1, d))
    fig, axes = plt.subplots(2, 4, figsize=(12, 6))
    for k, (name, t) in enumerate(flows.items()):
        J = np.abs(t.jacobian(u)[0])
        for row, (M, lab) in enumerate(((J, "nfref: dx_i/du_j"), (J.T, "notes: dphi_j/du_i"))):
            ax = axes[row, k]
            ax.imshow(M > 0, cmap="Greys", vmin=0, vmax=1.4)
            ax.set_title(f"{name}\n{lab}" if row == 0 else lab, fontsize=9)
            ax.set_xticks(range(d))
            ax.set_yticks(range(d))
            ax.set_xlabel("j (input u_j)" if row == 0 else "j (output phi_j)")
            ax.set_ylabel("i (output x_i)" if row == 0 else "i (input u_i)")
    fig.suptitle("Nonzero Jacobian entries (dark): triangular in the flow's order")
    fig.tight_layout()
    return fig
