// InferenceGraph on the GPU: the captured CUDA graph replays the inference forward.
// Replays must equal a direct (un-captured) inference forward on the same context bit for bit: the
// same kernels run on the same data, only launched from a graph (same device, same cuBLAS
// configuration, one active stream at a time), so nothing may differ. Also: replays follow
// parameters and BN statistics changed in place, and wrong input shapes throw naming both shapes.
// (Named test_parity_* so the glob of tests/cuda/CMakeLists.txt puts it into test_cuda_parity.)
#include "model/inference_graph.h"
#include "tests/cuda/parity_support.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

class InferenceGraphCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    UCLUSTER_REQUIRE_CUDA();
    ContextOptions o;
    o.device = "cuda";
    o.seed = 606;
    o.log = [](const std::string&) {};
    ctx_ = std::make_unique<Context>(o);
    model_.declare(store_);
    store_.finalize(*ctx_, ctx_->device());
    Rng init(21);
    model_.initialise(*ctx_, store_, init);
    // Non-trivial BN moving statistics, so the inference-mode normalisation does something.
    Tensor buffers = ctx_->empty(store_.flat_buffers().shape(), DType::F32, Device::cpu());
    for (const ParamStore::Entry& e : store_.buffer_entries()) {
      const bool var = e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, "_var") == 0;
      for (std::int64_t i = 0; i < e.shape.numel(); ++i)
        buffers.data<float>()[e.offset + i] =
            static_cast<float>(var ? init.uniform(0.5, 2.0) : init.uniform(-0.2, 0.2));
    }
    ctx_->copy(store_.flat_buffers(), buffers);
  }
  void TearDown() override { ctx_.reset(); }

  Context& ctx() { return *ctx_; }

  // Jets with 12..60 real particles and zero padding, on the CPU.
  Tensor jets(std::int64_t batch) {
    Tensor t = ctx().zeros({batch, 100, 8}, DType::F32, Device::cpu());
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t n = 12 + static_cast<std::int64_t>(rng_.below(49));
      for (std::int64_t i = 0; i < n; ++i)
        for (int f = 0; f < 8; ++f) t.data<float>()[(b * 100 + i) * 8 + f] = static_cast<float>(rng_.uniform(-2, 2));
    }
    return t;
  }

  // The un-captured inference forward on the caller's context.
  model::InferenceOutput direct(const Tensor& x_cpu) {
    Tape tape(ctx(), false);
    const model::ForwardOutput out =
        model_.forward(tape, store_, pack_jets(ctx(), x_cpu, ctx().device()), model::BatchNormMode::Inference);
    return {out.z->value, out.logits->value};
  }

  void expect_same(const model::InferenceOutput& got, const model::InferenceOutput& want, const std::string& what) {
    EXPECT_EQ(got.z.device(), ctx().device()) << what;
    UCLUSTER_EXPECT_SAME_BITS(ctx(), what + ": z", got.z, want.z);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), what + ": logits", got.logits, want.logits);
  }

  std::unique_ptr<Context> ctx_;
  model::UClusterModel model_;
  ParamStore store_;
  Rng rng_{17};
};

// Two graphs alive at once (batch 1 and 8), each replayed 3 times with new jets; odd replays take
// the jets from a device tensor just queued on the caller's stream (so the replay must wait for it).
TEST_F(InferenceGraphCuda, ReplaysEqualDirectForwardBatch1And8) {
  model::InferenceGraph one(model_, store_, ctx(), 1);
  model::InferenceGraph eight(model_, store_, ctx(), 8);
  ASSERT_TRUE(one.captured());
  ASSERT_TRUE(eight.captured());
  EXPECT_GT(one.node_count(), 0u);
  parity::record("graph_nodes_batch1", std::to_string(one.node_count()));
  for (int rep = 0; rep < 3; ++rep) {
    for (model::InferenceGraph* g : {&one, &eight}) {
      const std::int64_t batch = g->input_shape()[0];
      const Tensor x = jets(batch);
      const Tensor input = rep % 2 == 1 ? ctx().to(x, ctx().device()) : x;
      const model::InferenceOutput got = g->run(input);
      ASSERT_EQ(got.z.shape(), (Shape{batch, 3}));
      ASSERT_EQ(got.logits.shape(), (Shape{batch, 20}));
      expect_same(got, direct(x), "batch " + std::to_string(batch) + ", replay " + std::to_string(rep) +
                                      (rep % 2 == 1 ? " (device input)" : " (host input)"));
    }
  }
}

// Parameters and BN statistics are read in place: after rewriting them (queued on the caller's
// stream, no host synchronisation) the next replay equals the direct forward with the new values.
TEST_F(InferenceGraphCuda, ReplayFollowsParametersChangedInPlace) {
  model::InferenceGraph graph(model_, store_, ctx(), 4);
  const Tensor x = jets(4);
  const Tensor before = ctx().to(graph.run(x).logits, Device::cpu());

  std::vector<float> p = ctx().to_vector<float>(store_.flat_params());
  for (float& v : p) v = v * 1.25f + 0.01f;
  std::vector<float> b = ctx().to_vector<float>(store_.flat_buffers());
  for (float& v : b) v *= 1.5f;
  ctx().copy(store_.flat_params(), ctx().from_vector<float>(store_.flat_params().shape(), p, Device::cpu()));
  ctx().copy(store_.flat_buffers(), ctx().from_vector<float>(store_.flat_buffers().shape(), b, Device::cpu()));

  const model::InferenceOutput got = graph.run(x);
  EXPECT_FALSE(parity::same_bits(ctx(), got.logits, before)) << "changing every parameter should change the logits";
  expect_same(got, direct(x), "after the in-place parameter change");
}

TEST_F(InferenceGraphCuda, RejectsBadShapesNamingThem) {
  model::InferenceGraph graph(model_, store_, ctx(), 2);
  const std::string wrong_batch =
      test::error_of([&] { graph.run(ctx().zeros({3, 100, 8}, DType::F32, Device::cpu())); });
  EXPECT_NE(wrong_batch.find("[3,100,8]"), std::string::npos) << wrong_batch;
  EXPECT_NE(wrong_batch.find("[2,100,8]"), std::string::npos) << wrong_batch;
  const std::string wrong_features = test::error_of([&] { graph.run(ctx().zeros({2, 100, 7})); });
  EXPECT_NE(wrong_features.find("[2,100,7]"), std::string::npos) << wrong_features;
  EXPECT_NE(wrong_features.find("[2,100,8]"), std::string::npos) << wrong_features;
  // The graph still works after rejecting bad inputs.
  const Tensor x = jets(2);
  expect_same(graph.run(x), direct(x), "after the rejected inputs");
}

}  // namespace
}  // namespace ucluster
