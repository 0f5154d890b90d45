// The layer table of the UCluster jet model (spec 2.4): every conv/fc layer with its width and
// whether it has a bias and a batch norm. Parameter names follow the golden data
// (`<layer>.W`, `<layer>.b`, `<layer>.bn_gamma`, `<layer>.bn_beta`; buffers `<layer>.bn_mean`,
// `<layer>.bn_var`), which map one to one onto the TF checkpoint scopes (see tf_names below).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ucluster::model {

struct LayerSpec {
  std::string name;     // our name, e.g. "gap1_edge"
  std::string tf_scope; // TF checkpoint scope, e.g. "layerfilter1_edgefea_0"
  std::int64_t cin = 0, cout = 0;
  bool bias = true;     // "conv2d_nobias" layers (the GAP new-feature convs) have none (spec 2.1)
  bool batch_norm = true;
  bool relu = true;
};

struct ModelDims {
  std::int64_t num_points = 100;   // N
  std::int64_t num_features = 8;   // F
  std::int64_t k = 10;             // neighbours per point
  std::int64_t gap0_width = 16;    // A of the first attention block
  std::int64_t gap1_width = 128;   // A of the second attention block
  std::int64_t latent = 3;         // width of agg = dimension of the embedding z
  std::int64_t num_classes = 20;   // mass-bin logits (spec 1.5: 20 logits, targets 0..18)
  std::int64_t num_clusters = 3;   // k-means centroids
};

// All conv/fc layers in forward order.
std::vector<LayerSpec> layer_table(const ModelDims& dims);

// The attention output biases of the two GAP blocks ("BiasAdd/biases", "BiasAdd_1/biases").
struct ExtraParam {
  std::string name, tf_name;
  std::vector<std::int64_t> shape;
};
std::vector<ExtraParam> extra_params(const ModelDims& dims);

// Every tensor of the model in the order UClusterModel::declare adds them, the order of the flat
// parameter buffer and of a .ucm file's data: per layer W, b, bn_gamma, bn_beta (trainable) and
// bn_mean, bn_var (moving statistics), then the extra parameters (mu).
struct TensorDecl {
  std::string name;
  std::vector<std::int64_t> shape;
  bool trainable;
};
std::vector<TensorDecl> declared_tensors(const ModelDims& dims);

}  // namespace ucluster::model
