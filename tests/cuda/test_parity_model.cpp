// Model-level CUDA-vs-CPU parity: one training forward and backward of the whole UCluster model
// (spec 2.4, losses of spec 3 in the joint phase) on both backends from the same parameters and jets.
//
// Tolerances: the golden README (section 8) observed a correct float32 engine within 4.9e-6 *
// max|ref| of the float64 reference for every forward tensor and within 1.4e-4 * max|ref| for every
// non-zero gradient tensor, and suggests 2e-5 * max|ref| and 1e-3 * max|ref| (about 10x that).
// Two float32 engines are each that close to float64, so we compare GPU against CPU per tensor with
//   forward tensors (intermediates, z, logits, losses, BN batch statistics):  2e-5 * max|cpu|
//   gradients:                                                                 1e-3 * max|cpu|
//   analytically-zero gradients (dead self-attention branch, biases in front
//   of training-mode BN, README section 8): float32 noise, atol                1e-4
// Gradients of this random draw: the max over neighbours and the ReLUs route gradients by
// comparisons, and a comparison between values equal to within float32 rounding may go the other
// way on the other backend, moving a gradient contribution to another edge (measured on an H200:
// 32 of the 16,384 elements of gap1_edge.W, 2 % off each, all others inside the bound). Such flips
// cannot be bounded element-wise, so a gradient tensor passes when at most 1 % of its elements are
// outside the element-wise bound AND its relative L2 error ||gpu - cpu|| / ||cpu|| is at most 1e-3
// (float32 arithmetic lands far below 1e-3). The golden tests on the GPU (tests/model, data built
// with safety margins around every such decision) bound every gradient element.
// kNN #1 depends only on the (identical) input: its sets must match exactly. kNN #2 is computed
// from float32 features that differ in the last bits between backends, so a row whose 10th and
// 11th distances are closer than that noise may swap a neighbour; when that happens the tensors
// downstream of it are not comparable and the test says so (skips) after checking what is upstream.
#include <algorithm>
#include <cmath>

#include "engine/jet_rows.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

constexpr double kForwardRelative = 2e-5;
constexpr double kGradientRelative = 1e-3;
constexpr double kZeroGradientAbsolute = 1e-4;
constexpr double kFlipFraction = 0.01;
constexpr double kGradientNormRelative = 1e-3;

struct Side {
  ParamStore store;
  model::Capture capture;
  Tensor total, focal, kmeans, z, logits, knn1, knn2;
};

// Parameterised over the GAP blocks' edge path (model/ucluster_model.h): both run on the GPU.
class ModelParity : public parity::CudaParity, public ::testing::WithParamInterface<model::EdgePath> {
 protected:
  void SetUp() override {
    parity::CudaParity::SetUp();
    if (mode_ == parity::StandIn::Cpu64)
      GTEST_SKIP() << "the model runs in float32 only; f64 stand-in not applicable";
    net_ = model::UClusterModel(model::ModelDims{}, GetParam());
  }

  void run(Side& side, Device device, const Tensor& data, const Tensor& targets) {
    net_.declare(side.store);
    side.store.finalize(ctx(), device);
    Rng init(4242);
    net_.initialise(ctx(), side.store, init);
    Rng mu_rng(77);
    std::vector<float> mu(9);
    for (auto& v : mu) v = static_cast<float>(mu_rng.uniform(0.0, 1.0));
    ctx().copy(side.store.param("mu"), ctx().from_vector<float>({3, 3}, mu, Device::cpu()));
    Tape tape(ctx());
    // Packed rows (engine/jet_rows.h): the model runs on the jets' real points and padding rows.
    const model::ForwardOutput out = net_.forward(tape, side.store, pack_jets(ctx(), data, device),
                                                  model::BatchNormMode::Train, &side.capture);
    const model::Losses losses = model::compute_losses(tape, out, param_var(side.store, "mu"), ctx().to(targets, device),
                                                       10.0, model::LossConfig{}, true);
    side.store.zero_grad(ctx());
    tape.backward(losses.total);
    side.total = losses.total->value;
    side.focal = losses.focal->value;
    side.kmeans = losses.kmeans->value;
    side.z = out.z->value;
    side.logits = out.logits->value;
    side.knn1 = out.knn1;
    side.knn2 = out.knn2;
  }

  void expect_forward(const std::string& what, const Tensor& gpu, const Tensor& cpu) {
    const std::vector<double> c = values(cpu);
    double mx = 0;
    for (double v : c) mx = std::max(mx, std::abs(v));
    UCLUSTER_EXPECT_PARITY(ctx(), what, gpu, cpu, std::vector<double>(c.size(), kForwardRelative * mx));
  }

  // Rows of [B, N, k] index tensors whose neighbour sets differ.
  std::int64_t differing_rows(const Tensor& a, const Tensor& b, std::int64_t k) {
    std::vector<std::int32_t> va = ctx().to_vector<std::int32_t>(a), vb = ctx().to_vector<std::int32_t>(b);
    std::int64_t n = 0;
    for (std::size_t r = 0; r * k < va.size(); ++r) {
      std::sort(va.begin() + r * k, va.begin() + (r + 1) * k);
      std::sort(vb.begin() + r * k, vb.begin() + (r + 1) * k);
      if (!std::equal(va.begin() + r * k, va.begin() + (r + 1) * k, vb.begin() + r * k)) ++n;
    }
    return n;
  }

  bool analytically_zero_gradient(const std::string& name) const {
    for (const char* dead : {"gap0_newfea.", "gap1_newfea.", "gap0_selfatt.", "gap1_selfatt."})
      if (name.rfind(dead, 0) == 0) return true;
    for (const model::LayerSpec& l : net_.layers())
      if (l.bias && l.batch_norm && name == l.name + ".b") return true;
    return false;
  }

  model::UClusterModel net_;
};

TEST_P(ModelParity, TrainingForwardAndGradientsB8) {
  const std::int64_t B = 8, k = net_.dims().k;
  const Tensor data = jets(B, 100, 8, {100, 64, 31, 17, 9, 3});
  std::vector<std::int32_t> t(B);
  for (auto& v : t) v = static_cast<std::int32_t>(ctx().rng().below(19));
  const Tensor targets = ctx().from_vector<std::int32_t>({B}, t, Device::cpu());
  Side cpu, gpu;
  run(cpu, Device::cpu(), data, targets);
  run(gpu, gpu_device(), data, targets);

  EXPECT_EQ(differing_rows(gpu.knn1, cpu.knn1, k), 0) << "kNN #1 neighbour sets differ";
  // Upstream of kNN #2: GAP block 0, gapnet01, gapnet02 (spec 2.4 rows 1-11).
  for (const auto& [name, t_cpu] : cpu.capture) {
    const bool upstream = name.rfind("gap0", 0) == 0 || name.rfind("gapnet0", 0) == 0;
    if (upstream && t_cpu.dtype() == DType::F32 && gpu.capture.count(name))
      expect_forward(name, gpu.capture.at(name), t_cpu);
  }
  const std::int64_t swapped = differing_rows(gpu.knn2, cpu.knn2, k);
  parity::record("knn2_rows_with_different_sets", std::to_string(swapped));
  if (swapped > 0)
    GTEST_SKIP() << "kNN #2 sets differ in " << swapped << " of " << B * 100
                 << " rows (near-tied 10th/11th distances under float32 noise); downstream tensors not comparable "
                    "for this draw (upstream tensors and kNN #1 were checked)";

  for (const auto& [name, t_cpu] : cpu.capture)
    if (t_cpu.dtype() == DType::F32 && gpu.capture.count(name)) expect_forward(name, gpu.capture.at(name), t_cpu);
  expect_forward("z", gpu.z, cpu.z);
  expect_forward("logits", gpu.logits, cpu.logits);
  expect_forward("total loss", gpu.total, cpu.total);
  expect_forward("focal loss", gpu.focal, cpu.focal);
  expect_forward("kmeans loss", gpu.kmeans, cpu.kmeans);

  for (const ParamStore::Entry& e : cpu.store.param_entries()) {
    const Tensor g_cpu = cpu.store.grad(e.name), g_gpu = gpu.store.grad(e.name);
    const std::vector<double> c = values(g_cpu);
    double mx = 0;
    for (double v : c) mx = std::max(mx, std::abs(v));
    const double atol = analytically_zero_gradient(e.name) ? kZeroGradientAbsolute : kGradientRelative * mx;
    const std::vector<double> g = values(g_gpu);
    ASSERT_EQ(g.size(), c.size());
    std::size_t outside = 0;
    double diff2 = 0, ref2 = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      const double d = g[i] - c[i];
      if (!(std::abs(d) <= atol)) ++outside;
      diff2 += d * d;
      ref2 += c[i] * c[i];
    }
    EXPECT_LE(double(outside), kFlipFraction * double(c.size()))
        << "gradient " << e.name << ": " << outside << " of " << c.size() << " elements outside |gpu - cpu| <= " << atol;
    if (!analytically_zero_gradient(e.name)) {
      EXPECT_LE(std::sqrt(diff2), kGradientNormRelative * std::sqrt(ref2))
          << "gradient " << e.name << ": relative L2 error " << std::sqrt(diff2 / std::max(ref2, 1e-300));
    }
    parity::record("gradient_" + e.name + "_outside_fraction", std::to_string(double(outside) / double(c.size())));
  }
}

INSTANTIATE_TEST_SUITE_P(EdgePaths, ModelParity, ::testing::Values(model::EdgePath::Fused, model::EdgePath::Unfused),
                         [](const ::testing::TestParamInfo<model::EdgePath>& info) {
                           return std::string(model::edge_path_name(info.param));
                         });

}  // namespace
}  // namespace ucluster
