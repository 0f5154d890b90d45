// Import of the published TF checkpoints (model/tf_import.h): every tensor of cluster.ckpt must be
// bit-identical to the golden weights (both are the same float32 values; golden README section 3),
// model.ckpt's centroids must be the published README's sanity values, and damaged or mismatching
// bundles must be refused with the offending tensor named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "engine/error.h"
#include "model/tf_import.h"
#include "tests/model/golden.h"
#include "tests/published.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using model::TfTensor;

class TfImport : public testing::Test {
 protected:
  TfImport() {
    model_.declare(store_);
    store_.finalize(ctx_, Device::cpu());
  }
  static ContextOptions cpu_options() {
    ContextOptions o;
    o.device = "cpu";
    return o;
  }
  // The message of the error that importing the published bundle in `dir`, changed by `change`,
  // raises ("" when it is accepted).
  std::string import_error(const std::string& dir,
                           const std::function<void(std::map<std::string, TfTensor>&)>& change) {
    auto bundle = model::read_tf_bundle(dir + "/cluster.ckpt");
    change(bundle);
    return test::error_of([&] { model::import_tf_tensors(ctx_, bundle, model_, store_); });
  }
  Context ctx_{cpu_options()};
  model::UClusterModel model_;
  ParamStore store_;
};

TEST_F(TfImport, NameMapCoversEveryTensorOfTheModel) {
  const auto names = model::tf_name_map(model_);
  EXPECT_EQ(names.size(), 93u);  // 63 trainable + 30 BN statistics (golden README section 3)
  std::int64_t params = 0, buffers = 0;
  for (const auto& m : names) (m.buffer ? buffers : params) += 1;
  EXPECT_EQ(params, 63);
  EXPECT_EQ(buffers, 30);
  EXPECT_EQ(store_.num_params(), model::kReferenceParameterCount);
}

TEST_F(TfImport, PublishedClusterCheckpointEqualsGoldenWeightsExactly) {
  REQUIRE_PUBLISHED();
  const auto bundle = model::read_tf_bundle(dir + "/cluster.ckpt");
  EXPECT_EQ(bundle.size(), 222u);
  const model::TfImportResult r = model::import_tf_tensors(ctx_, bundle, model_, store_);
  EXPECT_EQ(r.params, 63);
  EXPECT_EQ(r.buffers, 30);
  EXPECT_TRUE(r.unknown.empty()) << "first unknown: " << r.unknown.front();
  ASSERT_TRUE(r.global_step.has_value());
  EXPECT_EQ(*r.global_step, 118200);
  EXPECT_TRUE(r.optimizer);
  ASSERT_TRUE(r.beta1_power && r.beta2_power);
  EXPECT_EQ(*r.beta1_power, 0.0);  // 0.9^118200 underflows (published README)
  EXPECT_EQ(*r.beta2_power, 0.0);

  std::vector<std::string> goldens = {test::compact_golden_path()};
  if (!test::full_golden_path().empty()) goldens.push_back(test::full_golden_path());
  for (const std::string& path : goldens) {
    const test::GoldenFile golden(path);
    int compared = 0;
    for (const auto& m : model::tf_name_map(model_)) {
      const Tensor ours = m.buffer ? store_.buffer(m.name) : store_.param(m.name);
      const test::GoldenArray ref = golden.read("weights/" + m.name);
      ASSERT_EQ(ref.numel(), ours.numel()) << path << ": " << m.name;
      const float* v = ours.data<float>();
      std::int64_t mismatches = 0, first = -1;
      for (std::int64_t i = 0; i < ours.numel(); ++i) {
        // Exact: the golden values are the checkpoint's float32 numbers (stored as float64 in the full file).
        if (static_cast<double>(v[i]) != ref.values[i]) {
          if (first < 0) first = i;
          ++mismatches;
        }
      }
      EXPECT_EQ(mismatches, 0) << path << ": " << m.name << " (" << m.tf_name << ") differs at element " << first;
      ++compared;
    }
    EXPECT_EQ(compared, 93) << path;
  }

  // Adam slots land at the parameter's offset of the flat buffer.
  const auto& e = store_.param_entry("agg.W");
  const std::vector<float> m = ctx_.to_vector<float>(r.adam_m), v = ctx_.to_vector<float>(r.adam_v);
  const std::vector<float> tf_m = bundle.at("agg/weights/Adam").as_floats();
  const std::vector<float> tf_v = bundle.at("agg/weights/Adam_1").as_floats();
  ASSERT_EQ(static_cast<std::int64_t>(tf_m.size()), e.shape.numel());
  for (std::size_t i = 0; i < tf_m.size(); ++i) {
    ASSERT_EQ(m[e.offset + i], tf_m[i]) << "Adam m of agg.W at " << i;
    ASSERT_EQ(v[e.offset + i], tf_v[i]) << "Adam v of agg.W at " << i;
  }
}

TEST_F(TfImport, PublishedPretrainingCheckpointHasTheReadmeCentroids) {
  REQUIRE_PUBLISHED();
  const model::TfImportResult r =
      model::import_tf_tensors(ctx_, model::read_tf_bundle(dir + "/model.ckpt"), model_, store_);
  ASSERT_TRUE(r.global_step.has_value());
  EXPECT_EQ(*r.global_step, 12411);  // 21 epochs x 591 steps
  EXPECT_EQ(*r.beta1_power, 0.0);
  EXPECT_NEAR(*r.beta2_power, 4.044921752210939e-06, 1e-15);
  // Sanity values of ../shared/reference/ucluster-published/README.md (5 significant digits).
  const std::vector<float> expected = {0.28169f, 0.21355f, 0.15497f, 0.23676f, 0.42209f,
                                       0.06253f, 0.23617f, 0.66172f, 0.04515f};
  const std::vector<float> mu = ctx_.to_vector<float>(store_.param("mu"));
  ASSERT_EQ(mu.size(), expected.size());
  for (std::size_t i = 0; i < mu.size(); ++i) EXPECT_NEAR(mu[i], expected[i], 5e-6) << "mu element " << i;
}

TEST_F(TfImport, PublishedClusterCheckpointHasTheReadmeSanityValues) {
  REQUIRE_PUBLISHED();
  model::import_tf_tensors(ctx_, model::read_tf_bundle(dir + "/cluster.ckpt"), model_, store_);
  const std::vector<float> mu_ref = {0.15261f, 0.26351f, 0.03133f, 0.14962f, 0.29157f,
                                     0.02107f, 0.13523f, 0.45450f, 0.00881f};
  const std::vector<float> mu = ctx_.to_vector<float>(store_.param("mu"));
  for (std::size_t i = 0; i < mu.size(); ++i) EXPECT_NEAR(mu[i], mu_ref[i], 5e-6) << "mu element " << i;
  const std::vector<float> mean = ctx_.to_vector<float>(store_.buffer("agg.bn_mean"));
  const std::vector<float> var = ctx_.to_vector<float>(store_.buffer("agg.bn_var"));
  const float mean_ref[] = {-2.1335f, 0.0309f, -1.1815f}, var_ref[] = {127.69f, 37.00f, 73.08f};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(mean[i], mean_ref[i], 5e-5) << "agg.bn_mean " << i;
    EXPECT_NEAR(var[i], var_ref[i], 5e-3) << "agg.bn_var " << i;
  }
}

TEST_F(TfImport, CorruptIndexIsAChecksumError) {
  REQUIRE_PUBLISHED();
  std::string tmpl = (std::filesystem::temp_directory_path() / "ucluster-tfimport-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path tmp = tmpl;
  std::filesystem::copy_file(dir + "/cluster.ckpt.data-00000-of-00001", tmp / "c.ckpt.data-00000-of-00001");
  std::ifstream in(dir + "/cluster.ckpt.index", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 1000u);
  bytes[1000] ^= 0x01;  // inside the data block of the table (offset 0, 8421 bytes)
  std::ofstream(tmp / "c.ckpt.index", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  const std::string message = test::error_of([&] { model::read_tf_bundle((tmp / "c.ckpt").string()); });
  EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << "a flipped byte in the index: '" << message << "'";
  std::filesystem::remove_all(tmp);
}

// Synthetic bundles: a published one with one tensor removed, reshaped or added.
TEST_F(TfImport, MissingTensorIsNamed) {
  REQUIRE_PUBLISHED();
  const std::string message = import_error(dir, [](auto& bundle) { bundle.erase("gapnet11/bn/gamma"); });
  EXPECT_NE(message.find("'gapnet11/bn/gamma'"), std::string::npos) << "missing tensor: '" << message << "'";
}

TEST_F(TfImport, WrongShapeIsNamed) {
  REQUIRE_PUBLISHED();
  const std::string message =
      import_error(dir, [](auto& bundle) { bundle.at("fc2/weights").shape = {128, 256}; });  // transposed
  EXPECT_NE(message.find("'fc2/weights'"), std::string::npos) << "wrong shape: '" << message << "'";
  EXPECT_NE(message.find("fc2.W"), std::string::npos) << message;
}

TEST_F(TfImport, PartialAdamSlotsAreAnError) {
  REQUIRE_PUBLISHED();
  const std::string message = import_error(dir, [](auto& bundle) { bundle.erase("fc3/biases/Adam_1"); });
  EXPECT_NE(message.find("fc3/biases"), std::string::npos) << "partial Adam slots: '" << message << "'";
}

TEST_F(TfImport, WithoutSlotsAndStepImportsWeightsOnlyAndReportsUnknownTensors) {
  REQUIRE_PUBLISHED();
  auto all = model::read_tf_bundle(dir + "/cluster.ckpt");
  std::map<std::string, TfTensor> bundle;
  for (const auto& m : model::tf_name_map(model_)) bundle.emplace(m.tf_name, all.at(m.tf_name));
  bundle.emplace("some/extra/tensor", all.at("mu"));
  const model::TfImportResult r = model::import_tf_tensors(ctx_, bundle, model_, store_);
  EXPECT_FALSE(r.optimizer);
  EXPECT_FALSE(r.adam_m.defined());
  EXPECT_FALSE(r.global_step.has_value());
  ASSERT_EQ(r.unknown.size(), 1u);
  EXPECT_EQ(r.unknown[0], "some/extra/tensor");
}

}  // namespace
}  // namespace ucluster
