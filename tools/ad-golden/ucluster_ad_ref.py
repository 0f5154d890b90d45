#!/usr/bin/python3
"""UCluster anomaly-detection ("event", gapnet_seg) model: float64 PyTorch reference.

Independent reference of the forward pass, the losses and their gradients of the AD variant
described in shared/design/ucluster-ad-spec.md §2 (layer table §2.2, losses §2.3). Everything the
AD model shares with the jet model (kNN with the padding flag and the 1000 penalty, the 2π φ
correction, the GAP attention layer, conv/BN conventions, ε = 1e-3, k-means loss) follows
shared/design/ucluster-spec.md §2-3.

The building blocks marked "from ucluster_ref.py" are copied (and trimmed) from the jet-model
reference shared/peers/pytorch/ucluster_ref.py; the AD-specific parts (global branch, 864-wide
concat, 2-wide agg, max pool with TF's single-location gradient, per-point head, the two focal
forms) are new here.

Plain functions over dicts of tensors, so every intermediate is visible. Works in float64 (the
golden data) and float32 (used only to measure float32-vs-float64 differences).

Parameter naming (the C++ side uses exactly these)
--------------------------------------------------
Every 1x1 conv L has  L.W [Cin, Cout] (y = x @ W + b),  L.b [Cout] (absent for the two `newfea`
convs),  L.bn_gamma / L.bn_beta [Cout] (trainable) and L.bn_mean / L.bn_var [Cout] (BN moving
statistics, buffers) for the layers with BN (all but seg_conv5). Extra: gap0_out.b [16],
gap1_out.b [128] (attention output biases, TF `BiasAdd/biases`, `BiasAdd_1/biases`), mu [K, 2].
"""
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------
# constants (AD spec §2.1-2.3; jet spec §2.1-2.2)
# --------------------------------------------------------------------------------------------
N_POINTS = 100
N_FEAT = 7            # AD spec §1.3: 7 features per particle, feature 2 = ln(pT/pT_J) = padding flag
N_GLOBAL = 4          # [ln m_J1, τ21(J1), ln m_J2, τ21(J2)]
K_NN = 10
N_CLASSES = 21        # AD spec §1.4: mass bins 1..20 + class 0 (padding)
LATENT = 2            # agg width = z dimension
N_CLUSTERS = 2        # --n_clusters default
BN_EPS = 1e-3
LEAKY_SLOPE = 0.2
PAD_PENALTY = 1000.0
FOCAL_EPS = 1e-9
FOCAL_GAMMA = 2.0     # AD spec §2.3
FOCAL_ALPHA = 10.0

# name, Cin, Cout, has_bias, has_bn       (AD spec §2.2 layer table; GAP flags as the jet model)
LAYERS = [
    ("gap0_newfea", N_FEAT, 16, False, True),      # conv2d_nobias -> BN -> ReLU
    ("gap0_edge", N_FEAT, 16, True, True),
    ("gap0_selfatt", 16, 1, True, True),
    ("gap0_neibatt", 16, 1, True, True),
    ("gapnet01", N_FEAT + 16, 64, True, True),      # 23 -> 64
    ("gapnet02", 64, 128, True, True),
    ("gap1_newfea", 128, 128, False, True),
    ("gap1_edge", 128, 128, True, True),
    ("gap1_selfatt", 128, 1, True, True),
    ("gap1_neibatt", 128, 1, True, True),
    ("gapnet11", N_FEAT + 128, 256, True, True),    # 135 -> 256
    ("gapnet12", 256, 256, True, True),
    ("global_expand", N_GLOBAL, 16, True, True),    # globals tiled to every point
    ("agg", 864, LATENT, True, True),               # 64+128+256+256+16+16+128
    ("seg_conv2", 322, 256, True, True),            # BN "dist" template: same maths in a forward
    ("seg_conv4", 256, 128, True, True),
    ("seg_conv5", 128, N_CLASSES, True, False),     # logits: no BN, no ReLU
]
LAYER_INFO = {l[0]: l for l in LAYERS}
BN_LAYERS = [l[0] for l in LAYERS if l[4]]
SPEC_PARAM_COUNT = 266935          # AD spec §2.1 / §2.2, network without mu


def param_shapes(n_clusters=N_CLUSTERS):
    """OrderedDict name -> shape of all trainable tensors (266,935 + 2K numbers)."""
    d = OrderedDict()
    for name, cin, cout, has_b, has_bn in LAYERS:
        d[name + ".W"] = (cin, cout)
        if has_b:
            d[name + ".b"] = (cout,)
        if has_bn:
            d[name + ".bn_gamma"] = (cout,)
            d[name + ".bn_beta"] = (cout,)
    d["gap0_out.b"] = (16,)
    d["gap1_out.b"] = (128,)
    d["mu"] = (n_clusters, LATENT)
    return d


def stat_shapes():
    """OrderedDict name -> shape of the BN moving statistics (buffers, not trainable)."""
    d = OrderedDict()
    for name, _, cout, _, has_bn in LAYERS:
        if has_bn:
            d[name + ".bn_mean"] = (cout,)
            d[name + ".bn_var"] = (cout,)
    return d


def count_params(n_clusters=N_CLUSTERS):
    return int(sum(int(np.prod(s)) for s in param_shapes(n_clusters).values()))


# --------------------------------------------------------------------------------------------
# kNN graphs (jet spec §2.2) -- from ucluster_ref.py
# --------------------------------------------------------------------------------------------
def _topk_stable(D, k):
    """indices of the k smallest entries of the last axis, ties -> lower index first
    (= tf.nn.top_k(-D, k), sorted)."""
    return torch.sort(D, dim=-1, stable=True).indices[..., :k]


def pairwise_distance_r(pc):
    """tf_util.pairwise_distanceR on features (0, 1) with pad flag 2, in the same op order:
    Gram form + φ correction (fires only when |Δφ_i − Δφ_j| ≥ 2π) + 1000 per padded end."""
    pt = pc[:, :, 2:3]                                        # [B,N,1]
    shift = PAD_PENALTY * (pt == 0).to(pc.dtype)              # [B,N,1]
    x = pc[:, :, :2]
    phi = x[:, :, 1]
    dphi = torch.abs(phi.unsqueeze(1) - phi.unsqueeze(2))     # [B,N,N]
    corr = torch.where(dphi >= 2 * math.pi, 4 * math.pi ** 2 - 4 * math.pi * dphi, dphi - dphi)
    inner = -2 * torch.matmul(x, x.transpose(1, 2))
    sq = (x * x).sum(-1, keepdim=True)
    return sq + inner + sq.transpose(1, 2) + corr + shift + shift.transpose(1, 2)


def pairwise_distance(h):
    """tf_util.pairwise_distance: |h_i|² − 2 h_i·h_j + |h_j|², no mask."""
    inner = -2 * torch.matmul(h, h.transpose(1, 2))
    sq = (h * h).sum(-1, keepdim=True)
    return sq + inner + sq.transpose(1, 2)


def knn1(pc, k=K_NN):
    with torch.no_grad():
        return _topk_stable(pairwise_distance_r(pc.detach()), k)


def knn2(h, k=K_NN):
    with torch.no_grad():
        return _topk_stable(pairwise_distance(h.detach()), k)


def gather_neighbors(h, idx):
    """h [B,N,C], idx [B,N,k] -> [B,N,k,C]"""
    bidx = torch.arange(h.shape[0], device=h.device).view(-1, 1, 1)
    return h[bidx, idx]


def canonical(idx):
    """neighbour rows in ascending index order (golden convention, shared/golden/README.md §1)."""
    return torch.sort(idx, dim=-1).values


def padded_class(x):
    """[B,N] class of each point for kNN #2 comparisons: padded points (feature 2 == 0) -> first
    padded index of the event, real points -> own index (shared/golden/README.md §1)."""
    B, N = x.shape[0], x.shape[1]
    cls = torch.arange(N).repeat(B, 1)
    pad = (x[:, :, 2] == 0)
    for b in range(B):
        p = torch.nonzero(pad[b]).flatten()
        if len(p):
            cls[b, p] = int(p[0])
    return cls


# --------------------------------------------------------------------------------------------
# max reductions with TF's gradient rules (AD spec §2.2 "Gradient routing", §2.3)
# --------------------------------------------------------------------------------------------
def first_argmax(x, dim):
    """index of the FIRST maximum along dim (ascending index), written out explicitly."""
    m = torch.amax(x, dim=dim, keepdim=True)
    n = x.shape[dim]
    shape = [1] * x.dim()
    shape[dim] = n
    ar = torch.arange(n, device=x.device).view(shape).expand_as(x)
    return torch.where(x == m, ar, torch.full_like(ar, n)).amin(dim=dim)


class MaxPoolFirst(torch.autograd.Function):
    """tf.nn.max_pool over the points axis: value = max; gradient goes to ONE location per
    (event, channel), the first index of the maximum (TF MaxPoolGrad)."""

    @staticmethod
    def forward(ctx, x):                      # x [B,N,C] -> [B,C]
        idx = first_argmax(x, 1)              # [B,C]
        ctx.save_for_backward(idx)
        ctx.n = x.shape[1]
        return torch.gather(x, 1, idx.unsqueeze(1)).squeeze(1)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        gx = torch.zeros(g.shape[0], ctx.n, g.shape[1], dtype=g.dtype, device=g.device)
        gx.scatter_(1, idx.unsqueeze(1), g.unsqueeze(1))
        return gx


class ReduceMaxTiesSplit(torch.autograd.Function):
    """tf.reduce_max: gradient split equally among the entries EXACTLY equal to the max
    (TF: indicators = equal(x, max); grad * indicators / sum(indicators))."""

    @staticmethod
    def forward(ctx, x, dim):
        m = torch.amax(x, dim=dim, keepdim=True)
        ind = (x == m).to(x.dtype)
        ctx.save_for_backward(ind / ind.sum(dim=dim, keepdim=True))
        ctx.dim = dim
        return m.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g.unsqueeze(ctx.dim) * w, None


def maxpool_first(x):
    return MaxPoolFirst.apply(x)


def reduce_max_ties_split(x, dim):
    return ReduceMaxTiesSplit.apply(x, dim)


# --------------------------------------------------------------------------------------------
# network (jet spec §2.1, §2.3; AD spec §2.2)
# --------------------------------------------------------------------------------------------
class Net:
    """Per-call context of one forward pass: params P, BN buffers S, mode, recorded tensors."""

    def __init__(self, P, S, training, rec=None, trace=None):
        self.P, self.S, self.training = P, S, training
        self.rec = rec
        self.trace = trace          # list: the "activation pattern" (ReLU signs, max selections)
        self.batch_stats = OrderedDict()

    def _t(self, t):
        """record a discrete choice (used by the finite-difference check to avoid kinks)."""
        if self.trace is not None:
            self.trace.append(t.detach().clone())

    def _r(self, key, t):
        if self.rec is not None:
            self.rec[key] = t

    def bn(self, x, layer):
        """tf_util.batch_norm_template / batch_norm_dist_template (identical maths in a forward):
        training: moments over all axes but the channel (biased variance, tf.nn.moments with
        stop_gradient on the shift); inference: moving stats. y = x*inv + (beta − mean*inv),
        inv = rsqrt(var + 1e-3)*gamma (tf.nn.batch_normalization). From ucluster_ref.py."""
        gamma, beta = self.P[layer + ".bn_gamma"], self.P[layer + ".bn_beta"]
        if self.training:
            dims = tuple(range(x.dim() - 1))
            mean = x.mean(dim=dims)
            var = ((x - mean.detach()) ** 2).mean(dim=dims)
            self.batch_stats[layer] = (mean.detach(), var.detach())
        else:
            mean, var = self.S[layer + ".bn_mean"], self.S[layer + ".bn_var"]
        inv = torch.rsqrt(var + BN_EPS) * gamma
        return x * inv + (beta - mean * inv)

    def dense(self, x, layer, act=True):
        """conv1x1: x @ W [+ b] [-> BN] [-> ReLU] (jet spec §2.1: bias before BN)."""
        _, _, _, has_b, has_bn = LAYER_INFO[layer]
        y = torch.matmul(x, self.P[layer + ".W"])
        if has_b:
            y = y + self.P[layer + ".b"]
        if has_bn:
            y = self.bn(y, layer)
        if act:
            self._t(y > 0)
            self._r("pre:" + layer, y)
        return F.relu(y) if act else y

    def gap(self, h, idx, blk):
        """gat_layers.attn_feature (one head) + gap_block's max over k (jet spec §2.3).
        From ucluster_ref.py ('diff' edge mode). Returns (o [B,N,A], g [B,N,A])."""
        p = "gap%d" % blk
        s = self.dense(h, p + "_newfea")                                  # [B,N,A]
        e = h.unsqueeze(2) - gather_neighbors(h, idx)                      # x_i − x_j [B,N,k,C]
        y = self.dense(e, p + "_edge")                                     # [B,N,k,A]
        a = self.dense(s, p + "_selfatt")                                  # [B,N,1]
        c = self.dense(y, p + "_neibatt")                                  # [B,N,k,1]
        alpha = torch.softmax(F.leaky_relu(a.unsqueeze(2) + c, LEAKY_SLOPE), dim=2)
        pre_o = torch.matmul(alpha.transpose(2, 3), y).squeeze(2) + self.P[p + "_out.b"]
        self._t(pre_o > 0)
        self._r("pre:" + p + ".o", pre_o)
        o = F.relu(pre_o)
        g = reduce_max_ties_split(y, 2)                                    # max over k, ties split
        self._t(y == g.unsqueeze(2))
        self._r(p + ".o", o)
        self._r(p + ".g", g)
        return o, g

    def forward(self, x, glob, idx1=None, idx2=None):
        """x [B,N,7], glob [B,4] -> (z [B,2], logits [B,N,21]). AD spec §2.2 rows 1-18.
        idx1/idx2 override the kNN graphs (used by the finite-difference checks)."""
        B, N = x.shape[0], x.shape[1]
        idx1 = knn1(x) if idx1 is None else idx1                           # row 1
        self._r("knn1", idx1)
        o0, g0 = self.gap(x, idx1, 0)                                      # row 2
        net01 = self.dense(torch.cat([x, o0], -1), "gapnet01")             # rows 3-4
        net02 = self.dense(net01, "gapnet02")                              # row 5
        idx2 = knn2(net02) if idx2 is None else idx2                       # row 6
        self._r("knn2", idx2)
        o1, g1 = self.gap(net02, idx2, 1)                                  # row 7
        net11 = self.dense(torch.cat([x, o1], -1), "gapnet11")             # rows 8-9
        net12 = self.dense(net11, "gapnet12")                              # row 10
        glob16 = self.dense(glob.unsqueeze(1).expand(B, N, N_GLOBAL), "global_expand")   # row 11
        agg = self.dense(torch.cat([net01, net02, net11, net12, glob16, g0, g1], -1), "agg")  # 12-13
        z = maxpool_first(agg)                                             # row 14, padding included
        self._t(first_argmax(agg, 1))
        zt = z.unsqueeze(1).expand(B, N, LATENT)
        seg2 = self.dense(torch.cat([zt, net01, net11], -1), "seg_conv2")  # rows 15-16
        seg4 = self.dense(seg2, "seg_conv4")                               # row 17
        logits = self.dense(seg4, "seg_conv5", act=False)                  # row 18
        for key, t in (("net01", net01), ("net02", net02), ("net11", net11), ("net12", net12),
                       ("global16", glob16), ("agg", agg), ("z", z), ("seg_conv2", seg2),
                       ("seg_conv4", seg4), ("logits", logits)):
            self._r(key, t)
        return z, logits


def forward(P, S, x, glob, training, rec=None, idx1=None, idx2=None, trace=None):
    """Functional forward. Returns (z, logits, batch_stats {layer: (mean, var)} in training).
    trace: optional list that receives the discrete choices (ReLU signs, max selections)."""
    net = Net(P, S, training, rec, trace)
    z, logits = net.forward(x, glob, idx1, idx2)
    return z, logits, net.batch_stats


# --------------------------------------------------------------------------------------------
# losses (AD spec §2.3; jet spec §3.2)
# --------------------------------------------------------------------------------------------
def focal_terms(logits, target, gamma=FOCAL_GAMMA, alpha=FOCAL_ALPHA):
    """fl[b,n,c] = α·[t==c]·(1−q)^γ·(−ln q), q = softmax_c(logits) + 1e-9 (get_focal_loss)."""
    y = F.one_hot(target.long(), logits.shape[-1]).to(logits.dtype)
    q = torch.softmax(logits, dim=-1) + FOCAL_EPS
    return alpha * (y * torch.pow(1.0 - q, gamma)) * (y * (-torch.log(q)))


def focal_max_points(logits, target, gamma=FOCAL_GAMMA, alpha=FOCAL_ALPHA):
    """Original form (quirk Q11): reduce_max over the POINTS (ties split equally), then the mean
    over B×21:  L = (1/(21·B)) Σ_b Σ_c max_n fl[b,n,c]."""
    return reduce_max_ties_split(focal_terms(logits, target, gamma, alpha), 1).mean()


def focal_per_point(logits, target, gamma=FOCAL_GAMMA, alpha=FOCAL_ALPHA):
    """Intended form: max over CLASSES (= fl at the target), mean over all B×100 points,
    padding included:  L = (1/(B·100)) Σ_b Σ_n max_c fl[b,n,c]."""
    return reduce_max_ties_split(focal_terms(logits, target, gamma, alpha), 2).mean()


def kmeans_distances(z, mu):
    """f_func for every centroid: d[b,j] = Σ_c (z[b,c] − mu[j,c])²  -> [B,K] (from ucluster_ref.py)"""
    return torch.stack([((z - mu[j].reshape(1, -1)) ** 2).sum(dim=1) for j in range(mu.shape[0])], dim=1)


def kmeans_loss(z, mu, alpha):
    """get_loss_kmeans (jet spec §3.2), min-stabilised soft k-means. Returns (L_km, d [B,K]).
    From ucluster_ref.py."""
    d = kmeans_distances(z, mu)
    m = torch.amin(d, dim=1, keepdim=True)
    e = torch.exp(-alpha * (d - m))
    w = e / e.sum(dim=1, keepdim=True)
    return (d * w).sum(dim=1).mean(), d


def kmeans_weights(d, alpha):
    """soft assignment w[b,j] = softmax_j(−α d[b,j]) (for reporting)."""
    return torch.softmax(-alpha * d, dim=1)


LOSSES = ("pretrain_max_points", "pretrain_per_point", "joint")


def loss_value(kind, logits, target, z, mu, alpha_km):
    """pretrain_*: focal only (mu gets no gradient); joint: L_km + focal per_point (β = 1)."""
    if kind == "pretrain_max_points":
        return focal_max_points(logits, target)
    if kind == "pretrain_per_point":
        return focal_per_point(logits, target)
    if kind == "joint":
        return kmeans_loss(z, mu, alpha_km)[0] + focal_per_point(logits, target)
    raise ValueError(kind)


def gradients(P, S, x, glob, target, kind, alpha_km, idx1=None, idx2=None):
    """Training-mode forward + backward. Returns (loss, OrderedDict name -> grad) over the
    trainable tensors; mu is left out for the focal-only losses (TF: its gradient is None)."""
    Pg = OrderedDict((n, t.detach().clone().requires_grad_(True)) for n, t in P.items())
    z, logits, _ = forward(Pg, S, x, glob, True, idx1=idx1, idx2=idx2)
    L = loss_value(kind, logits, target, z, Pg["mu"], alpha_km)
    names = [n for n in Pg if not (n == "mu" and kind != "joint")]
    gl = torch.autograd.grad(L, [Pg[n] for n in names], allow_unused=True)
    grads = OrderedDict((n, (g.detach() if g is not None else torch.zeros_like(Pg[n])))
                        for n, g in zip(names, gl))
    return L.detach(), grads
