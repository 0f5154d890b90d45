#!/usr/bin/python3
"""Self-checks of the AD reference and of tests/data/ad_golden.h5 (README.md §5):

  1. regeneration: inputs and every stored tensor recomputed from the stored weights (float64); the
     file holds exactly the expected datasets, and the gradient row subsets (grad_rows/<name>) are
     the rule's rows of a full recomputation
  2. gradients vs central finite differences (float64, kNN graphs held fixed)
  3. max-pool routing: exactly one point per (event, channel) gets z's gradient, the first arg-max
  4. tie rules: parameter gradients do not depend on how ties between identical padded points are
     split (equal split vs first index), for the focal max over points and for the max pool
  5. float32 run of the same reference vs the float64 golden, per tensor -> f32_vs_f64.md
  6. where the maxima sit (padded points), soft k-means weights

    nice -n 10 python3 tools/ad-golden/check_ad_golden.py [GOLDEN] [--no-f32-table]
"""
import os
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ad_golden as M  # noqa: E402
import ucluster_ad_ref as R  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "tests", "data", "ad_golden.h5")


def load(path):
    f = h5py.File(path, "r")
    x = torch.tensor(f["input/data"][()])
    g = torch.tensor(f["input/global"][()])
    t = torch.tensor(f["input/target_bin"][()]).long()
    P = OrderedDict((n, torch.tensor(f["weights/" + n][()])) for n in R.param_shapes())
    S = OrderedDict((n, torch.tensor(f["weights/" + n][()])) for n in R.stat_shapes())
    return f, x, g, t, P, S


# --------------------------------------------------------------------------------------------
# stored gradients: big tensors hold a row subset (grad_rows/<name>, README §2)
# --------------------------------------------------------------------------------------------
def dataset_names(f):
    """every dataset path, hard links included (visititems lists a linked object only once)."""
    out = []

    def walk(grp, prefix):
        for k in grp:
            o = grp[k]
            if isinstance(o, h5py.Group):
                walk(o, prefix + k + "/")
            else:
                out.append(prefix + k)
    walk(f, "")
    return out


def as_stored(name, v):
    """a full gradient tensor -> the part the file stores (rows grad_rows(shape), or all of it)."""
    v = np.asarray(v)
    rows = M.grad_rows(v.shape)
    return v if rows is None else v[rows]


def stored_index(f, name, shape):
    """flat index into the FULL tensor of every stored entry of the gradient `name`, in storage
    order (row subsets: rows grad_rows/<name>, all columns)."""
    full = np.arange(int(np.prod(shape))).reshape(shape)
    key = "grad_rows/" + name
    return (full[f[key][()]] if key in f else full).ravel()


def stored_grad_sets(f):
    return {k: {n: f["grad_%s/%s" % (k, n)][()] for n in f["grad_" + k]} for k in R.LOSSES}


# --------------------------------------------------------------------------------------------
# 1. regeneration
# --------------------------------------------------------------------------------------------
def check_regeneration(f, x, g, t, P, S):
    xi, gi, ti, ni, _ = M.make_inputs()
    assert np.array_equal(xi, x.numpy()) and np.array_equal(gi, g.numpy()) and np.array_equal(ti, t.numpy())
    assert np.array_equal(ni, f["input/n_real"][()])
    res = M.compute_all(P, S, x, g, t)
    stored = M.stored_form(res)
    # the file holds exactly the inputs, the weights and the stored form of the recomputation
    expect = set(["input/data", "input/global", "input/target_bin", "input/n_real"]
                 + ["weights/" + n for n in list(P) + list(S)] + list(stored))
    names = set(dataset_names(f))
    assert names == expect, (sorted(names - expect), sorted(expect - names))
    worst = 0.0
    for n, v in stored.items():
        ref = f[n][()]
        a = v.numpy()
        assert ref.shape == a.shape and ref.dtype == (np.int32 if a.dtype.kind in "iub" else np.float64), n
        d = np.abs(a.astype(np.float64) - ref).max() if ref.size else 0.0
        worst = max(worst, d)
    print("[1] regeneration: inputs identical; %d datasets recomputed (%d stored), max |diff| = %.3g; the file "
          "holds exactly the %d expected datasets" % (len(res), len(stored), worst, len(names)))
    assert worst == 0.0
    check_grad_subsets(f, res)
    return res


def check_grad_subsets(f, res):
    """the gradient row subsets against the full recomputation: the rule, written out here
    independently of make_ad_golden.grad_rows (rows r % 8 == 0 and the last row, all columns, for
    tensors with more than 4096 entries; the others whole and without grad_rows/<name>)."""
    assert f.attrs["gradient_row_subset"] == M.GRAD_ROW_SUBSET_RULE
    n_sub, n_whole, kept, total, cover = set(), 0, 0, 0, []
    for n, v in res.items():
        if not n.startswith("grad_"):
            continue
        leaf = n.split("/", 1)[1]
        full = v.numpy()
        ds = f[n][()]
        total += full.size
        if full.size > 4096:
            rows = f["grad_rows/" + leaf][()]
            expect = sorted(set(range(0, full.shape[0], 8)) | {full.shape[0] - 1})
            assert rows.dtype == np.int32 and rows.ndim == 1 and rows.tolist() == expect, leaf
            assert ds.shape == (len(rows), full.shape[1]) and np.array_equal(ds, full[rows]), n
            n_sub.add(leaf)
            kept += ds.size
            if np.abs(full).max() > 0:
                cover.append((float(np.abs(ds).max() / np.abs(full).max()), n))
        else:
            assert "grad_rows/" + leaf not in f and ds.shape == full.shape and np.array_equal(ds, full), n
            n_whole += 1
            kept += full.size
    assert sorted(k[len("grad_rows/"):] for k in dataset_names(f) if k.startswith("grad_rows/")) == sorted(n_sub)
    cover.sort()
    print("    gradient row subsets (%s): %d parameters; the stored rows equal the full recomputation's "
          "bitwise; %d tensors whole; %d of %d gradient entries stored; max|stored| / max|full| >= %.3f (%s)" % (
              M.GRAD_ROW_SUBSET_RULE, len(n_sub), n_whole, kept, total, cover[0][0], cover[0][1]))


# --------------------------------------------------------------------------------------------
# 2. finite differences
# --------------------------------------------------------------------------------------------
FD_TENSORS = ["gap0_edge.W", "gap0_neibatt.W", "gap0_out.b", "gapnet01.W", "gapnet02.bn_gamma", "gap1_edge.W",
              "gap1_neibatt.bn_beta", "gap1_out.b", "gapnet11.W", "gapnet12.W", "global_expand.W",
              "global_expand.bn_gamma", "agg.W", "agg.bn_gamma", "agg.bn_beta", "seg_conv2.W",
              "seg_conv4.bn_gamma", "seg_conv5.W", "seg_conv5.b", "mu", "gap1_newfea.W", "gapnet12.b"]


def all_losses(P, S, x, g, t, idx1, idx2, alpha_km, trace=None):
    """the three losses from one training-mode forward (kNN graphs given); trace receives the
    activation pattern: ReLU signs, GAP max-over-k selections, max-pool arg-max, and the focal
    maxima (worst point per (event, class), target class per point)."""
    with torch.no_grad():
        z, logits, _ = R.forward(P, S, x, g, True, idx1=idx1, idx2=idx2, trace=trace)
        if trace is not None:
            fl = R.focal_terms(logits, t)
            trace.append(fl == fl.amax(dim=1, keepdim=True))
            trace.append(fl == fl.amax(dim=2, keepdim=True))
        return {k: float(R.loss_value(k, logits, t, z, P["mu"], alpha_km)) for k in R.LOSSES}


def _same_pattern(a, b):
    return len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b))


def fd_entry(P, S, x, g, t, idx1, idx2, alpha_km, name, i, base_trace, h0):
    """central difference at the largest h ≤ h0 (h0/4^m) for which no ReLU sign and no max
    selection differs between θ−h, θ and θ+h: the loss is smooth on that interval."""
    h = h0
    while True:
        res = []
        for sgn in (1, -1):
            Pq = OrderedDict((n, v.clone()) for n, v in P.items())
            Pq[name].view(-1)[i] += sgn * h
            tr = []
            res.append((all_losses(Pq, S, x, g, t, idx1, idx2, alpha_km, tr), tr))
        if (_same_pattern(res[0][1], base_trace) and _same_pattern(res[1][1], base_trace)) or h < 1e-9:
            return {k: (res[0][0][k] - res[1][0][k]) / (2 * h) for k in R.LOSSES}, h
        h /= 4


def _pick_entries(grad, rs, n):
    """the 2 largest entries + random ones with |g| ≥ max(1e-2·max|g|, 1e-3) (smaller gradients
    are below the FD rounding floor ε·|L|/h ≈ 1e-10..1e-9)."""
    flat = np.abs(grad).ravel()
    if flat.max() == 0:
        return list(rs.choice(len(flat), min(2, len(flat)), replace=False))
    cand = np.nonzero(flat >= max(1e-2 * flat.max(), 1e-3))[0]
    if len(cand) == 0:
        return []
    top = [int(i) for i in np.argsort(-flat)[:2] if flat[i] >= 1e-3]
    return top + [int(i) for i in rs.choice(cand, min(n - 2, len(cand)), replace=False)]


def check_fd(f, x, g, t, P, S, h=1e-5, per_tensor=4, seed=0):
    """relative error |FD − autograd| / |autograd| on entries of FD_TENSORS picked per loss
    (_pick_entries); one FD pair gives all three losses. Analytically-zero gradients (stored as
    exact 0) and mu for the focal losses: |FD| must be ≈ 0."""
    alpha_km = float(f["train/alpha_km"][()])
    rec = {}
    with torch.no_grad():
        R.forward(P, S, x, g, True, rec=rec)
    idx1, idx2 = rec["knn1"], rec["knn2"]
    base_trace = []
    all_losses(P, S, x, g, t, idx1, idx2, alpha_km, base_trace)
    rs = np.random.RandomState(seed)
    worst = {k: 0.0 for k in R.LOSSES}
    zero_worst, rows, hs = 0.0, [], []
    for name in FD_TENSORS:
        # stored values only (row subsets: picked among the stored rows); FD perturbs the full tensor
        ga = {k: (f["grad_%s/%s" % (k, name)][()].ravel() if "grad_%s/%s" % (k, name) in f else None)
              for k in R.LOSSES}
        full_idx = stored_index(f, name, tuple(P[name].shape))
        picks = {k: ([int(full_idx[i]) for i in _pick_entries(ga[k], rs, per_tensor)] if ga[k] is not None else [])
                 for k in R.LOSSES}
        if name == "mu":
            picks["pretrain_max_points"] = picks["pretrain_per_point"] = [0, 3]
        pos = {int(j): i for i, j in enumerate(full_idx)}       # full flat index -> stored position
        entries = sorted(set(i for v in picks.values() for i in v))
        for i in entries:
            fds, hi = fd_entry(P, S, x, g, t, idx1, idx2, alpha_km, name, i, base_trace, h)
            hs.append(hi)
            for k in R.LOSSES:
                if i not in picks[k]:
                    continue
                if ga[k] is None or np.abs(ga[k]).max() == 0:
                    zero_worst = max(zero_worst, abs(fds[k]))
                    continue
                an = float(ga[k][pos[i]])
                rel = abs(fds[k] - an) / abs(an)
                worst[k] = max(worst[k], rel)
                rows.append((name, i, k, an, fds[k], rel))
    hs = np.array(hs)
    print("[2] finite differences (central, float64, kNN graphs fixed; h = %g, divided by 4 until no ReLU sign "
          "or max selection changes on [θ−h, θ+h]: h = %g for %d of %d entries, min h %.2g): %d comparisons, "
          "%d tensors" % (h, h, int((hs == h).sum()), len(hs), hs.min(), len(rows), len(FD_TENSORS)))
    for k in R.LOSSES:
        print("    %-22s %3d entries  max rel. error %.2e" % (k, sum(r[2] == k for r in rows), worst[k]))
    print("    analytically-zero gradients (stored 0; and mu for the focal losses): max |FD| = %.2e" % zero_worst)
    bad = [r for r in rows if r[5] > 1e-6]
    for r in bad:
        print("    FAIL", r)
    assert not bad and zero_worst < 1e-7
    return worst, zero_worst, rows


# --------------------------------------------------------------------------------------------
# 3. max-pool routing
# --------------------------------------------------------------------------------------------
def check_maxpool_routing(f, x, g, t, P, S):
    out = {}
    for mode, training in (("infer", False), ("train", True)):
        rec = {}
        with torch.no_grad():
            R.forward(P, S, x, g, training, rec=rec)
        agg = rec["agg"].clone().requires_grad_(True)
        z = R.maxpool_first(agg)
        r = torch.tensor(np.random.RandomState(1).uniform(1, 2, z.shape))
        (gz,) = torch.autograd.grad((z * r).sum(), agg)
        nz = (gz != 0).sum(dim=1)                                        # [B,C]
        where = gz.abs().argmax(dim=1)
        stored = torch.tensor(f[mode + "/z_argmax"][()]).long()
        assert (nz == 1).all() and torch.equal(where, stored)
        assert torch.equal(torch.gather(gz, 1, where.unsqueeze(1)).squeeze(1), r)
        ties = ((agg.detach() == z.detach().unsqueeze(1)).sum(dim=1))    # how many points hold the max
        torch_idx = torch.max(agg.detach(), dim=1).indices
        out[mode] = (stored.numpy(), ties.numpy(), torch_idx.numpy())
    print("[3] max-pool gradient: exactly one point per (event, channel), at the first arg-max (infer and train)")
    return out


# --------------------------------------------------------------------------------------------
# 4. tie rules among identical padded points
# --------------------------------------------------------------------------------------------
class _FirstIndexMax(torch.autograd.Function):
    """alternative rule for the check: the whole gradient to the first maximal entry."""

    @staticmethod
    def forward(ctx, v, dim):
        idx = R.first_argmax(v, dim)
        ctx.save_for_backward(idx)
        ctx.dim, ctx.shape = dim, v.shape
        return torch.gather(v, dim, idx.unsqueeze(dim)).squeeze(dim)

    @staticmethod
    def backward(ctx, gout):
        (idx,) = ctx.saved_tensors
        gv = torch.zeros(ctx.shape, dtype=gout.dtype)
        gv.scatter_(ctx.dim, idx.unsqueeze(ctx.dim), gout.unsqueeze(ctx.dim))
        return gv, None


class _SplitMaxPool(torch.autograd.Function):
    """alternative max-pool rule for the check: equal split among exact ties."""

    @staticmethod
    def forward(ctx, v):
        return R.ReduceMaxTiesSplit.forward(ctx, v, 1)

    @staticmethod
    def backward(ctx, gout):
        return R.ReduceMaxTiesSplit.backward(ctx, gout)[0]


def _grads_with(P, S, x, g, t, kind, alpha_km, focal_max=None, pool=None):
    saved = (R.reduce_max_ties_split, R.maxpool_first)
    try:
        if focal_max is not None:
            R.reduce_max_ties_split = focal_max
        if pool is not None:
            R.maxpool_first = pool
        # the GAP max over k keeps the TF rule: only the focal reduction / the pool are swapped
        return R.gradients(P, S, x, g, t, kind, alpha_km)[1]
    finally:
        R.reduce_max_ties_split, R.maxpool_first = saved


def check_tie_invariance(f, x, g, t, P, S):
    alpha_km = float(f["train/alpha_km"][()])
    base = R.gradients(P, S, x, g, t, "pretrain_max_points", alpha_km)[1]

    # swap only the focal reduction: the GAP uses R.reduce_max_ties_split as well, so route by
    # dimension (focal over points: dim 1 of [B,N,21]; GAP: dim 2 of [B,N,k,A])
    def focal_only_first(v, dim):
        return _FirstIndexMax.apply(v, dim) if (dim == 1 and v.dim() == 3) else R.ReduceMaxTiesSplit.apply(v, dim)

    alt = _grads_with(P, S, x, g, t, "pretrain_max_points", alpha_km, focal_max=focal_only_first)
    d1 = max(float((alt[n] - base[n]).abs().max() / max(base[n].abs().max(), 1e-300)) for n in base
             if base[n].abs().max() > 1e-10)
    base_j = R.gradients(P, S, x, g, t, "joint", alpha_km)[1]
    alt_j = _grads_with(P, S, x, g, t, "joint", alpha_km, pool=lambda v: _SplitMaxPool.apply(v))
    d2 = max(float((alt_j[n] - base_j[n]).abs().max() / max(base_j[n].abs().max(), 1e-300)) for n in base_j
             if base_j[n].abs().max() > 1e-10)
    print("[4] tie rules among identical padded points: parameter gradients, equal split vs first index:")
    print("    focal max over points: max rel. diff %.2e;  max pool (joint loss): max rel. diff %.2e" % (d1, d2))
    assert d1 < 1e-10 and d2 < 1e-10
    return d1, d2


# --------------------------------------------------------------------------------------------
# 5. float32 run
# --------------------------------------------------------------------------------------------
def _class_rows(idx, cls):
    """sorted neighbour classes per row."""
    B = idx.shape[0]
    c = np.stack([cls[b][idx[b]] for b in range(B)])
    return np.sort(c, axis=-1)


class _MaskedRelu:
    """replaces F.relu inside the reference: call n uses mask n (a list) instead of x > 0; with
    record=True it stores the masks of a run instead. Forward value x·mask, gradient mask."""

    def __init__(self, masks=None, toggle=None):
        self.masks, self.toggle, self.n = masks if masks is not None else [], toggle, 0
        self.record = masks is None
        self.orig = R.F.relu

    def __call__(self, v):
        if self.record:
            self.masks.append((v > 0).detach().clone())
            m = self.masks[-1]
        else:
            m = self.masks[self.n].clone()
        if self.toggle is not None and self.toggle[0] == self.n:
            m.view(-1)[self.toggle[1]] = ~m.view(-1)[self.toggle[1]]
        self.n += 1
        return v * m.to(v.dtype)

    def __enter__(self):
        R.F.relu = self
        return self

    def __exit__(self, *exc):
        R.F.relu = self.orig


RELU_CALLS = ["gap0_newfea", "gap0_edge", "gap0_selfatt", "gap0_neibatt", "gap0.o", "gapnet01", "gapnet02",
              "gap1_newfea", "gap1_edge", "gap1_selfatt", "gap1_neibatt", "gap1.o", "gapnet11", "gapnet12",
              "global_expand", "agg", "seg_conv2", "seg_conv4"]     # order of the ReLU calls in a forward


def _grad_sets(P, S, x, g, t, alpha_km):
    return {k: R.gradients(P, S, x, g, t, k, alpha_km)[1] for k in R.LOSSES}


def _layer_scale(grads):
    """per gradient set: layer -> max over the layer's tensors of max|g| (the normalisation of the
    'layer-normalised' error: 1-element tensors such as gap0_neibatt.bn_gamma are cancellation
    results and would give meaningless per-tensor relative errors)."""
    sc = {}
    for n, v in grads.items():
        layer = n.split(".")[0]
        sc[layer] = max(sc.get(layer, 0.0), float(np.abs(np.asarray(v)).max()))
    return sc


def _grad_dev(ref_sets, other_sets, skip_zero=True):
    """max over tensors of max|Δ| / layer scale, and the worst tensor. ref_sets: the stored
    gradients (row subsets); other_sets: full gradients, compared on the stored rows."""
    worst, wname = 0.0, ""
    for k, ref in ref_sets.items():
        sc = _layer_scale(ref)
        for n, v in ref.items():
            r = np.asarray(v, dtype=np.float64)
            if skip_zero and np.abs(r).max() == 0:
                continue
            o = as_stored(n, np.asarray(other_sets[k][n], dtype=np.float64))
            d = float(np.abs(o - r).max()) / sc[n.split(".")[0]]
            if d > worst:
                worst, wname = d, "grad_%s/%s" % (k, n)
    return worst, wname


def float32_rounding_only(f, x, g, t, P, S):
    """float32 run with the float64 ReLU masks imposed: the deviation that rounding alone causes
    (no activation flips). Returns the layer-normalised worst gradient deviation."""
    alpha_km = float(f["train/alpha_km"][()])
    P32 = OrderedDict((n, v.float()) for n, v in P.items())
    S32 = OrderedDict((n, v.float()) for n, v in S.items())
    ref = stored_grad_sets(f)
    out = {}
    for k in R.LOSSES:
        with _MaskedRelu() as rec:
            R.forward(P, S, x, g, True)
        with _MaskedRelu(rec.masks):
            out[k] = R.gradients(P32, S32, x.float(), g.float(), t, k, alpha_km)[1]
    return _grad_dev(ref, out)


def flip_sensitivity(f, x, g, t, P, S, layers=("gap0_edge", "gapnet01", "gap1_edge", "gapnet11", "gapnet12",
                                                "seg_conv2", "seg_conv4")):
    """float64: toggle the ReLU derivative of the training-mode pre-activation nearest to 0 in each
    layer (what a float32 engine does when its rounding flips that sign) and measure the change of
    all gradients (layer-normalised). Returns {layer: (|pre|, worst dev, worst tensor)}."""
    alpha_km = float(f["train/alpha_km"][()])
    pres = []
    orig = R.F.relu

    def grab(v):
        pres.append(v.detach().clone())
        return orig(v)
    R.F.relu = grab
    try:
        with torch.no_grad():
            R.forward(P, S, x, g, True)
    finally:
        R.F.relu = orig
    ref = stored_grad_sets(f)
    res = OrderedDict()
    for layer in layers:
        call = RELU_CALLS.index(layer)
        pos = int(pres[call].abs().view(-1).argmin())
        with _MaskedRelu() as rec:
            R.forward(P, S, x, g, True)
        out = {}
        for k in R.LOSSES:
            with _MaskedRelu(rec.masks, toggle=(call, pos)):
                out[k] = R.gradients(P, S, x, g, t, k, alpha_km)[1]
        dev, name = _grad_dev(ref, out)
        res[layer] = (float(pres[call].abs().view(-1)[pos]), dev, name)
    return res


def activation_flips(P, S, x, g, P32, S32):
    """number of ReLU signs / max selections that differ between the float64 and float32
    forwards, per mode (the trace of ucluster_ad_ref.Net)."""
    out = {}
    for mode, training in (("train", True), ("infer", False)):
        t64, t32 = [], []
        with torch.no_grad():
            R.forward(P, S, x, g, training, trace=t64)
            R.forward(P32, S32, x.float(), g.float(), training, trace=t32)
        out[mode] = sum(int((a != b).sum()) for a, b in zip(t64, t32))
    return out


def float32_table(f, x, g, t, P, S, out_md):
    P32 = OrderedDict((n, v.float()) for n, v in P.items())
    S32 = OrderedDict((n, v.float()) for n, v in S.items())
    # compared on what the file stores (gradient row subsets; no training-mode per-point tensors
    # other than agg and logits): that is what a test of an engine against the file sees
    res = M.stored_form(M.compute_all(P32, S32, x.float(), g.float(), t, zero_analytic=False))
    flips = activation_flips(P, S, x, g, P32, S32)
    cls = f["infer/knn2_class"][()]
    scales = {k: _layer_scale(v) for k, v in stored_grad_sets(f).items()}
    lines, cats = [], OrderedDict()
    discrete = []
    for n, v in res.items():
        a = v.numpy()
        ref = f[n][()]
        if n.startswith("grad_rows/"):
            assert np.array_equal(a, ref)
            continue
        if n.endswith("knn1"):
            discrete.append("%s: %d of %d rows differ (sets)" % (n, int((np.sort(a, -1) != ref).any(-1).sum()),
                                                              ref.shape[0] * ref.shape[1]))
            continue
        if n.endswith("knn2"):
            diff = (_class_rows(a, cls) != _class_rows(ref, cls)).any(-1).sum()
            discrete.append("%s: %d of %d rows differ (as sets of padded classes)" % (n, int(diff),
                                                                                     ref.shape[0] * ref.shape[1]))
            continue
        if n.endswith("knn2_class"):
            continue
        if n.endswith("z_argmax"):
            same = (np.take_along_axis(cls, a, 1) == np.take_along_axis(cls, ref, 1)).all()
            discrete.append("%s: float32 %s, float64 %s (%s)" % (n, a.tolist(), ref.tolist(),
                                                                 "same points/classes" if same else "DIFFERENT"))
            continue
        d = np.abs(a.astype(np.float64) - ref)
        dmax, rmax = float(d.max()), float(np.abs(ref).max())
        kind = n.split("/")[0]
        leaf = n.split("/")[-1]
        zero = kind.startswith("grad") and rmax == 0
        rel = dmax / rmax if rmax > 0 else float("nan")
        lrel = dmax / scales[kind[5:]][leaf.split(".")[0]] if kind.startswith("grad") and not zero else rel
        lines.append("| `%s` | %s | %.3e | %.3e | %s | %s |" % (
            n, "x".join(map(str, ref.shape)) or "scalar", rmax, dmax, "%.3e" % rel if rmax > 0 else "(exact 0)",
            "%.3e" % lrel if kind.startswith("grad") and not zero else ""))
        if zero:
            cat = "gradients, analytically zero (golden = exact 0)"
        elif kind.startswith("grad"):
            cat = "gradients (non-zero tensors), layer-normalised"
        elif leaf.startswith(("focal", "kmeans")) or leaf == "alpha_km":
            cat = "losses"
        elif ".batch_" in leaf:
            cat = "BN batch statistics (train)"
        else:
            cat = "%s forward tensors (per point, z, distances)" % ("inference" if kind == "infer" else "training")
        c = cats.setdefault(cat, [0, 0.0, "", 0.0])
        c[0] += 1
        if zero:
            if dmax > c[3]:
                c[3], c[2] = dmax, n
        elif lrel > c[1]:
            c[1], c[2], c[3] = lrel, n, dmax
    with open(out_md, "w") as fo:
        fo.write("# AD golden: float32 run of the reference vs the float64 golden, per tensor\n\n")
        fo.write("Generated by `check_ad_golden.py` (same inputs, weights and buffers, all float32-representable; "
                 "the whole forward, kNN and backward in float32, torch %s CPU, one thread). Every stored "
                 "floating-point dataset, compared on what is stored (gradients with more than 4096 entries: the "
                 "rows in grad_rows/<name>). max|Δ| = max over the "
                 "tensor of |float32 − golden|; rel = max|Δ| / max|golden|; layer rel (gradients) = max|Δ| / the "
                 "largest max|golden| among the stored values of the same layer in the same gradient set. ReLU signs / max "
                 "selections that differ from the float64 run: %d in training mode, %d in inference mode "
                 "(README.md §4).\n\n" % (torch.__version__, flips["train"], flips["infer"]))
        fo.write("| dataset | shape | max\\|golden\\| | max\\|Δ\\| | rel | layer rel |\n|---|---|---|---|---|---|\n")
        fo.write("\n".join(lines) + "\n\nDiscrete results:\n\n")
        fo.write("\n".join("- " + s for s in discrete) + "\n")
    print("[5] float32 run vs float64 golden (per tensor max|Δ|/max|ref|, gradients layer-normalised; "
          "table in %s):" % os.path.basename(out_md))
    for cat, (n, rel, worst, dabs) in cats.items():
        if cat.endswith("exact 0)"):
            print("    %-56s %3d tensors  max |g32| %.2e (%s)" % (cat, n, dabs, worst))
        else:
            print("    %-56s %3d tensors  worst %.2e (%s, abs %.2e)" % (cat, n, rel, worst, dabs))
    for s_ in discrete:
        print("    " + s_)
    print("    ReLU signs / max selections differing from float64: train %d, infer %d" % (
        flips["train"], flips["infer"]))
    dev, name = float32_rounding_only(f, x, g, t, P, S)
    print("    float32 with the float64 ReLU masks imposed (rounding only): gradients worst %.2e (%s)" % (dev, name))
    print("    one ReLU flip (float64, the training-mode pre-activation nearest 0 of the layer toggled):")
    for layer, (pre, d, nm) in flip_sensitivity(f, x, g, t, P, S).items():
        print("      %-10s |pre| = %.2e  -> gradients change up to %.2e (%s)" % (layer, pre, d, nm))
    return cats, discrete


# --------------------------------------------------------------------------------------------
# 6. where the maxima are
# --------------------------------------------------------------------------------------------
def report_maxima(f, x, g, t, P, S, routing):
    n_real = f["input/n_real"][()]
    for mode, (idx, ties, torch_idx) in routing.items():
        pad = [(b, c, int(idx[b, c]), int(ties[b, c])) for b in range(idx.shape[0]) for c in range(idx.shape[1])
               if idx[b, c] >= n_real[b]]
        print("[6] %s z arg-max %s; at a padded point (event, channel, index, #tied points): %s; torch.max picks %s" % (
            mode, idx.tolist(), pad, torch_idx.tolist()))
    with torch.no_grad():
        _, logits, _ = R.forward(P, S, x, g, True)
        fl = R.focal_terms(logits, t)
    for b in range(x.shape[0]):
        cl = sorted(set(t[b].tolist()))
        desc = []
        for c in cl:
            v = fl[b, :, c]
            m = v.max()
            desc.append("class %d: worst point %d, %d tied" % (c, int(R.first_argmax(v, 0)), int((v == m).sum())))
        print("    focal max_points event %d (n_real %d): %s" % (b, n_real[b], "; ".join(desc)))
    d = torch.tensor(f["train/distances"][()])
    w = R.kmeans_weights(d, float(f["train/alpha_km"][()]))
    print("    soft k-means weights (train, alpha_km = %g): %s" % (float(f["train/alpha_km"][()]),
                                                                   np.round(w.numpy(), 4).tolist()))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0] if args else DEFAULT
    f, x, g, t, P, S = load(path)
    print("golden: %s; trainable parameters %d (spec 266,935 + 2K = %d)" % (
        path, R.count_params(), R.SPEC_PARAM_COUNT + 2 * R.N_CLUSTERS))
    check_regeneration(f, x, g, t, P, S)
    check_fd(f, x, g, t, P, S)
    routing = check_maxpool_routing(f, x, g, t, P, S)
    check_tie_invariance(f, x, g, t, P, S)
    if "--no-f32-table" not in sys.argv:
        float32_table(f, x, g, t, P, S, os.path.join(HERE, "f32_vs_f64.md"))
    report_maxima(f, x, g, t, P, S, routing)
    print("all checks passed")


if __name__ == "__main__":
    main()
