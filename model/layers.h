// The layer tables of the UCluster jet model (spec 2.4) and its event variant (ucluster-ad-spec.md 2.2): every conv/fc layer with its width and
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
  // The moving variance starts at 1 instead of 0: the event model's seg/conv2 and seg/conv4 use
  // tf_util's batch_norm_dist_template (ucluster-ad-spec.md 2.1, "head BN").
  bool moving_var_starts_at_one = false;
};

// Jets: the W/Z/top jet model (spec 2.4). Events: the anomaly-detection variant of
// shared/design/ucluster-ad-spec.md section 2 (gapnet_seg.py): event globals joined before the
// aggregation, a 2-d latent from a MAX pool, and a per-particle mass-bin head of 21 classes.
enum class ModelVariant { Jets, Events };

struct ModelDims {
  std::int64_t num_points = 100;   // N
  std::int64_t num_features = 8;   // F
  std::int64_t k = 10;             // neighbours per point
  std::int64_t gap0_width = 16;    // A of the first attention block
  std::int64_t gap1_width = 128;   // A of the second attention block
  std::int64_t latent = 3;         // width of agg = dimension of the embedding z
  std::int64_t num_classes = 20;   // mass-bin logits (spec 1.5: 20 logits, targets 0..18)
  std::int64_t num_clusters = 3;   // k-means centroids
  ModelVariant variant = ModelVariant::Jets;
  std::int64_t num_globals = 0;    // per-event inputs (events: ln m_J1, tau21 J1, ln m_J2, tau21 J2)
};

// The event model of ucluster-ad-spec.md 2.2: F = 7, G = 4, latent 2, 21 classes, `clusters` centroids.
ModelDims event_model_dims(std::int64_t clusters);

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
