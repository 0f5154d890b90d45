// Cluster accuracy and schedules against the golden data (README section 7), through the text
// fixture tests/data/golden_metrics.txt written by tools/extract-golden-metrics.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "train/hungarian.h"
#include "train/schedules.h"

namespace ucluster {
namespace {

using Records = std::map<std::string, std::vector<double>>;

Records load_fixture() {
  const std::string path = std::string(UCLUSTER_SOURCE_DIR) + "/tests/data/golden_metrics.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  Records records;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string name;
    std::size_t count = 0;
    is >> name >> count;
    std::vector<double>& values = records[name];
    values.resize(count);
    for (double& v : values) is >> v;
    EXPECT_FALSE(is.fail()) << "bad record " << name << " in " << path;
  }
  return records;
}

std::vector<int> ints(const std::vector<double>& v) { return std::vector<int>(v.begin(), v.end()); }

class GoldenMetrics : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { records_ = new Records(load_fixture()); }
  static void TearDownTestSuite() {
    delete records_;
    records_ = nullptr;
  }
  static const std::vector<double>& get(const std::string& name) {
    const auto it = records_->find(name);
    EXPECT_NE(it, records_->end()) << "no record " << name;
    static const std::vector<double> empty;
    return it == records_->end() ? empty : it->second;
  }
  static Records* records_;
};
Records* GoldenMetrics::records_ = nullptr;

TEST_F(GoldenMetrics, GlobalAccuracy) {
  const std::vector<int> truth = ints(get("y_true")), pred = ints(get("y_pred"));
  ASSERT_EQ(truth.size(), 1100u);
  const ClusterAccuracy a = cluster_accuracy(truth, pred);
  EXPECT_DOUBLE_EQ(a.accuracy, get("acc_global").at(0));
  // The same through confusion counts filled batch by batch (tail included) on two "ranks".
  ConfusionCounts rank0(3), rank1(3);
  const std::span<const int> t(truth), p(pred);
  for (std::size_t off = 0; off < truth.size(); off += 256) {
    const std::size_t len = std::min<std::size_t>(256, truth.size() - off);
    (off < 512 ? rank0 : rank1).add(t.subspan(off, len), p.subspan(off, len));
  }
  rank0 += rank1;
  EXPECT_EQ(rank0.accuracy().matched, a.matched);
}

TEST_F(GoldenMetrics, PerBatchMeanAccuracy) {
  const std::vector<int> truth = ints(get("y_true")), pred = ints(get("y_pred"));
  const auto batch = static_cast<std::int64_t>(get("batch_size").at(0));
  ASSERT_EQ(batch, 256);
  const double per_batch = per_batch_mean_accuracy(truth, pred, batch);
  EXPECT_NEAR(per_batch, get("acc_per_batch_mean").at(0), 1e-15);
  EXPECT_NE(per_batch, cluster_accuracy(truth, pred).accuracy);  // the two metrics differ here
}

TEST_F(GoldenMetrics, LearningRateAndBnDecayConfigB) {
  const TrainingSchedules s = schedules_config_b();
  const auto& step = get("schedule_step");
  const auto& lr = get("schedule_lr");
  const auto& bn = get("schedule_bn_decay");
  ASSERT_EQ(step.size(), lr.size());
  ASSERT_EQ(step.size(), bn.size());
  ASSERT_FALSE(step.empty());
  for (std::size_t i = 0; i < step.size(); ++i) {
    const auto st = static_cast<std::int64_t>(step[i]);
    EXPECT_DOUBLE_EQ(s.lr.at(st), lr[i]) << "step " << st;
    EXPECT_DOUBLE_EQ(s.bn_decay.at(st), bn[i]) << "step " << st;
  }
}

TEST_F(GoldenMetrics, AlphaPerEpoch) {
  const AlphaSchedule a = alpha_schedule_config_a(), b = alpha_schedule_config_b();
  const auto& epoch = get("schedule_epoch");
  const auto& alpha_a = get("km_alpha_A");
  const auto& b_train = get("km_alpha_B_train");
  const auto& b_eval = get("km_alpha_B_eval");
  ASSERT_EQ(epoch.size(), 200u);
  ASSERT_EQ(alpha_a.size(), 200u);
  ASSERT_EQ(b_train.size(), 200u);
  ASSERT_EQ(b_eval.size(), 200u);
  for (std::size_t i = 0; i < epoch.size(); ++i) {
    const int e = static_cast<int>(epoch[i]);
    EXPECT_EQ(a.train(e), alpha_a[i]) << "epoch " << e;
    EXPECT_EQ(a.eval(e), alpha_a[i]) << "epoch " << e;
    EXPECT_EQ(b.train(e), b_train[i]) << "epoch " << e;
    EXPECT_EQ(b.eval(e), b_eval[i]) << "epoch " << e;
  }
}

}  // namespace
}  // namespace ucluster
