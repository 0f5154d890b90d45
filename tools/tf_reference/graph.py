"""The authors' original UCluster graph (the `.meta` of a published or user-trained TF1 checkpoint),
imported into TensorFlow 2.x (`tf.compat.v1`) unchanged but for two mechanical rewrites:

* batch size: the published graph is built for 512 jets (static shapes). A copy for B jets replaces
  every integer constant, placeholder shape and float32 constant (TF1's Mean gradient stores the
  reduced count as one) that holds the batch size or its product with the 100 points / 10
  neighbours (512, 51,200, 512,000) by the same product for B. Channel counts of the network
  (3, 16, 20, 64, 128, 256, 848) never equal those numbers, and the float constants of those values
  are all `*_grad/Const*` counts, so nothing else changes. The axis-less tf.squeeze calls get the
  axes they drop at 512 jets (at one jet they would drop the batch axis too).
* precision (optional): a float64 copy, every float32 type, reference type and constant converted
  (constants as the shortest decimal that gives the float32 value: 1e-3, not float32(1e-3)).

Weights are read from the checkpoint with TF's own reader and assigned by name, so one loader
serves both precisions. Tensor names are those of the published graph (spec 2, Appendix A).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.python.framework import tensor_util

tf1 = tf.compat.v1

GRAPH_BATCH = 512
POINTS = 100
NEIGHBOURS = 10

# Placeholders and fetches of the published graph (models/gapnet_classify.py, scripts/train_kmeans.py).
INPUT = "Placeholder:0"          # point clouds [B, 100, 8]
MASS_BIN = "Placeholder_1:0"     # focal-loss target [B] int32
IS_TRAINING = "Placeholder_2:0"  # bool: batch statistics + EMA update, or moving statistics
ALPHA = "Placeholder_3:0"        # k-means inverse temperature
LATENT = "Squeeze_9:0"           # z = avgpool(agg) [B, 3]
LOGITS = "Squeeze_8:0"           # fc3 [B, 20]
DISTANCES = "stack:0"            # [3, B], d_bj = sum_c (z_bc - mu_jc)^2
LOSS_FOCAL = "Mean:0"
LOSS_KMEANS = "Mean_1:0"
LOSS_TOTAL = "add_12:0"          # 10 L_km + L_focal (config B)
GLOBAL_STEP = "Variable"
TRAIN_JOINT = "Adam"             # minimises LOSS_TOTAL (scripts/train_kmeans.py, after pre-training)
TRAIN_PRETRAIN = "Adam_1"        # minimises LOSS_FOCAL only (mu gets no gradient)
KNN1_INDICES = "TopKV2:1"
KNN2_INDICES = "TopKV2_1:1"
# What the two kNN graphs rank (spec 2.2): the distances (TopKV2 takes their negatives), the points'
# squared norms in the Gram form |h_i|^2 + |h_j|^2 - 2 h_i.h_j, and the features ranked.
KNN1_DISTANCES, KNN1_NORMS, KNN1_FEATURES = "add_4:0", "Sum:0", "Placeholder:0"
KNN2_DISTANCES, KNN2_NORMS, KNN2_FEATURES = "add_8:0", "Sum_1:0", "Squeeze_4:0"
FLOAT32_EPS = 2.0 ** -23


def _batch_map(batch):
    return {GRAPH_BATCH: batch, GRAPH_BATCH * POINTS: batch * POINTS,
            GRAPH_BATCH * POINTS * NEIGHBOURS: batch * POINTS * NEIGHBOURS}


def _pin_squeezes(graph_def):
    """The authors' tf.squeeze calls name no axis: they drop every size-1 dimension, which for a
    batch of one jet would include the batch. Each gets the axes it drops in the 512-jet graph."""
    reference = tf.Graph()
    with reference.as_default():
        tf1.import_graph_def(graph_def, name="")
    for node in graph_def.node:
        if node.op == "Squeeze" and not node.attr["squeeze_dims"].list.i:
            shape = reference.get_operation_by_name(node.name).inputs[0].shape.as_list()
            axes = [i for i, d in enumerate(shape) if d == 1]
            if axes:
                node.attr["squeeze_dims"].list.i.extend(axes)
            else:  # a squeeze that drops nothing at 512 jets (an empty list would mean "all")
                node.op = "Identity"
                del node.attr["squeeze_dims"]


def _rebatch(graph_def, batch):
    _pin_squeezes(graph_def)
    mapping = _batch_map(batch)
    int_types = (types_pb2.DT_INT32, types_pb2.DT_INT64)
    for node in graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
        if node.op == "Placeholder" and node.attr["shape"].shape.dim:
            for dim in node.attr["shape"].shape.dim:
                dim.size = mapping.get(dim.size, dim.size)
        # TF1's Mean gradient stores the reduced count as a float constant of the loss' type
        if node.op == "Const" and node.attr["dtype"].type in int_types + (types_pb2.DT_FLOAT,):
            value = tensor_util.MakeNdarray(node.attr["value"].tensor)
            new = np.array([mapping.get(v, v) if float(v).is_integer() else v for v in value.ravel().tolist()],
                           value.dtype).reshape(value.shape)
            if not np.array_equal(new, value):
                node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(new, dtype=value.dtype))


def _to_float64(graph_def):
    float_to_double = {types_pb2.DT_FLOAT: types_pb2.DT_DOUBLE, types_pb2.DT_FLOAT_REF: types_pb2.DT_DOUBLE_REF}
    for node in graph_def.node:
        for attr in node.attr.values():
            if attr.HasField("type") and attr.type in float_to_double:
                attr.type = float_to_double[attr.type]
            if attr.HasField("list"):
                for i, t in enumerate(attr.list.type):
                    attr.list.type[i] = float_to_double.get(t, t)
        if node.op == "Const" and node.attr["dtype"].type == types_pb2.DT_DOUBLE:
            tensor = node.attr["value"].tensor
            if tensor.dtype == types_pb2.DT_FLOAT:
                # the shortest decimal that rounds to the float32 constant is what the authors'
                # Python wrote (1e-3, 0.2, 1e-9), not float32(1e-3) widened
                value32 = tensor_util.MakeNdarray(tensor)
                value = np.array([float(str(v)) for v in value32.ravel()], np.float64).reshape(value32.shape)
                tensor.CopyFrom(tensor_util.make_tensor_proto(value, dtype=np.float64))


def checkpoint_prefix(path):
    """A checkpoint prefix from a prefix, a .meta/.index/.data file or a folder with a `checkpoint` file."""
    if os.path.isdir(path):
        state = tf.train.get_checkpoint_state(path)
        if state is None or not state.model_checkpoint_path:
            raise SystemExit(f"tf-reference: {path}: no 'checkpoint' file naming a TF checkpoint in this folder")
        prefix = state.model_checkpoint_path
        return prefix if os.path.isabs(prefix) else os.path.join(path, prefix)
    for suffix in (".meta", ".index", ".data-00000-of-00001"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


class OriginalGraph:
    """One session over a batch-B (and optionally float64) copy of the original graph."""

    def __init__(self, checkpoint, batch, float64=False, threads=0):
        self.prefix = checkpoint_prefix(checkpoint)
        for suffix in (".meta", ".index"):
            if not os.path.exists(self.prefix + suffix):
                raise SystemExit(f"tf-reference: {self.prefix + suffix} not found (a TF1 checkpoint needs "
                                 ".meta, .index and .data-00000-of-00001)")
        self.batch = batch
        self.float64 = float64
        self.dtype = np.float64 if float64 else np.float32
        meta = tf1.MetaGraphDef()
        with open(self.prefix + ".meta", "rb") as f:
            meta.ParseFromString(f.read())
        graph_def = meta.graph_def
        for node in graph_def.node:
            node.device = ""  # the authors pinned ops to /device:GPU:0; let TF place them
        if batch != GRAPH_BATCH:
            _rebatch(graph_def, batch)
        if float64:
            _to_float64(graph_def)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf1.import_graph_def(graph_def, name="")
            self.variables = {op.name: op.outputs[0] for op in self.graph.get_operations() if op.type == "VariableV2"}
            self._value_inputs, self._assigns = {}, []
            for name, ref in self.variables.items():
                ph = tf1.placeholder(ref.dtype.base_dtype, shape=ref.shape, name="load/" + name)
                self._value_inputs[name] = ph
                self._assigns.append(tf1.assign(ref, ph, validate_shape=True))
        config = tf1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1 if threads else 0,
                                allow_soft_placement=True)
        self.session = tf1.Session(graph=self.graph, config=config)
        self._gradient_ops = {}
        self.restore()

    def restore(self, fresh_optimiser=False, global_step=None):
        """Variables from the checkpoint; fresh_optimiser zeroes the Adam moments and sets the beta
        powers to beta1, beta2 (TF1 Adam's initial state); global_step overrides the step counter."""
        reader = tf.train.load_checkpoint(self.prefix)
        stored = reader.get_variable_to_dtype_map()
        feed = {}
        for name, ph in self._value_inputs.items():
            if fresh_optimiser and (name.endswith("/Adam") or name.endswith("/Adam_1")):
                value = np.zeros(ph.shape, ph.dtype.as_numpy_dtype)
            elif fresh_optimiser and name.startswith("beta1_power"):
                value = np.array(0.9, ph.dtype.as_numpy_dtype)
            elif fresh_optimiser and name.startswith("beta2_power"):
                value = np.array(0.999, ph.dtype.as_numpy_dtype)
            elif name == GLOBAL_STEP and global_step is not None:
                value = np.array(global_step, np.int32)
            elif name in stored:
                value = reader.get_tensor(name).astype(ph.dtype.as_numpy_dtype)
            else:
                raise SystemExit(f"tf-reference: {self.prefix}: variable {name} of the graph is not in the checkpoint")
            feed[ph] = value
        self.session.run(self._assigns, feed_dict=feed)

    def feed(self, data, mass_bin=None, training=False, alpha=10.0):
        if data.shape != (self.batch, POINTS, 8):
            raise ValueError(f"batch of shape {data.shape}, the graph takes ({self.batch}, {POINTS}, 8)")
        if mass_bin is None:
            mass_bin = np.zeros(self.batch, np.int32)
        return {INPUT: data.astype(self.dtype), MASS_BIN: mass_bin.astype(np.int32),
                IS_TRAINING: training, ALPHA: self.dtype(alpha)}

    def run(self, fetches, data, mass_bin=None, training=False, alpha=10.0):
        return self.session.run(fetches, feed_dict=self.feed(data, mass_bin, training, alpha))

    def infer(self, data, mass_bin=None, alpha=10.0):
        z, logits, dist, focal, km, total = self.run(
            [LATENT, LOGITS, DISTANCES, LOSS_FOCAL, LOSS_KMEANS, LOSS_TOTAL], data, mass_bin, False, alpha)
        dist = dist.T
        return {"latent": z, "logits": logits, "distances": dist, "cluster": np.argmin(dist, axis=1).astype(np.int32),
                "loss_focal": focal, "loss_km": km, "loss_total": total}

    def values(self, names=None):
        names = names or list(self.variables)
        return dict(zip(names, self.session.run([self.variables[n] for n in names])))

    def train_step(self, data, mass_bin, alpha=10.0, pretrain=False):
        """One optimiser step of the original training loop on this batch (training-mode batch norm,
        EMA update of the moving statistics, Adam). Returns the losses and batch statistics of the
        step's forward pass, under the project's names (LAYER.batch_mean, LAYER.batch_var)."""
        stats = {}
        for layer, scope in LAYER_SCOPES.items():
            if layer != "fc3":
                stats[layer + ".batch_mean"] = f"{scope}/bn/moments/Squeeze:0"
                stats[layer + ".batch_var"] = f"{scope}/bn/moments/Squeeze_1:0"
        fetches = {"loss_focal": LOSS_FOCAL, "loss_km": LOSS_KMEANS, "loss_total": LOSS_TOTAL,
                   "latent": LATENT, "logits": LOGITS, "step": TRAIN_PRETRAIN if pretrain else TRAIN_JOINT}
        fetches.update(stats)
        out = self.run(fetches, data, mass_bin, True, alpha)
        del out["step"]
        return out

    def gradients(self, data, mass_bin, alpha=10.0, pretrain=False):
        """d loss / d every trainable tensor (project names), training-mode forward, no update. Built
        with tf.gradients on the imported graph; it agrees with the stored training op's gradients.
        Like any training-mode forward of this graph it also updates the moving statistics: restore()
        before a step that must start from the checkpoint."""
        key = "focal" if pretrain else "total"
        if key not in self._gradient_ops:
            names = [n for n in TF_NAMES if not n.endswith((".bn_mean", ".bn_var"))]
            with self.graph.as_default():
                loss = self.graph.get_tensor_by_name(LOSS_FOCAL if pretrain else LOSS_TOTAL)
                grads = tf1.gradients(loss, [self.graph.get_tensor_by_name(TF_NAMES[n] + ":0") for n in names])
            self._gradient_ops[key] = {n: g if g is not None else tf1.zeros_like(self.variables[TF_NAMES[n]])
                                       for n, g in zip(names, grads)}
        out = self.run(self._gradient_ops[key], data, mass_bin, True, alpha)
        return {n: g.reshape(g.shape[-2:]) if n.endswith(".W") else g for n, g in out.items()}

    def knn_margin_ulps(self, data, mass_bin=None, training=False, alpha=10.0):
        """Per jet, the smallest safety margin of its kNN sets (both graphs, every row) in "Gram ulps"
        (golden README 2): the gap between the 10th and 11th candidate over
        eps32 (|d10| + |d11| + 2|h_i|^2 + |h_j|^2 + |h_j'|^2), the rounding a float32 implementation
        makes in those distances. Candidates with identical rows (the padding) tie exactly in any
        precision and are not a hazard. A jet with a margin of a few ulps or less can get another
        neighbour set from any float32 implementation, the original graph's own included (check.py
        judges jets at >= 8, the golden data's kNN #1 margin). Run on the float64 copy."""
        fetched = self.run([KNN1_DISTANCES, KNN1_NORMS, KNN1_FEATURES, KNN2_DISTANCES, KNN2_NORMS, KNN2_FEATURES],
                           data, mass_bin, training, alpha)
        margins = np.full(len(data), np.inf)
        for distances, norms, features in (fetched[:3], fetched[3:]):
            norms = norms.reshape(norms.shape[0], -1)
            features = features.reshape(features.shape[0], features.shape[1], -1)
            order = np.argsort(distances, axis=-1, kind="stable")
            d = np.take_along_axis(distances, order[..., NEIGHBOURS - 1:NEIGHBOURS + 1], -1)
            j, j2 = order[..., NEIGHBOURS - 1], order[..., NEIGHBOURS]
            h = lambda idx: np.take_along_axis(norms, idx, -1)
            scale = FLOAT32_EPS * (np.abs(d[..., 0]) + np.abs(d[..., 1]) + 2 * norms + h(j) + h(j2))
            rows = np.arange(features.shape[0])[:, None]
            same = np.all(features[rows, j] == features[rows, j2], axis=-1)
            ulps = np.where(same, np.inf, (d[..., 1] - d[..., 0]) / scale)
            margins = np.minimum(margins, ulps.min(axis=1))
        return margins

    def parameters(self):
        """Every trainable tensor and moving statistic under the project's names (golden README 3),
        dense weights as [Cin, Cout]."""
        values = self.values(list(TF_NAMES.values()))
        return {ours: values[tf_name].reshape(values[tf_name].shape[-2:]) if ours.endswith(".W") else values[tf_name]
                for ours, tf_name in TF_NAMES.items()}


# The project's layer names (golden README 3, model/layers.h) and the scopes of the original graph.
LAYER_SCOPES = {
    "gap0_newfea": "layerfilter0_newfea_conv_head_0", "gap0_edge": "layerfilter0_edgefea_0",
    "gap0_selfatt": "layerfilter0_self_att_conv_head_0", "gap0_neibatt": "layerfilter0_neib_att_conv_head_0",
    "gapnet01": "gapnet01", "gapnet02": "gapnet02",
    "gap1_newfea": "layerfilter1_newfea_conv_head_0", "gap1_edge": "layerfilter1_edgefea_0",
    "gap1_selfatt": "layerfilter1_self_att_conv_head_0", "gap1_neibatt": "layerfilter1_neib_att_conv_head_0",
    "gapnet11": "gapnet11", "gapnet12": "gapnet12", "agg": "agg", "fc1": "fc1", "fc2": "fc2", "fc3": "fc3",
}
NO_BIAS = ("gap0_newfea", "gap1_newfea")


def _tf_names():
    names = {"gap0_out.b": "BiasAdd/biases", "gap1_out.b": "BiasAdd_1/biases", "mu": "mu"}
    for layer, scope in LAYER_SCOPES.items():
        names[layer + ".W"] = scope + "/weights"
        if layer not in NO_BIAS:
            names[layer + ".b"] = scope + "/biases"
        if layer != "fc3":
            names[layer + ".bn_gamma"] = scope + "/bn/gamma"
            names[layer + ".bn_beta"] = scope + "/bn/beta"
            names[layer + ".bn_mean"] = f"{scope}/bn/{scope}/bn/moments/Squeeze/ExponentialMovingAverage"
            names[layer + ".bn_var"] = f"{scope}/bn/{scope}/bn/moments/Squeeze_1/ExponentialMovingAverage"
    return names


TF_NAMES = _tf_names()
