// InferenceGraph on the CPU: there is no CUDA graph there, run() is the model's inference
// forward, so it must equal a direct forward bit for bit, follow parameters changed in place, and
// reject inputs of the wrong shape naming both shapes. The CUDA graph itself is tested in
// tests/cuda/test_parity_inference_graph.cpp.
#include <cstring>

#include "model/inference_graph.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

// Jets with 12..60 real particles and zero padding, like the preprocessed data.
Tensor jets(Context& ctx, std::int64_t batch, Rng& rng) { return test::random_jets(ctx, batch, rng, 12, 49); }

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.bytes()) == 0;
}

class InferenceGraphCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.declare(store_);
    store_.finalize(ctx_, ctx_.device());
    Rng init(21);
    model_.initialise(ctx_, store_, init);
    // Non-trivial BN moving statistics, so the inference-mode normalisation does something.
    float* buffers = store_.flat_buffers().data<float>();
    for (const ParamStore::Entry& e : store_.buffer_entries()) {
      const bool var = e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, "_var") == 0;
      for (std::int64_t i = 0; i < e.shape.numel(); ++i)
        buffers[e.offset + i] = static_cast<float>(var ? init.uniform(0.5, 2.0) : init.uniform(-0.2, 0.2));
    }
  }

  model::InferenceOutput direct(const Tensor& x) {
    Tape tape(ctx_, false);
    const model::ForwardOutput out = model_.forward(tape, store_, x, model::BatchNormMode::Inference);
    return {out.z->value, out.logits->value};
  }

  Context ctx_{test::cpu_options(3)};
  model::UClusterModel model_;
  ParamStore store_;
  Rng rng_{17};
};

TEST_F(InferenceGraphCpu, EqualsDirectForwardBitForBit) {
  for (std::int64_t batch : {1, 5}) {
    model::InferenceGraph graph(model_, store_, ctx_, batch);
    EXPECT_FALSE(graph.captured());
    EXPECT_EQ(graph.node_count(), 0u);
    EXPECT_EQ(graph.input_shape(), (Shape{batch, 100, 8}));
    for (int rep = 0; rep < 3; ++rep) {
      const Tensor x = jets(ctx_, batch, rng_);
      const model::InferenceOutput got = graph.run(x);
      const model::InferenceOutput want = direct(x);
      EXPECT_EQ(got.z.shape(), (Shape{batch, 3}));
      EXPECT_EQ(got.logits.shape(), (Shape{batch, 20}));
      EXPECT_TRUE(same_bits(got.z, want.z)) << "batch " << batch << ", replay " << rep;
      EXPECT_TRUE(same_bits(got.logits, want.logits)) << "batch " << batch << ", replay " << rep;
    }
  }
}

TEST_F(InferenceGraphCpu, FollowsParametersChangedInPlace) {
  model::InferenceGraph graph(model_, store_, ctx_, 2);
  const Tensor x = jets(ctx_, 2, rng_);
  const Tensor before = ctx_.clone(graph.run(x).logits);
  float* p = store_.flat_params().data<float>();
  for (std::int64_t i = 0; i < store_.num_params(); ++i) p[i] = p[i] * 1.25f + 0.01f;
  const model::InferenceOutput got = graph.run(x);
  const model::InferenceOutput want = direct(x);
  EXPECT_FALSE(same_bits(got.logits, before)) << "changing every parameter should change the logits";
  EXPECT_TRUE(same_bits(got.z, want.z));
  EXPECT_TRUE(same_bits(got.logits, want.logits));
}

TEST_F(InferenceGraphCpu, RejectsBadShapesNamingThem) {
  model::InferenceGraph graph(model_, store_, ctx_, 2);
  const std::string wrong_batch = test::error_of([&] { graph.run(ctx_.zeros({3, 100, 8})); });
  EXPECT_NE(wrong_batch.find("[3,100,8]"), std::string::npos) << wrong_batch;
  EXPECT_NE(wrong_batch.find("[2,100,8]"), std::string::npos) << wrong_batch;
  const std::string wrong_features = test::error_of([&] { graph.run(ctx_.zeros({2, 100, 7})); });
  EXPECT_NE(wrong_features.find("[2,100,7]"), std::string::npos) << wrong_features;
  EXPECT_NE(wrong_features.find("[2,100,8]"), std::string::npos) << wrong_features;
  const std::string wrong_dtype = test::error_of([&] { graph.run(ctx_.zeros({2, 100, 8}, DType::F64)); });
  EXPECT_NE(wrong_dtype.find("float64[2,100,8]"), std::string::npos) << wrong_dtype;
  EXPECT_NE(test::error_of([&] { model::InferenceGraph bad(model_, store_, ctx_, 0); }).find("batch"),
            std::string::npos);
}

}  // namespace
}  // namespace ucluster
