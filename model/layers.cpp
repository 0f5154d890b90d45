#include "model/layers.h"

namespace ucluster::model {

std::vector<LayerSpec> layer_table(const ModelDims& d) {
  const std::int64_t f = d.num_features, a0 = d.gap0_width, a1 = d.gap1_width;
  const std::int64_t net01 = 64, net02 = 128, net11 = 256, net12 = 256, fc1 = 256, fc2 = 128;
  // Concatenation of spec 2.4 row 21: net01, net02, net11, net12, g0, g1.
  const std::int64_t concat = net01 + net02 + net11 + net12 + a0 + a1;
  return {
      {"gap0_newfea", "layerfilter0_newfea_conv_head_0", f, a0, false, true, true},
      {"gap0_edge", "layerfilter0_edgefea_0", f, a0, true, true, true},
      {"gap0_selfatt", "layerfilter0_self_att_conv_head_0", a0, 1, true, true, true},
      {"gap0_neibatt", "layerfilter0_neib_att_conv_head_0", a0, 1, true, true, true},
      {"gapnet01", "gapnet01", f + a0, net01, true, true, true},
      {"gapnet02", "gapnet02", net01, net02, true, true, true},
      {"gap1_newfea", "layerfilter1_newfea_conv_head_0", net02, a1, false, true, true},
      {"gap1_edge", "layerfilter1_edgefea_0", net02, a1, true, true, true},
      {"gap1_selfatt", "layerfilter1_self_att_conv_head_0", a1, 1, true, true, true},
      {"gap1_neibatt", "layerfilter1_neib_att_conv_head_0", a1, 1, true, true, true},
      {"gapnet11", "gapnet11", f + a1, net11, true, true, true},
      {"gapnet12", "gapnet12", net11, net12, true, true, true},
      {"agg", "agg", concat, d.latent, true, true, true},
      {"fc1", "fc1", d.latent, fc1, true, true, true},
      {"fc2", "fc2", fc1, fc2, true, true, true},
      {"fc3", "fc3", fc2, d.num_classes, true, false, false},
  };
}

std::vector<ExtraParam> extra_params(const ModelDims& d) {
  return {
      {"gap0_out.b", "BiasAdd/biases", {d.gap0_width}},
      {"gap1_out.b", "BiasAdd_1/biases", {d.gap1_width}},
      {"mu", "mu", {d.num_clusters, d.latent}},
  };
}

}  // namespace ucluster::model
