// evaluate end to end: a short training run on toy jets (the train executable), then evaluate on
// its test split must (a) write every output dataset with the right shape, (b) print accuracies
// that equal those recomputed from the written clusters and truth, and (c) reproduce exactly the
// test metrics the trainer logged for the same weights (same batches, inference-mode BN).
// Bad inputs fail with a message and leave no output file.
#include <cmath>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "io/h5.h"
#include "io/ucluster_file.h"
#include "model/ucluster_model.h"
#include "tests/tools/tool_test_util.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/hungarian.h"

namespace ucluster {
namespace {

using test::quote;
using test::run_tool;

const std::string kEvaluate = UCLUSTER_EVALUATE;
const std::string kTrain = UCLUSTER_TRAIN;

template <typename T>
std::vector<T> read_all(const h5::File& f, const std::string& name, const h5::Dims& expected_shape) {
  const h5::Dataset ds = f.open_dataset(name);
  EXPECT_EQ(ds.shape(), expected_shape) << name;
  std::int64_t n = 1;
  for (auto d : ds.shape()) n *= d;
  std::vector<T> v(static_cast<std::size_t>(n));
  ds.read(v.data());
  return v;
}

// A small UCluster-layout file with random (finite) jets.
void write_random_jets(const std::string& path, std::int64_t n, int particles) {
  Rng rng(7);
  std::vector<float> data(static_cast<std::size_t>(n * particles * 8)), mass(n), global(n * 4, 0.0f);
  std::vector<std::int32_t> pid(n), truth(n);
  for (auto& x : data) x = static_cast<float>(rng.uniform() - 0.5);
  for (std::int64_t i = 0; i < n; ++i) {
    truth[i] = static_cast<std::int32_t>(i % 3);
    pid[i] = static_cast<std::int32_t>(i % 19);
    mass[i] = 50.0f + float(i);
  }
  jets::UclusterWriter w(path, n, particles);
  w.write(0, n, data.data(), pid.data(), truth.data(), mass.data(), global.data());
  w.close();
}

TEST(EvaluateTool, ReproducesTheTrainersTestMetricsOnToyJets) {
  test::ScratchDir tmp;
  const std::string run_dir = tmp / "run";
  // 700 toy jets: about 540 train (8 steps of 64) and 135 test (2 full batches + a tail);
  // epoch 0 pre-trains and initialises the centroids, epoch 1 is joint training.
  const test::ToolRun train = run_tool(kTrain + " --set toy_jets=700 --set batch_size=64 --set epochs=2" +
                                           " --set pretrain_epochs=1 --set kmeans_n_init=2 --set threads=2" +
                                           " --set output_dir=" + quote(run_dir),
                                       tmp.path());
  ASSERT_EQ(train.rc, 0) << train.err;
  const std::string test_file = run_dir + "/toy-data/prepared/test_toy.h5";
  ASSERT_TRUE(std::filesystem::exists(test_file));
  std::string last_line;
  {
    std::ifstream in(run_dir + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) last_line = line;
  }
  const nlohmann::json logged = nlohmann::json::parse(last_line);
  ASSERT_EQ(logged.at("epoch"), 1);
  ASSERT_EQ(logged.at("phase"), "joint");

  const std::string out = tmp / "eval.h5";
  const test::ToolRun r = run_tool(kEvaluate + " --checkpoint " + quote(run_dir + "/checkpoint.h5") + " --data " +
                                       quote(test_file) + " --out " + quote(out) + " --batch 64 --threads 2",
                                   tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json s = nlohmann::json::parse(r.out);
  const std::int64_t n = jets::UclusterFile(test_file).n_jets();
  ASSERT_EQ(s.at("jets"), n);
  ASSERT_GT(n, 128);
  ASSERT_NE(n % 64, 0) << "the test wants a tail batch";

  // (a) the datasets.
  const h5::File f = h5::File::open(out);
  const auto cluster = read_all<std::int32_t>(f, "cluster", {n});
  const auto latent = read_all<float>(f, "latent", {n, 3});
  const auto logits = read_all<float>(f, "logits", {n, 20});
  const auto distances = read_all<float>(f, "distances", {n, 3});
  const auto truth = read_all<std::int32_t>(f, "truth", {n});
  const auto masses = read_all<float>(f, "masses", {n});
  EXPECT_TRUE(f.has_attribute("summary"));

  // truth and masses are the file's; the cluster is the nearest centroid.
  std::vector<std::int32_t> file_truth(n);
  std::vector<float> file_mass(n);
  jets::UclusterFile(test_file).read(0, n, nullptr, nullptr, file_truth.data(), file_mass.data(), nullptr, false);
  EXPECT_EQ(truth, file_truth);
  EXPECT_EQ(masses, file_mass);
  Context ctx(test::cpu_options());
  model::UClusterModel model;
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, Device::cpu());
  load_checkpoint(ctx, run_dir + "/checkpoint.h5", store, nullptr);
  const std::vector<float> mu = ctx.to_vector<float>(store.param("mu"));
  for (std::int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int j = 0; j < 3; ++j) {
      double d = 0;
      for (int c = 0; c < 3; ++c) d += std::pow(double(latent[i * 3 + c]) - mu[j * 3 + c], 2);
      EXPECT_NEAR(distances[i * 3 + j], d, 1e-4 * std::max(1.0, d)) << "jet " << i << " centroid " << j;
      if (distances[i * 3 + j] < distances[i * 3 + best]) best = j;
    }
    ASSERT_EQ(cluster[i], best) << "jet " << i;
  }
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));

  // (b) the printed accuracies, recomputed from the written clusters and truth.
  const std::vector<int> p(cluster.begin(), cluster.end()), t(truth.begin(), truth.end());
  EXPECT_DOUBLE_EQ(s.at("accuracy_global").get<double>(), cluster_accuracy(t, p).accuracy);
  EXPECT_DOUBLE_EQ(s.at("accuracy_per_batch_mean").get<double>(), per_batch_mean_accuracy(t, p, 64));
  EXPECT_NE(s.at("accuracy_per_batch_mean_definition").get<std::string>().find("full batches"), std::string::npos);
  std::int64_t total = 0;
  for (int pr = 0; pr < 3; ++pr)
    for (int tr = 0; tr < 3; ++tr) {
      std::int64_t count = 0;
      for (std::int64_t i = 0; i < n; ++i) count += (p[i] == pr && t[i] == tr);
      EXPECT_EQ(s.at("confusion_pred_by_true")[pr][tr], count);
      total += count;
    }
  EXPECT_EQ(total, n);

  // (c) the trainer's evaluation of the same weights on the same batches.
  const nlohmann::json& test_metrics = logged.at("test");
  EXPECT_EQ(s.at("accuracy_global"), test_metrics.at("accuracy_global"));
  EXPECT_EQ(s.at("accuracy_per_batch_mean"), test_metrics.at("accuracy_per_batch_mean"));
  EXPECT_EQ(s.at("confusion_pred_by_true"), test_metrics.at("confusion_pred_by_true"));
  EXPECT_EQ(s.at("inverse_temperature"), logged.at("inverse_temperature").at("eval"));
  for (const char* key : {"loss_focal", "loss_kmeans", "loss_total"})
    EXPECT_DOUBLE_EQ(s.at(key).get<double>(), test_metrics.at(key).get<double>()) << key;
  EXPECT_GT(s.at("timing").at("jets_per_s").get<double>(), 0.0);
  std::cout << "evaluate: " << n << " jets, " << s.at("timing").at("jets_per_s").get<double>()
            << " jets/s, accuracy " << s.at("accuracy_global") << " (global), " << s.at("accuracy_per_batch_mean")
            << " (per-batch mean)\n";
}

class EvaluateBadInput : public testing::Test {
 protected:
  void SetUp() override {
    write_random_jets(tmp_ / "jets.h5", 40, 16);
    Context ctx(test::cpu_options());
    save_model(ctx, model::ModelDims{}, tmp_ / "good.h5");
    model::ModelDims other;
    other.gap1_width = 64;
    save_model(ctx, other, tmp_ / "other-shape.h5");
  }
  static void save_model(Context& ctx, const model::ModelDims& dims, const std::string& path) {
    model::UClusterModel model(dims);
    ParamStore store;
    model.declare(store);
    store.finalize(ctx, Device::cpu());
    Rng rng(3);
    model.initialise(ctx, store, rng);
    // Moving variances of 1 (initialise sets 0; inference BN then divides by sqrt(eps) only).
    for (const auto& e : store.buffer_entries())
      if (e.name.ends_with(".bn_var"))
        ctx.copy(store.buffer(e.name),
                 ctx.from_vector<float>(e.shape, std::vector<float>(e.shape.numel(), 1.0f), Device::cpu()));
    CheckpointData data;
    data.config = config_from_json(nlohmann::json::object()).to_json();
    data.state = {{"epoch", 0}, {"loader_step", 0}, {"global_step", 0}};
    save_checkpoint(ctx, path, store, data);
  }
  test::ToolRun evaluate(const std::string& checkpoint, const std::string& data, const std::string& extra = "") {
    return run_tool(kEvaluate + " --checkpoint " + quote(checkpoint) + " --data " + quote(data) + " --out " +
                        quote(tmp_ / "out.h5") + " --threads 1 " + extra,
                    tmp_.path());
  }
  void expect_failure(const test::ToolRun& r, const std::string& message) {
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(tmp_.entries(), (std::vector<std::string>{"good.h5", "jets.h5", "other-shape.h5"}))
        << "no output or temporary file left";
  }
  test::ScratchDir tmp_;
};

TEST_F(EvaluateBadInput, GoodInputsWork) {
  // The reference point for the failures below: the same command succeeds with good inputs.
  const test::ToolRun r = evaluate(tmp_ / "good.h5", tmp_ / "jets.h5", "--batch 16");
  ASSERT_EQ(r.rc, 0) << r.err;
  const nlohmann::json s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s.at("jets"), 40);
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "out.h5"));
  EXPECT_NE(s.at("accuracy_per_batch_mean_definition").get<std::string>().find("2 full batches of 16"),
            std::string::npos);
}

TEST_F(EvaluateBadInput, MissingCheckpoint) { expect_failure(evaluate(tmp_ / "nope.h5", tmp_ / "jets.h5"), "checkpoint"); }

TEST_F(EvaluateBadInput, MissingDataFile) { expect_failure(evaluate(tmp_ / "good.h5", tmp_ / "nope.h5"), "does not exist"); }

TEST_F(EvaluateBadInput, CheckpointOfAnotherModelShape) {
  expect_failure(evaluate(tmp_ / "other-shape.h5", tmp_ / "jets.h5"), "another model shape");
}

TEST_F(EvaluateBadInput, NotACheckpoint) {
  expect_failure(evaluate(tmp_ / "jets.h5", tmp_ / "jets.h5"), "not a ucluster checkpoint");
}

TEST_F(EvaluateBadInput, DataFileOfTheWrongLayout) {
  expect_failure(evaluate(tmp_ / "good.h5", tmp_ / "good.h5"), "good.h5");
}

TEST_F(EvaluateBadInput, OutputInsideAMissingDirectory) {
  const test::ToolRun r = run_tool(kEvaluate + " --checkpoint " + quote(tmp_ / "good.h5") + " --data " +
                                       quote(tmp_ / "jets.h5") + " --out " + quote(tmp_ / "no/dir/out.h5"),
                                   tmp_.path());
  expect_failure(r, "output directory");
}

TEST_F(EvaluateBadInput, OutputOverAnInputIsRefused) {
  const test::ToolRun r = run_tool(kEvaluate + " --checkpoint " + quote(tmp_ / "good.h5") + " --data " +
                                       quote(tmp_ / "jets.h5") + " --out " + quote(tmp_ / "jets.h5"),
                                   tmp_.path());
  expect_failure(r, "refusing to overwrite");
}

TEST_F(EvaluateBadInput, BadOptions) {
  expect_failure(evaluate(tmp_ / "good.h5", tmp_ / "jets.h5", "--batch 0"), "--batch");
  expect_failure(evaluate(tmp_ / "good.h5", tmp_ / "jets.h5", "--bogus"), "unknown argument '--bogus'");
}

}  // namespace
}  // namespace ucluster
