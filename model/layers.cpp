#include "model/layers.h"

namespace ucluster::model {

namespace {

// The four convs of GAP block `block` (spec 2.3) on `cin` input channels with `width` attention
// channels: new features (no bias), edge features, self and neighbour attention.
void append_gap_block(std::vector<LayerSpec>& table, int block, std::int64_t cin, std::int64_t width) {
  const std::string ours = "gap" + std::to_string(block), tf = "layerfilter" + std::to_string(block);
  table.push_back({ours + "_newfea", tf + "_newfea_conv_head_0", cin, width, false, true, true});
  table.push_back({ours + "_edge", tf + "_edgefea_0", cin, width, true, true, true});
  table.push_back({ours + "_selfatt", tf + "_self_att_conv_head_0", width, 1, true, true, true});
  table.push_back({ours + "_neibatt", tf + "_neib_att_conv_head_0", width, 1, true, true, true});
}

}  // namespace

ModelDims event_model_dims(std::int64_t clusters) {
  ModelDims d;
  d.num_features = 7;
  d.latent = 2;
  d.num_classes = 21;
  d.num_clusters = clusters;
  d.variant = ModelVariant::Events;
  d.num_globals = 4;
  return d;
}

std::vector<LayerSpec> layer_table(const ModelDims& d) {
  const std::int64_t f = d.num_features, a0 = d.gap0_width, a1 = d.gap1_width;
  const std::int64_t net01 = 64, net02 = 128, net11 = 256, net12 = 256, fc1 = 256, fc2 = 128;
  const bool events = d.variant == ModelVariant::Events;
  const std::int64_t global16 = events ? 16 : 0;
  // Concatenation of spec 2.4 row 21: net01, net02, net11, net12, g0, g1; the event model adds the
  // expanded globals after net12 (ucluster-ad-spec.md 2.2 row 12: 864 channels).
  const std::int64_t concat = net01 + net02 + net11 + net12 + global16 + a0 + a1;
  std::vector<LayerSpec> table;
  append_gap_block(table, 0, f, a0);
  table.push_back({"gapnet01", "gapnet01", f + a0, net01, true, true, true});
  table.push_back({"gapnet02", "gapnet02", net01, net02, true, true, true});
  append_gap_block(table, 1, net02, a1);
  table.push_back({"gapnet11", "gapnet11", f + a1, net11, true, true, true});
  table.push_back({"gapnet12", "gapnet12", net11, net12, true, true, true});
  if (events) table.push_back({"global_expand", "global_expand", d.num_globals, global16, true, true, true});
  table.push_back({"agg", "agg", concat, d.latent, true, true, true});
  if (events) {
    // The per-point head of gapnet_seg.py (ucluster-ad-spec.md 2.2 rows 15-18): [z, net01, net11].
    table.push_back({"seg_conv2", "seg/conv2", d.latent + net01 + net11, 256, true, true, true, true});
    table.push_back({"seg_conv4", "seg/conv4", 256, 128, true, true, true, true});
    table.push_back({"seg_conv5", "seg/conv5", 128, d.num_classes, true, false, false});
    return table;
  }
  table.push_back({"fc1", "fc1", d.latent, fc1, true, true, true});
  table.push_back({"fc2", "fc2", fc1, fc2, true, true, true});
  table.push_back({"fc3", "fc3", fc2, d.num_classes, true, false, false});
  return table;
}

std::vector<ExtraParam> extra_params(const ModelDims& d) {
  return {
      {"gap0_out.b", "BiasAdd/biases", {d.gap0_width}},
      {"gap1_out.b", "BiasAdd_1/biases", {d.gap1_width}},
      {"mu", "mu", {d.num_clusters, d.latent}},
  };
}

std::vector<TensorDecl> declared_tensors(const ModelDims& d) {
  std::vector<TensorDecl> out;
  for (const LayerSpec& l : layer_table(d)) {
    out.push_back({l.name + ".W", {l.cin, l.cout}, true});
    if (l.bias) out.push_back({l.name + ".b", {l.cout}, true});
    if (l.batch_norm) {
      out.push_back({l.name + ".bn_gamma", {l.cout}, true});
      out.push_back({l.name + ".bn_beta", {l.cout}, true});
      out.push_back({l.name + ".bn_mean", {l.cout}, false});
      out.push_back({l.name + ".bn_var", {l.cout}, false});
    }
  }
  for (const ExtraParam& p : extra_params(d)) out.push_back({p.name, p.shape, true});
  return out;
}

}  // namespace ucluster::model
