// The UCluster forward pass in inference mode for one jet at a time, with the jet's padding
// compressed into one row (../shared/design/padding-compression.md): a jet of n real particles is
// n + 1 rows (n when n = 100), the last standing for its 100 - n identical padded rows in the kNN
// neighbour lists and the average pool. Nothing here allocates after Network and Scratch are
// built, starts threads or reads process-wide state.
//
// This is the library's own implementation of the forward pass (model::UClusterModel::forward is
// the engine's, for training and the tools); tests/embed holds them to each other, to the golden
// tensors and to `evaluate`. Batch norm runs in inference mode as a per-channel scale and shift,
// with the layer's bias folded into the shift (spec 2.1: bias -> BN -> ReLU), so results match the
// engine's to float rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "embed/src/gemm.h"
#include "embed/src/model_file.h"

namespace ucluster::embed {

// A conv/fc layer ready to run: out = act(in W * scale + shift).
struct DenseLayer {
  PackedWeights w;
  std::vector<float> scale, shift;  // [np]; zero in the padded columns
  bool relu = true;
};

// A layer with one output channel (the attention convs), as a dot product: act(in . w * scale + shift).
struct ScalarLayer {
  std::vector<float> w;
  float scale = 1, shift = 0;
};

// The edge conv's batch norm and ReLU, applied to (W h_i - W h_j): y = relu(d * scale + shift).
struct GapBlock {
  DenseLayer newfea;          // s = relu(bn(h W_new))
  PackedWeights edge;         // P = h W_edge (the bias is folded into edge_shift)
  std::vector<float> edge_scale, edge_shift;
  ScalarLayer selfatt, neibatt;
  std::vector<float> out_bias;  // b_out of o = relu(sum_j alpha_j y_j + b_out)
  std::int64_t width = 0;
};

class Network {
 public:
  explicit Network(const ModelContents& contents);

  const model::ModelDims& dims() const { return dims_; }
  double inverse_temperature() const { return inverse_temperature_; }
  const std::vector<float>& centroids() const { return mu_; }
  const char* gemm_name() const { return gemm_.name; }

  // Rows of a jet's compressed form at most (all real: num_points), rounded up for the GEMM.
  std::int64_t max_rows() const { return round_up(dims_.num_points + 1, kRowBlock); }

  // The prepared layers, read-only (the CUDA session uploads them: cuda_forward.h).
  struct Layers {
    const GapBlock &gap0, &gap1;
    const DenseLayer &gapnet01, &gapnet02, &gapnet11, &gapnet12, &agg, &fc1, &fc2, &fc3;
    float leaky_slope, padding_penalty;
  };
  Layers layers() const {
    return {gap0_, gap1_, gapnet01_, gapnet02_, gapnet11_, gapnet12_, agg_, fc1_, fc2_, fc3_, leaky_slope_,
            padding_penalty_};
  }

 private:
  friend class JetRunner;
  model::ModelDims dims_;
  double inverse_temperature_;
  float leaky_slope_, padding_penalty_;
  GemmImplementation gemm_;
  GapBlock gap0_, gap1_;
  DenseLayer gapnet01_, gapnet02_, gapnet11_, gapnet12_, agg_, fc1_, fc2_, fc3_;
  std::vector<float> mu_;  // [clusters][latent]
};

// What one jet gives.
struct JetResult {
  float z[3];
  float distances[3];
  float logits[20];
  std::int32_t cluster;
};

// The working memory of one jet (one per thread), allocated once.
class JetRunner {
 public:
  explicit JetRunner(const Network& network);

  // features: [num_points][num_features] as prepare-data writes them; n_real: the number of rows
  // up to the last non-zero one (1..num_points); the rows after it must be zero.
  void run(const float* features, int n_real, JetResult& out);

  // Neighbour lists of the last run ([rows][k], compressed row indices), for the tests.
  const std::vector<std::int32_t>& knn1() const { return idx1_; }
  const std::vector<std::int32_t>& knn2() const { return idx2_; }

 private:
  void dense(const DenseLayer& layer, const float* in, std::int64_t ldi, float* out, std::int64_t ldo);
  void gap_block(const GapBlock& block, const float* h, std::int64_t ldh, const std::int32_t* idx, float* o,
                 std::int64_t ldo, float* g, std::int64_t ldg);
  void knn_coordinates();
  void knn_features(const float* h, std::int64_t ldh, std::int64_t channels);
  void select_neighbours(std::int32_t* out);

  const Network& net_;
  std::int64_t k_, rows_ = 0, rows_padded_ = 0, n_real_ = 0, padding_ = 0;
  std::vector<float> in0_, in1_, cat_, s_, p_, a_, y_, alpha_, agg_, fc_in_, fc1_, fc2_, fc3_;
  std::vector<float> dist_, sq_, pen_, top_dist_;
  std::vector<float> features_t_, gram_;  // kNN #2: the features transposed for the GEMM, and h h^T
  std::vector<float> acc_, best_;         // one point's attention sum and maximum
  std::vector<std::int32_t> top_, idx1_, idx2_;
};

}  // namespace ucluster::embed
