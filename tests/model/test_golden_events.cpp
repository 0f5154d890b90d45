// Golden tests of the event model (the anomaly-detection variant, ucluster-ad-spec.md 2) against
// tests/data/ad_golden.h5: an independent float64 PyTorch reference of the spec (tools/ad-golden,
// its README defines every dataset and derives the tolerances). Six events of 100, 83, 47, 20, 11
// and 8 real particles, K = 2, gamma 2, alpha 10, alpha_km 30. Each test runs in float32 and in
// float64 and on both edge paths of the GAP blocks, and in float32 on the GPU (skipped, saying so,
// without one).
//
// Tolerances (tools/ad-golden/README.md section 4: the same reference run in float32 deviates by
// at most 3.8e-6 * max|ref| in the forward, 5.7e-7 in the losses and 1.36e-4 * layer scale in the
// gradients; the tolerances are about 10x those):
//   float32: forward tensors, BN batch statistics, losses 5e-5 * max|ref|; gradients 2e-3 * the
//            layer's largest golden gradient, 1e-4 absolute for the analytically-zero ones;
//   float64: the engine's float64 path differs from the reference only in summation order:
//            1e-10 * max|ref| forward, 1e-8 * layer scale for the gradients.
// Large weight gradients are stored for a subset of their rows (grad_rows/<name>).
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <tuple>

#include "model/losses.h"
#include "model/ucluster_model.h"
#include "tests/model/golden.h"
#include "tests/test_support.h"
#include "train/step.h"

namespace ucluster {
namespace {

using model::BatchNormMode;
using model::UClusterModel;
using test::GoldenArray;
using test::GoldenFile;

// (dtype, edge path, on the GPU: skipped, saying so, without one).
using EventGoldenParam = std::tuple<DType, model::EdgePath, bool>;

std::string event_case_name(const testing::TestParamInfo<EventGoldenParam>& info) {
  return std::string(std::get<2>(info.param) ? "cuda_" : "") + std::string(dtype_name(std::get<0>(info.param))) + "_" +
         model::edge_path_name(std::get<1>(info.param));
}

std::string ad_golden_path() { return std::string(UCLUSTER_SOURCE_DIR) + "/tests/data/ad_golden.h5"; }

constexpr double kAlphaKm = 30.0;
constexpr int kClusters = 2;

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

void expect_close(const std::string& what, const std::vector<double>& ours, const std::vector<double>& ref,
                  double atol) {
  ASSERT_EQ(ours.size(), ref.size()) << what << ": element count";
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const double d = std::abs(ours[i] - ref[i]);
    if (!(d <= worst)) {  // also catches NaN
      worst = d;
      at = i;
    }
  }
  EXPECT_LE(worst, atol) << what << ": max |ours - ref| = " << worst << " at element " << at << " (ours " << ours[at]
                         << ", ref " << ref[at] << "), tolerance " << atol;
}

class EventGolden : public testing::TestWithParam<EventGoldenParam> {
 protected:
  void SetUp() override {
    dtype_ = std::get<0>(GetParam());
    model_ = UClusterModel(model::event_model_dims(kClusters), std::get<1>(GetParam()));
    ContextOptions options = test::cpu_options();
    if (std::get<2>(GetParam())) {
      std::string why;
      if (cuda_runtime::device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
      options.device = "cuda";
    }
    ctx_ = std::make_unique<Context>(options);
    file_ = std::make_unique<GoldenFile>(ad_golden_path());
    store_ = std::make_unique<ParamStore>(dtype_);
    model_.declare(*store_);
    store_->finalize(*ctx_, ctx_->device());
    file_->load_params(*ctx_, *store_, "weights", true);
    batch_ = pack_jets(*ctx_, file_->tensor(*ctx_, "input/data", dtype_), ctx_->device());
    batch_.globals = ctx_->to(file_->tensor(*ctx_, "input/global", dtype_), ctx_->device());
    const Tensor targets = file_->tensor(*ctx_, "input/target_bin", DType::I32);
    targets_ = pack_point_values(*ctx_, targets.data<std::int32_t>(), batch_.rows, ctx_->device());
  }

  bool f64() const { return dtype_ == DType::F64; }
  double forward_tolerance() const { return f64() ? 1e-10 : 5e-5; }
  double gradient_tolerance() const { return f64() ? 1e-8 : 2e-3; }

  // A per-point capture [R, C] is compared as the reference's [B, N, C]; others as they are.
  void compare(const std::string& name, const Tensor& ours, bool per_point) {
    const GoldenArray r = file_->read(name);
    const Tensor t = per_point ? unpack_rows(*ctx_, ours, batch_.rows) : ours;
    expect_close(name, test::values(*ctx_, t), r.values, forward_tolerance() * std::max(1e-12, max_abs(r.values)));
  }

  // kNN #1 sets exactly; kNN #2 sets modulo the padded-point classes (jet golden README section 1).
  void compare_knn(const std::string& group, const model::ForwardOutput& out) {
    const Tensor knn1 = unpack_neighbours(*ctx_, out.knn1, out.rows), knn2 = unpack_neighbours(*ctx_, out.knn2, out.rows);
    const std::int64_t n = knn1.dim(1), k = knn1.dim(2);
    auto sets = [&](std::vector<double> v, const GoldenArray* cls) {
      for (std::size_t row = 0; row < v.size() / k; ++row) {
        for (std::int64_t j = 0; j < k; ++j)
          if (cls) v[row * k + j] = cls->values[(row / n) * n + static_cast<std::size_t>(v[row * k + j])];
        std::sort(v.begin() + row * k, v.begin() + (row + 1) * k);
      }
      return v;
    };
    expect_close(group + "/knn1 (sets)", sets(test::values(*ctx_, knn1), nullptr),
                 sets(file_->read(group + "/knn1").values, nullptr), 0.0);
    const GoldenArray cls = file_->read(group + "/knn2_class");
    expect_close(group + "/knn2 (sets modulo padding class)", sets(test::values(*ctx_, knn2), &cls),
                 sets(file_->read(group + "/knn2").values, &cls), 0.0);
  }

  model::Losses losses(Tape& tape, const model::ForwardOutput& out, PointFocalReduction reduction, bool joint) {
    model::LossConfig config{2.0, 10.0, 1.0, reduction};
    return model::compute_losses(tape, out, param_var(*store_, "mu"), targets_, kAlphaKm, config, joint);
  }

  void compare_loss(const std::string& name, const Var& v) {
    const GoldenArray r = file_->read(name);
    expect_close(name, test::values(*ctx_, v->value), r.values, forward_tolerance() * std::abs(r.values.at(0)));
  }

  // Our gradient of `name`, restricted to the reference's stored rows when it keeps a subset.
  std::vector<double> our_gradient(const std::string& name) {
    std::vector<double> g = test::values(*ctx_, store_->grad(name));
    if (!file_->has("grad_rows/" + name)) return g;
    const std::int64_t cols = store_->grad(name).dim(1);
    std::vector<double> rows;
    for (double r : file_->read("grad_rows/" + name).values)
      rows.insert(rows.end(), g.begin() + std::int64_t(r) * cols, g.begin() + (std::int64_t(r) + 1) * cols);
    return rows;
  }

  // Every trainable tensor against <group>/<name>, scaled by its layer's largest golden gradient.
  void compare_gradients(const std::string& group, bool with_mu) {
    std::map<std::string, double> layer_scale;
    auto layer_of = [](const std::string& name) { return name.substr(0, name.find('.')); };
    for (const auto& e : store_->param_entries())
      if (file_->has(group + "/" + e.name))
        layer_scale[layer_of(e.name)] =
            std::max(layer_scale[layer_of(e.name)], max_abs(file_->read(group + "/" + e.name).values));
    int compared = 0;
    for (const auto& e : store_->param_entries()) {
      if (e.name == "mu" && !with_mu) {
        EXPECT_EQ(max_abs(test::values(*ctx_, store_->grad("mu"))), 0.0) << "pre-training must leave mu alone";
        continue;
      }
      const GoldenArray r = file_->read(group + "/" + e.name);
      const double scale = layer_scale[layer_of(e.name)];
      const double atol = max_abs(r.values) == 0.0 ? (f64() ? 1e-10 : 1e-4) : gradient_tolerance() * scale;
      expect_close(group + "/" + e.name, our_gradient(e.name), r.values, atol);
      ++compared;
    }
    EXPECT_EQ(compared, static_cast<int>(store_->param_entries().size()) - (with_mu ? 0 : 1));
  }

  // One training-mode forward, the losses of `reduction` (joint: + the clustering loss) and their
  // backward into the store's gradients.
  void backward(PointFocalReduction reduction, bool joint) {
    Tape tape(*ctx_);
    const model::ForwardOutput out = model_.forward(tape, *store_, batch_, BatchNormMode::Train);
    const model::Losses l = losses(tape, out, reduction, joint);
    store_->zero_grad(*ctx_);
    tape.backward(l.total);
  }

  DType dtype_ = DType::F32;
  std::unique_ptr<Context> ctx_;
  UClusterModel model_;
  std::unique_ptr<ParamStore> store_;
  std::unique_ptr<GoldenFile> file_;
  JetBatch batch_;
  Tensor targets_;
};

TEST(EventGoldenModel, TrainableParameterCountIsTheSpecs) {
  // ucluster-ad-spec.md 2.1: 266,935 + 2K.
  ParamStore store;
  UClusterModel(model::event_model_dims(kClusters)).declare(store);
  Context ctx(test::cpu_options());
  store.finalize(ctx, Device::cpu());
  EXPECT_EQ(store.num_params(), 266935 + 2 * kClusters);
}

TEST(EventGoldenModel, SegmentationHeadMovingVarianceStartsAtOne) {
  // batch_norm_dist_template: pop_var starts at 1 (ucluster-ad-spec.md 2.1), every other BN at 0.
  Context ctx(test::cpu_options());
  UClusterModel m(model::event_model_dims(kClusters));
  ParamStore store;
  m.declare(store);
  store.finalize(ctx, Device::cpu());
  Rng rng(3);
  m.initialise(ctx, store, rng);
  for (const char* layer : {"seg_conv2", "seg_conv4"})
    EXPECT_EQ(max_abs(test::values(ctx, store.buffer(std::string(layer) + ".bn_var"))), 1.0) << layer;
  EXPECT_EQ(max_abs(test::values(ctx, store.buffer("agg.bn_var"))), 0.0);
  EXPECT_EQ(max_abs(test::values(ctx, store.buffer("global_expand.bn_var"))), 0.0);
}

TEST_P(EventGolden, InferenceIntermediatesLossesAndKnnSets) {
  Tape tape(*ctx_, false);
  model::Capture capture;
  const model::ForwardOutput out = model_.forward(tape, *store_, batch_, BatchNormMode::Inference, &capture);
  compare_knn("infer", out);
  for (const char* name : {"gap0.o", "gap0.g", "net01", "net02", "net11", "net12", "global16", "agg", "seg_conv2",
                           "seg_conv4", "logits"})
    compare(std::string("infer/") + name, capture.at(name), true);
  compare("infer/z", out.z->value, false);
  const model::Losses per_point = losses(tape, out, PointFocalReduction::PerPoint, true);
  compare("infer/distances", per_point.distances, false);
  compare_loss("infer/focal_per_point", per_point.focal);
  compare_loss("infer/kmeans", per_point.kmeans);
  compare_loss("infer/focal_max_points", losses(tape, out, PointFocalReduction::MaxOverPoints, true).focal);
}

TEST_P(EventGolden, TrainingForwardBatchStatisticsAndLosses) {
  Tape tape(*ctx_, false);
  model::Capture capture;
  const model::ForwardOutput out = model_.forward(tape, *store_, batch_, BatchNormMode::Train, &capture);
  compare_knn("train", out);
  compare("train/agg", capture.at("agg"), true);
  compare("train/logits", capture.at("logits"), true);
  compare("train/z", out.z->value, false);
  int layers = 0;
  for (const model::BatchStats& s : out.batch_stats) {
    compare("train/" + s.layer + ".batch_mean", s.mean, false);
    compare("train/" + s.layer + ".batch_var", s.var, false);
    ++layers;
  }
  EXPECT_EQ(layers, 16) << "every BN layer of the event model records its batch statistics";
  const model::Losses joint = losses(tape, out, PointFocalReduction::PerPoint, true);
  compare("train/distances", joint.distances, false);
  compare_loss("train/focal_per_point", joint.focal);
  compare_loss("train/kmeans", joint.kmeans);
  compare_loss("train/focal_max_points", losses(tape, out, PointFocalReduction::MaxOverPoints, true).focal);
}

TEST_P(EventGolden, PretrainingGradientsWithTheOriginalMaxOverPoints) {
  backward(PointFocalReduction::MaxOverPoints, false);
  compare_gradients("grad_pretrain_max_points", false);
}

TEST_P(EventGolden, PretrainingGradientsWithTheMeanOverPoints) {
  backward(PointFocalReduction::PerPoint, false);
  compare_gradients("grad_pretrain_per_point", false);
}

TEST_P(EventGolden, JointGradientsIncludingTheCentroids) {
  backward(PointFocalReduction::PerPoint, true);
  compare_gradients("grad_joint", true);
}

INSTANTIATE_TEST_SUITE_P(Cases, EventGolden,
                         testing::Combine(testing::Values(DType::F32, DType::F64),
                                          testing::Values(model::EdgePath::Fused, model::EdgePath::Unfused),
                                          testing::Values(false)),
                         event_case_name);
// The CUDA kernels take float32 only.
INSTANTIATE_TEST_SUITE_P(Cuda, EventGolden,
                         testing::Combine(testing::Values(DType::F32),
                                          testing::Values(model::EdgePath::Fused, model::EdgePath::Unfused),
                                          testing::Values(true)),
                         event_case_name);

}  // namespace
}  // namespace ucluster
