// Golden tests of the UCluster model against ../shared/golden (float64 reference; its README,
// sections 2-8, defines every tensor and suggests the tolerances used here). Each test runs on both
// edge paths of the GAP blocks (model/ucluster_model.h EdgePath, suffix _fused / _unfused) and on:
//   compact/tiny, compact/main: tests/data/golden_small.h5 (committed extract, always present);
//   full/tiny, full/main: the full float64 file beside the checkout (skipped, saying so, if absent);
//   cuda_compact_tiny, cuda_full_main: the same on the GPU (skipped, saying so, without one), at the
//   same tolerances: they bound float32 rounding, whatever the summation order.
// Datasets absent from the compact extract are skipped inside a test; the full file has them all.
//
// Tolerances (golden README section 8: ~10x the worst float32-vs-float64 deviation observed for a
// correct float32 engine):
//   inference intermediates, training forward, losses, BN batch statistics: 2e-5 * max|ref|;
//   gradients: 1e-3 * max|ref| per tensor, and 1e-4 absolute for the analytically-zero ones
//     (golden max |g| < 1e-10: gap*_newfea.*, gap*_selfatt.*, biases in front of training BN);
//   Adam fed with the golden gradients: 1e-6 * max(1, max|ref|);
//   BN moving statistics after a step: 2e-5 * max|ref|;
//   end-to-end step parameters: 1e-5 on elements whose golden gradient has |g| >= 1e-4 in every
//     step so far, 2.5e-3 elsewhere (TF1 Adam's first steps are lr * sign(g): float32 noise picks
//     the sign of tiny gradients).
#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>

#include "kernels/adam.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "tests/model/golden.h"
#include "tests/test_support.h"
#include "train/step.h"

namespace ucluster {
namespace model {
// Test names and messages show the edge path by name.
inline void PrintTo(EdgePath path, std::ostream* os) { *os << edge_path_name(path); }
}  // namespace model

namespace {

using model::BatchNormMode;
using model::UClusterModel;
using test::GoldenArray;
using test::GoldenFile;

struct GoldenCase {
  const char* name;
  bool full;           // the full float64 file, else the compact extract
  const char* prefix;  // "" (16 jets, published weights) or "tiny/" (4 jets, random weights)
  bool cuda = false;   // run the model on the GPU (skipped, saying so, without one)
};

using GoldenParam = std::tuple<GoldenCase, model::EdgePath>;

std::string case_name(const testing::TestParamInfo<GoldenParam>& info) {
  return std::string(std::get<0>(info.param).name) + "_" + model::edge_path_name(std::get<1>(info.param));
}
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

// Config B of spec 0.1 as used by the golden data (README section 5).
constexpr double kInverseTemperature = 10.0;
constexpr double kLearningRate = 1e-3;
constexpr double kBnDecay = 0.5;
const model::LossConfig kConfigB{2.0, 1.0, 10.0};

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// |ours - ref| <= atol element-wise; reports the worst element.
void expect_close(const std::string& what, const std::vector<double>& ours, const GoldenArray& ref, double atol) {
  ASSERT_EQ(ours.size(), ref.values.size()) << what << ": element count";
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const double d = std::abs(ours[i] - ref.values[i]);
    if (!(d <= worst)) {  // also catches NaN
      worst = d;
      at = i;
    }
  }
  EXPECT_LE(worst, atol) << what << ": max |ours - ref| = " << worst << " at element " << at << " (ours "
                         << ours[at] << ", ref " << ref.values[at] << "), tolerance " << atol;
}

class Golden : public testing::TestWithParam<GoldenParam> {
 protected:
  void SetUp() override {
    const GoldenCase& c = std::get<0>(GetParam());
    model_ = UClusterModel(model::ModelDims{}, std::get<1>(GetParam()));
    if (c.cuda) {
      std::string why;
      if (cuda_runtime::device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
      ContextOptions o = test::cpu_options();
      o.device = "cuda";
      ctx_ = std::make_unique<Context>(o);
    } else {
      ctx_ = std::make_unique<Context>(test::cpu_options());
    }
    const std::string path = c.full ? test::full_golden_path() : test::compact_golden_path();
    if (path.empty()) GTEST_SKIP() << "full golden file ../shared/golden/ucluster_golden.h5 not present";
    file_ = std::make_unique<GoldenFile>(path);
    prefix_ = c.prefix;
    model_.declare(store_);
    store_.finalize(*ctx_, ctx_->device());
    file_->load_params(*ctx_, store_, prefix_ + "weights", true);
    data_ = ctx_->to(file_->tensor(*ctx_, prefix_ + "input/data"), ctx_->device());
    targets_ = ctx_->to(file_->tensor(*ctx_, prefix_ + "input/mass_bin", DType::I32), ctx_->device());
  }

  bool has(const std::string& name) const { return file_->has(prefix_ + name); }
  GoldenArray ref(const std::string& name) const { return file_->read(prefix_ + name); }

  // Compares a captured tensor with `group/name`; per-edge tensors are put in canonical order first.
  void compare(const std::string& group, const std::string& name, const Tensor& ours, const Tensor& nn_idx) {
    if (!has(group + "/" + name)) return;
    const GoldenArray r = ref(group + "/" + name);
    std::vector<double> v = test::values(*ctx_, ours);
    if (nn_idx.defined() && ours.rank() >= 3 && ours.numel() % nn_idx.numel() == 0 && ours.dim(2) == nn_idx.dim(2))
      v = canonical_edge_order(v, ctx_->to(nn_idx, Device::cpu()), ours.numel() / nn_idx.numel());
    expect_close(group + "/" + name, v, r, 2e-5 * max_abs(r.values));
  }

  // Golden per-edge tensors are stored with neighbours in ascending index order (README section 1).
  std::vector<double> canonical_edge_order(const std::vector<double>& v, const Tensor& idx, std::int64_t width) {
    const std::int64_t rows = idx.numel() / idx.dim(2), k = idx.dim(2);
    const std::int32_t* id = idx.data<std::int32_t>();
    std::vector<double> out(v.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<std::int64_t> order(static_cast<std::size_t>(k));
      for (std::int64_t j = 0; j < k; ++j) order[j] = j;
      std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return id[r * k + a] < id[r * k + b]; });
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t c = 0; c < width; ++c)
          out[(r * k + j) * width + c] = v[(r * k + order[j]) * width + c];
    }
    return out;
  }

  // kNN #1 sets must match exactly; kNN #2 sets modulo the padded-point classes (README section 1).
  void compare_knn(const std::string& group, const Tensor& knn1, const Tensor& knn2) {
    auto sets = [&](const Tensor& idx, const GoldenArray* cls) {
      std::vector<double> v = test::values(*ctx_, idx);
      const std::int64_t n = idx.dim(1), k = idx.dim(2);
      for (std::size_t row = 0; row < v.size() / k; ++row) {
        const std::size_t jet = row / n;
        for (std::int64_t j = 0; j < k; ++j)
          if (cls) v[row * k + j] = cls->values[jet * n + static_cast<std::size_t>(v[row * k + j])];
        std::sort(v.begin() + row * k, v.begin() + (row + 1) * k);
      }
      return v;
    };
    const GoldenArray ref1 = ref(group + "/knn1");
    expect_close(group + "/knn1 (sets)", sets(knn1, nullptr), ref1, 0.0);
    if (has(group + "/knn2") && has(group + "/knn2_class")) {
      const GoldenArray cls = ref(group + "/knn2_class");
      GoldenArray ref2 = ref(group + "/knn2");
      const std::int64_t n = knn2.dim(1), k = knn2.dim(2);
      for (std::size_t row = 0; row < ref2.values.size() / k; ++row) {
        for (std::int64_t j = 0; j < k; ++j) {
          double& x = ref2.values[row * k + j];
          x = cls.values[(row / n) * n + static_cast<std::size_t>(x)];
        }
        std::sort(ref2.values.begin() + row * k, ref2.values.begin() + (row + 1) * k);
      }
      expect_close(group + "/knn2 (sets modulo padding class)", sets(knn2, &cls), ref2, 0.0);
    }
  }

  void compare_loss(const std::string& name, const Var& v) {
    if (!has(name)) return;
    const GoldenArray r = ref(name);
    expect_close(name, test::values(*ctx_, v->value), r, 2e-5 * std::max(1e-12, max_abs(r.values)));
  }

  // A training step of the golden configuration (train/step.h) on the golden batch.
  std::unique_ptr<TrainingStep> training_step(bool joint, model::Capture* capture = nullptr) {
    StepSettings s;
    s.inverse_temperature = kInverseTemperature;
    s.losses = kConfigB;
    s.joint = joint;
    s.learning_rate = kLearningRate;
    s.bn_decay = kBnDecay;
    s.capture = capture;
    return std::make_unique<TrainingStep>(*ctx_, model_, store_, data_, targets_, s);
  }

  void compare_gradients(const std::string& group) {
    for (const auto& e : store_.param_entries()) {
      if (!has(group + "/" + e.name)) continue;
      const GoldenArray r = ref(group + "/" + e.name);
      const double m = max_abs(r.values);
      const double atol = m < 1e-10 ? 1e-4 : 1e-3 * m;
      expect_close(group + "/" + e.name, test::values(*ctx_, store_.grad(e.name)), r, atol);
    }
  }

  // Fills a flat buffer laid out like the parameters from `<group>/<param>` datasets.
  void load_flat(const std::string& group, const Tensor& flat) {
    for (const auto& e : store_.param_entries())
      ctx_->copy(flat.view(e.offset, e.shape), file_->tensor(*ctx_, group + "/" + e.name, store_.dtype()));
  }

  // Elements whose golden gradient is below 1e-4 get the loose end-to-end tolerance from now on.
  void mark_small_gradients(const std::string& group, std::vector<bool>& large_gradient) {
    if (!has(group + "/mu")) return;
    for (const auto& e : store_.param_entries()) {
      const GoldenArray g = ref(group + "/" + e.name);
      for (std::int64_t i = 0; i < g.numel(); ++i)
        if (std::abs(g.values[i]) < 1e-4) large_gradient[e.offset + i] = false;
    }
  }

  // Parameters after a step (1e-5 / 2.5e-3 rule) and BN moving statistics (2e-5 * max|ref|).
  void compare_step_state(const std::string& group, const std::vector<bool>& large_gradient) {
    for (const auto& e : store_.param_entries()) {
      const GoldenArray r = ref(group + "/" + e.name);
      const std::vector<double> ours = test::values(*ctx_, store_.param(e.name));
      double worst = 0;
      for (std::int64_t i = 0; i < r.numel(); ++i) {
        const double tol = large_gradient[e.offset + i] ? 1e-5 : 2.5e-3;
        worst = std::max(worst, std::abs(ours[i] - r.values[i]) / tol);
      }
      EXPECT_LE(worst, 1.0) << group << "/" << e.name << ": worst |ours - ref| / tolerance = " << worst;
    }
    for (const auto& e : store_.buffer_entries()) {
      const GoldenArray r = ref(group + "/" + e.name);
      expect_close(group + "/" + e.name, test::values(*ctx_, store_.buffer(e.name)), r, 2e-5 * max_abs(r.values));
    }
  }

  std::unique_ptr<Context> ctx_;
  UClusterModel model_;
  ParamStore store_;
  std::unique_ptr<GoldenFile> file_;
  std::string prefix_;
  Tensor data_, targets_;
};

TEST(GoldenModel, TrainableParameterCountIsTheReference) {
  UClusterModel model;
  ParamStore store;
  model.declare(store);
  EXPECT_EQ(store.num_params(), model::kReferenceParameterCount);
  EXPECT_EQ(store.param_entries().size(), 63u);   // golden README section 3
  EXPECT_EQ(store.buffer_entries().size(), 30u);
}

TEST_P(Golden, InferenceIntermediatesLossesAndKnnSets) {
  model::Capture capture;
  Tape tape(*ctx_, false);
  model::ForwardOutput out = model_.forward(tape, store_, data_, BatchNormMode::Inference, &capture);
  model::Losses losses = model::compute_losses(tape, out, param_var(store_, "mu"), targets_, kInverseTemperature,
                                               kConfigB, true);
  // The engine runs on packed rows (engine/jet_rows.h); the golden tensors are the reference's
  // [B, N, ...]: every padded point is its jet's padding row.
  const Tensor knn1 = unpack_neighbours(*ctx_, out.knn1, out.rows), knn2 = unpack_neighbours(*ctx_, out.knn2, out.rows);
  compare_knn("infer", knn1, knn2);
  for (const char* block : {"gap0", "gap1"}) {
    const Tensor& idx = std::string(block) == "gap0" ? knn1 : knn2;
    for (const char* t : {".s", ".y", ".a", ".c", ".alpha", ".o", ".g"}) {
      const std::string name = std::string(block) + t;
      compare("infer", name, unpack_rows(*ctx_, capture.at(name), out.rows), idx);
    }
  }
  for (const char* name : {"net01", "net02", "net11", "net12", "agg"})
    compare("infer", name, unpack_rows(*ctx_, capture.at(name), out.rows), Tensor());
  for (const char* name : {"z", "fc1", "fc2", "logits"}) compare("infer", name, capture.at(name), Tensor());
  compare("infer", "dist", losses.distances, Tensor());
  expect_close("infer/cluster", test::values(*ctx_, losses.assignment), ref("infer/cluster"), 0.0);
  compare_loss("infer/loss_focal", losses.focal);
  compare_loss("infer/loss_km", losses.kmeans);
  compare_loss("infer/loss_total", losses.total);
}

TEST_P(Golden, TrainingForwardBatchStatisticsAndGradients) {
  model::Capture capture;
  const std::unique_ptr<TrainingStep> step = training_step(true, &capture);
  step->backward();
  const model::Losses& losses = step->losses();
  const JetRows& rows = step->output().rows;
  compare_knn("train/fwd0", unpack_neighbours(*ctx_, step->output().knn1, rows),
              unpack_neighbours(*ctx_, step->output().knn2, rows));
  for (const auto& [name, t] : capture)
    if (name.find(".batch_") != std::string::npos || name == "z" || name == "logits")
      compare("train/fwd0", name, t, Tensor());
  compare("train/fwd0", "net02", unpack_rows(*ctx_, capture.at("net02"), rows), Tensor());
  compare("train/fwd0", "dist", losses.distances, Tensor());
  compare_loss("train/fwd0/loss_focal", losses.focal);
  compare_loss("train/fwd0/loss_km", losses.kmeans);
  compare_loss("train/fwd0/loss_total", losses.total);
  compare_gradients("train/grad");
}

TEST_P(Golden, AdamFedWithGoldenGradientsReproducesStepOne) {
  if (!has("train/grad/mu") || !has("train/step1/mu")) GTEST_SKIP() << "no golden gradients/step 1 for this case";
  file_->load_params(*ctx_, store_, prefix_ + "train/grad", false);  // params <- gradients, then swap
  ctx_->copy(store_.flat_grads(), store_.flat_params());
  file_->load_params(*ctx_, store_, prefix_ + "weights", false);
  const double lr_t = adam_step_size(kLearningRate, kAdamBeta1, kAdamBeta2, 1);
  // The compact extract stores the reference in float32: allow its rounding (relative 6e-8).
  expect_close("train/step1_lr_t", {lr_t}, ref("train/step1_lr_t"), 1e-7 * lr_t);
  AdamOptimizer optimizer(*ctx_, store_);
  optimizer.update(*ctx_, store_, kLearningRate);
  for (const auto& e : store_.param_entries()) {
    const GoldenArray r = ref("train/step1/" + e.name);
    expect_close("train/step1/" + e.name, test::values(*ctx_, store_.param(e.name)), r,
                 1e-6 * std::max(1.0, max_abs(r.values)));
  }
}

// One training step: forward, backward, Adam, BN moving-average update. Step 1 starts from the
// published (or tiny) weights with a fresh optimiser; step 2 restarts from the golden step-1 state
// (parameters, BN statistics, Adam moments), as the README prescribes for testing it in isolation,
// because step-1 parameters of elements with tiny gradients legitimately differ by up to 2 lr.
TEST_P(Golden, EndToEndTrainingSteps) {
  if (!has("train/step1/mu")) GTEST_SKIP() << "no step-1 parameters in this file (the compact extract has them for tiny/)";
  for (int step = 1; step <= 2; ++step) {
    const std::string group = "train/step" + std::to_string(step);
    if (!has(group + "/mu")) break;
    AdamOptimizer optimizer(*ctx_, store_);
    if (step == 2) {
      if (!has("train/step1_adam_m/mu")) break;
      file_->load_params(*ctx_, store_, prefix_ + "train/step1", true);
      load_flat(prefix_ + "train/step1_adam_m", optimizer.m());
      load_flat(prefix_ + "train/step1_adam_v", optimizer.v());
      optimizer.set_step(1);
    }
    const std::unique_ptr<TrainingStep> train = training_step(true);
    train->backward();
    if (step == 2) {
      compare_loss("train/fwd1/loss_total", train->losses().total);
      compare_gradients("train/grad1");
    }
    std::vector<bool> large_gradient(static_cast<std::size_t>(store_.num_params()), true);
    mark_small_gradients(step == 1 ? "train/grad" : "train/grad1", large_gradient);
    train->apply(optimizer);
    compare_step_state(group, large_gradient);
  }
}

TEST_P(Golden, PretrainingStepLeavesTheCentroidsAlone) {
  if (!has("pretrain/grad/mu")) GTEST_SKIP() << "no pre-training case in this file";
  const std::unique_ptr<TrainingStep> step = training_step(false);
  step->backward();
  compare_loss("pretrain/fwd0/loss_focal", step->losses().focal);
  compare_loss("pretrain/fwd0/loss_km", step->losses().kmeans);
  compare_gradients("pretrain/grad");
  const std::vector<double> mu_before = test::values(*ctx_, store_.param("mu"));
  AdamOptimizer optimizer(*ctx_, store_);
  step->apply(optimizer);  // pre-training: mu frozen
  EXPECT_EQ(test::values(*ctx_, store_.param("mu")), mu_before);
  std::vector<bool> large_gradient(static_cast<std::size_t>(store_.num_params()), true);
  mark_small_gradients("pretrain/grad", large_gradient);
  compare_step_state("pretrain/step1", large_gradient);
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden,
                         testing::Combine(testing::Values(GoldenCase{"compact_tiny", false, "tiny/"},
                                                          GoldenCase{"compact_main", false, ""},
                                                          GoldenCase{"full_tiny", true, "tiny/"},
                                                          GoldenCase{"full_main", true, ""},
                                                          GoldenCase{"cuda_compact_tiny", false, "tiny/", true},
                                                          GoldenCase{"cuda_compact_main", false, "", true},
                                                          GoldenCase{"cuda_full_main", true, "", true}),
                                          testing::Values(model::EdgePath::Fused, model::EdgePath::Unfused)),
                         case_name);

}  // namespace
}  // namespace ucluster
