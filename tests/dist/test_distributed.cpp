// Data-parallel training on 2 MPI ranks (run under `mpirun -np 2`, see tests/dist/CMakeLists.txt).
//
// Every rank runs every test; a rank's own one-process reference runs beside the distributed
// run where a test compares with it. The data are toy jets in memory, laid out twice: "sharded"
// for the 2-rank run (rank r reads rows [r N/2, (r+1) N/2) on a chunk grid of one rank-batch) and
// "interleaved" for the 1-rank run, so that 1-rank step s sees exactly the jets of the two ranks'
// step s, in rank order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include <unistd.h>

#include "io/toy/dataset.h"
#include "train/communicator.h"
#include "train/trainer.h"

namespace ucluster {
namespace {

// The process group of the test run (created once in main, before any test).
Communicator* g_comm = nullptr;
Communicator& comm() { return *g_comm; }

constexpr std::int64_t kRankBatch = 8;  // jets per rank and step
constexpr std::int64_t kSteps = 3;      // steps per epoch

struct Layouts {
  JetArrays sharded, interleaved;
  std::int64_t rows = 0;
};

JetArrays take_rows(const JetArrays& from, const std::vector<std::int64_t>& rows) {
  JetArrays a;
  a.n = static_cast<std::int64_t>(rows.size());
  a.n_particles = from.n_particles;
  a.n_features = from.n_features;
  const std::int64_t per = std::int64_t(from.n_particles) * from.n_features;
  for (std::int64_t r : rows) {
    a.data.insert(a.data.end(), from.data.begin() + r * per, from.data.begin() + (r + 1) * per);
    a.target.push_back(from.target[static_cast<std::size_t>(r)]);
    a.truth.push_back(from.truth[static_cast<std::size_t>(r)]);
    a.mass.push_back(from.mass[static_cast<std::size_t>(r)]);
  }
  return a;
}

Layouts make_layouts(int world) {
  const std::int64_t n = world * kRankBatch * kSteps;
  const JetArrays jets = toy::make_toy_dataset(5, 3 * n, 100, 1);
  EXPECT_GE(jets.n, n) << "the toy generator selected too few jets";
  Layouts l;
  l.rows = n;
  std::vector<std::int64_t> first(static_cast<std::size_t>(n)), mixed;
  for (std::int64_t i = 0; i < n; ++i) first[static_cast<std::size_t>(i)] = i;
  l.sharded = take_rows(jets, first);
  const std::int64_t shard = n / world;
  for (std::int64_t s = 0; s < kSteps; ++s)
    for (int r = 0; r < world; ++r)
      for (std::int64_t i = 0; i < kRankBatch; ++i) mixed.push_back(r * shard + s * kRankBatch + i);
  l.interleaved = take_rows(jets, mixed);
  return l;
}

std::unique_ptr<Loader> loader(const JetArrays& a, std::int64_t batch, int rank, int world, bool drop_last) {
  const LoaderOptions o{.batch_size = batch, .rank = rank, .world = world, .drop_last = drop_last, .threaded = false};
  return std::make_unique<Loader>(std::make_unique<MemorySource>(a, a.n, kRankBatch, "toy jets"), o);
}

// A directory shared by the ranks (rank 0's name), fresh for each call.
std::string shared_dir(const std::string& name) {
  std::string dir;
  if (comm().rank() == 0) {
    dir = (std::filesystem::temp_directory_path() / ("ucluster-dist-" + std::to_string(::getpid()) + "-" + name))
              .string();
    std::filesystem::remove_all(dir);
  }
  return comm().broadcast(dir, 0, "test directory");
}

TrainConfig small_config(const std::string& output_dir) {
  TrainConfig c;
  c.batch_size = kRankBatch * 2;  // the global batch of the 2-rank runs
  c.epochs = 2;
  c.pretrain_epochs = 1;  // k-means at the end of epoch 0, joint training in epoch 1
  c.kmeans_n_init = 2;
  c.threads = 1;
  c.device = "cpu";
  c.timeout_s = 120;
  c.output_dir = output_dir;
  return c;
}

struct RunResult {
  std::vector<float> params, grads, buffers, mu;
};

RunResult run_training(Communicator& with, const TrainConfig& c, const JetArrays& data, bool resume = false) {
  ContextOptions o;
  o.device = "cpu";
  o.num_threads = 1;
  o.seed = c.seed;
  Context ctx(o);
  const std::int64_t batch = c.rank_batch(with.size());
  Trainer t(c, ctx, with, loader(data, batch, with.rank(), with.size(), true),
            loader(data, batch, with.rank(), with.size(), false), [](const std::string&) {});
  t.run(resume);
  return {ctx.to_vector<float>(t.store().flat_params()), ctx.to_vector<float>(t.store().flat_grads()),
          ctx.to_vector<float>(t.store().flat_buffers()), ctx.to_vector<float>(t.store().param("mu"))};
}

// A run of `first`, then one of `second` in the output directory with `suffix` appended.
std::pair<RunResult, RunResult> two_runs(const TrainConfig& first, TrainConfig second, const std::string& suffix,
                                         const JetArrays& data) {
  RunResult a = run_training(comm(), first, data);
  second.output_dir += suffix;
  return {std::move(a), run_training(comm(), second, data)};
}

std::string bytes_of(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Bit-identical on every rank.
void expect_same_on_all_ranks(const std::vector<float>& v, const char* what) {
  const std::vector<std::string> all = comm().all_gather(bytes_of(v), what);
  for (std::size_t r = 1; r < all.size(); ++r) EXPECT_EQ(all[r], all[0]) << what << " differ between rank 0 and " << r;
}

TEST(Communicator, CollectivesOnHostMemory) {
  ASSERT_EQ(comm().size(), 2) << "run this suite with mpirun -np 2";
  Context ctx;
  const int r = comm().rank();
  std::vector<double> sums = {1.0 + r, 10.0 * (r + 1)};
  comm().all_reduce_sum(ctx, sums, "test sum");
  EXPECT_EQ(sums, (std::vector<double>{3.0, 30.0}));
  Tensor ints = ctx.from_vector<std::int32_t>({3}, {r, 2 * r, 7});
  comm().all_reduce_sum(ctx, ints, "test int sum");
  EXPECT_EQ(ctx.to_vector<std::int32_t>(ints), (std::vector<std::int32_t>{1, 2, 14}));
  Tensor mean = ctx.from_vector<float>({2}, {float(r), 4.0f * r});
  comm().all_reduce_mean(ctx, mean, "test mean");
  EXPECT_EQ(ctx.to_vector<float>(mean), (std::vector<float>{0.5f, 2.0f}));
  Tensor b = ctx.from_vector<float>({2}, {float(r + 5), -1.0f});
  comm().broadcast(ctx, b, 1, "test broadcast");
  EXPECT_EQ(ctx.to_vector<float>(b), (std::vector<float>{6.0f, -1.0f}));
  const auto gathered = comm().gather(std::string(static_cast<std::size_t>(r + 1), char('a' + r)), 0, "test gather");
  if (r == 0) EXPECT_EQ(gathered, (std::vector<std::string>{"a", "bb"}));
  else EXPECT_TRUE(gathered.empty());
  EXPECT_EQ(comm().all_gather(std::to_string(r), "test all-gather"), (std::vector<std::string>{"0", "1"}));
}

TEST(Communicator, AnErrorOnOneRankIsAgreedByEveryRank) {
  try {
    comm().agree_on([] { UCLUSTER_CHECK(comm().rank() != 1, "rank one disagrees"); });
    ADD_FAILURE() << "no AgreedError on rank " << comm().rank();
  } catch (const AgreedError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1: rank one disagrees"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(comm().agree(""));
}

TEST(DistributedData, TwoShardsCoverTheDataExactlyOnce) {
  const Layouts l = make_layouts(2);
  for (const bool drop_last : {false, true}) {
    auto ld = loader(l.sharded, kRankBatch, comm().rank(), 2, drop_last);
    std::string rows;
    Batch b;
    while (ld->next(b))
      rows.append(reinterpret_cast<const char*>(b.rows.data()), sizeof(std::int64_t) * std::size_t(b.size));
    const std::vector<std::string> all = comm().all_gather(rows, "rows seen");
    std::multiset<std::int64_t> seen;
    for (const std::string& s : all) {
      const auto* p = reinterpret_cast<const std::int64_t*>(s.data());
      seen.insert(p, p + s.size() / sizeof(std::int64_t));
    }
    EXPECT_EQ(static_cast<std::int64_t>(seen.size()), l.rows) << "drop_last " << drop_last;
    for (std::int64_t r = 0; r < l.rows; ++r) EXPECT_EQ(seen.count(r), 1u) << "row " << r;
  }
}

// 2 ranks with batch B/2 and synchronised batch norm = 1 rank with batch B.
//
// After one step, tightly: the averaged gradients within 2e-3 of their largest magnitude (twice
// the golden README's float32-versus-exact gradient tolerance, both runs being float32 with their
// own reduction order; a sum instead of a mean would be off by 100 %), the moving statistics within
// 2e-5 of their scale (the golden BN-statistics tolerance), parameters with |g| >= 1e-4 within
// 1e-5 (the golden end-to-end criterion) and the others within 2 lr: Adam's first step moves every
// parameter by exactly lr times the sign of its gradient, and a gradient within rounding of zero
// can take either sign.
// After several steps the runs drift apart only through those sign choices; an Adam step of step
// t <= 3 moves a parameter by at most 1.01 lr (Cauchy-Schwarz on the bias-corrected moments), so
// every parameter stays within 2.02 lr per step of the other run.
TEST(DistributedTraining, TwoRanksWithHalfBatchesEqualOneRankWithTheWholeBatch) {
  const Layouts l = make_layouts(2);
  SingleCommunicator single;
  const double lr = small_config("").learning_rate;
  for (const std::int64_t steps : {std::int64_t(1), kSteps}) {
    TrainConfig c = small_config(shared_dir("equivalence-" + std::to_string(steps)));
    c.max_steps = steps;
    const RunResult two = run_training(comm(), c, l.sharded);
    expect_same_on_all_ranks(two.params, "parameters");
    expect_same_on_all_ranks(two.buffers, "moving statistics");
    c.output_dir += "-rank" + std::to_string(comm().rank()) + "-single";
    const RunResult one = run_training(single, c, l.interleaved);

    double g_scale = 0, g_diff = 0, p_diff = 0, steady_diff = 0, b_scale = 0, b_diff = 0;
    std::int64_t bad = 0, steady = 0;
    for (std::size_t i = 0; i < one.grads.size(); ++i) {
      g_scale = std::max(g_scale, std::abs(double(one.grads[i])));
      g_diff = std::max(g_diff, std::abs(double(two.grads[i]) - double(one.grads[i])));
      const double d = std::abs(double(two.params[i]) - double(one.params[i]));
      p_diff = std::max(p_diff, d);
      const bool big = std::abs(one.grads[i]) >= 1e-4;
      if (steps == 1 && big) {
        ++steady;
        steady_diff = std::max(steady_diff, d);
      }
      const double bound = steps == 1 ? (big ? 1e-5 : 2.0 * lr) : 2.02 * lr * double(steps);
      bad += d > bound;
    }
    for (std::size_t i = 0; i < one.buffers.size(); ++i) {
      b_scale = std::max(b_scale, std::abs(double(one.buffers[i])));
      b_diff = std::max(b_diff, std::abs(double(two.buffers[i]) - double(one.buffers[i])));
    }
    EXPECT_EQ(bad, 0) << "parameters outside tolerance after " << steps << " step(s)";
    if (steps == 1) {
      EXPECT_LE(g_diff, 2e-3 * g_scale) << "gradients of step 1";
      EXPECT_LE(b_diff, 2e-5 * b_scale) << "moving statistics after step 1";
      EXPECT_GT(steady, std::int64_t(one.params.size()) / 2) << "too few parameters with a steady gradient";
    }
    if (comm().rank() == 0)
      std::printf("[ equivalence ] after %lld step(s): gradients max |diff| %.3g (scale %.3g); parameters max |diff| "
                  "%.3g (%lld with |g| >= 1e-4: %.3g); moving statistics max |diff| %.3g (scale %.3g)\n",
                  static_cast<long long>(steps), g_diff, g_scale, p_diff, static_cast<long long>(steady),
                  steady_diff, b_diff, b_scale);
  }
}

// The event model (preset AD, ucluster-ad-spec.md 2) trains data-parallel exactly as the jet model:
// the same jets as events of 7 features (the jet features without the last), a per-particle target
// (the jet's class + 1 for its real particles, 0 for padding) and 4 globals derived from the jet.
JetArrays as_events(const JetArrays& jets) {
  JetArrays e = jets;
  const std::int64_t P = jets.n_particles, F = jets.n_features;
  e.n_features = 7;
  e.n_globals = 4;
  e.data.clear();
  for (std::int64_t i = 0; i < jets.n * P; ++i)
    e.data.insert(e.data.end(), jets.data.begin() + i * F, jets.data.begin() + i * F + 7);
  for (std::int64_t j = 0; j < jets.n; ++j) {
    const float m = std::max(1.0f, jets.mass[static_cast<std::size_t>(j)]);
    const float tau = 0.3f + 0.1f * float(jets.target[static_cast<std::size_t>(j)] % 5);
    e.global.insert(e.global.end(), {std::log(m), tau, std::log(0.5f * m), 0.6f});
    for (std::int64_t p = 0; p < P; ++p) {
      const bool real = jets.data[static_cast<std::size_t>((j * P + p) * F + 2)] != 0.0f;
      e.point_target.push_back(real ? 1 + jets.target[static_cast<std::size_t>(j)] % 20 : 0);
    }
  }
  return e;
}

TEST(DistributedTraining, TheEventModelOnTwoRanksEqualsOneRankWithTheWholeBatch) {
  const Layouts jets = make_layouts(2);
  const JetArrays sharded = as_events(jets.sharded), interleaved = as_events(jets.interleaved);
  SingleCommunicator single;
  TrainConfig c = small_config(shared_dir("events"));
  c.task = "events";
  c.clusters = 2;
  c.focal_gamma = 2.0;
  c.focal_alpha = 10.0;
  c.beta = 1.0;
  c.max_steps = 1;
  const RunResult two = run_training(comm(), c, sharded);
  expect_same_on_all_ranks(two.params, "event model parameters");
  c.output_dir += "-rank" + std::to_string(comm().rank()) + "-single";
  const RunResult one = run_training(single, c, interleaved);
  double g_scale = 0, g_diff = 0, b_scale = 0, b_diff = 0;
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < one.grads.size(); ++i) {
    g_scale = std::max(g_scale, std::abs(double(one.grads[i])));
    g_diff = std::max(g_diff, std::abs(double(two.grads[i]) - double(one.grads[i])));
    const bool big = std::abs(one.grads[i]) >= 1e-4;
    bad += std::abs(double(two.params[i]) - double(one.params[i])) > (big ? 1e-5 : 2.0 * c.learning_rate);
  }
  for (std::size_t i = 0; i < one.buffers.size(); ++i) {
    b_scale = std::max(b_scale, std::abs(double(one.buffers[i])));
    b_diff = std::max(b_diff, std::abs(double(two.buffers[i]) - double(one.buffers[i])));
  }
  EXPECT_GT(g_scale, 0.0);
  EXPECT_EQ(bad, 0) << "event model parameters outside tolerance after one step";
  EXPECT_LE(g_diff, 2e-3 * g_scale) << "event model gradients of step 1";
  EXPECT_LE(b_diff, 2e-5 * b_scale) << "event model moving statistics after step 1";
  if (comm().rank() == 0)
    std::printf("[ events ] after 1 step: gradients max |diff| %.3g (scale %.3g); moving statistics max |diff| %.3g "
                "(scale %.3g)\n", g_diff, g_scale, b_diff, b_scale);
}

// Rank 1 starts from other initial weights (another seed): the start-up broadcast gives every rank
// rank 0's, so after a step both hold the same parameters, those of a run where all used seed 1.
TEST(DistributedTraining, BroadcastGivesEveryRankRankZerosState) {
  const Layouts l = make_layouts(2);
  TrainConfig c = small_config(shared_dir("broadcast"));
  c.max_steps = 1;
  TrainConfig mine = c;
  if (comm().rank() == 1) mine.seed = 99;
  const auto [mixed, same] = two_runs(mine, c, "-same-seed", l.sharded);
  expect_same_on_all_ranks(mixed.params, "parameters");
  EXPECT_EQ(bytes_of(mixed.params), bytes_of(same.params));
}

// Local batch statistics (batch_norm_stats "local") leave each rank its own moving averages; their
// mean over the ranks is what is saved and evaluated, so after a checkpoint every rank holds the
// same statistics, and they differ from those of synchronised statistics.
TEST(DistributedTraining, LocalBatchNormStatisticsAreAveragedBeforeSaving) {
  const Layouts l = make_layouts(2);
  TrainConfig c = small_config(shared_dir("local-bn"));
  c.max_steps = 2;
  c.batch_norm_stats = "local";
  TrainConfig synchronised = c;
  synchronised.batch_norm_stats = "global";
  const auto [local, global] = two_runs(c, synchronised, "-global", l.sharded);
  expect_same_on_all_ranks(local.buffers, "moving statistics");
  expect_same_on_all_ranks(local.params, "parameters");
  EXPECT_NE(bytes_of(local.buffers), bytes_of(global.buffers));
}

// Through the k-means epoch: the centroids come from rank 0's k-means over both ranks' embeddings
// and are broadcast, so they are identical on every rank (and no longer the initial zeros).
TEST(DistributedTraining, CentroidsAreIdenticalOnAllRanks) {
  const Layouts l = make_layouts(2);
  TrainConfig c = small_config(shared_dir("centroids"));
  c.epochs = 1;
  const RunResult two = run_training(comm(), c, l.sharded);
  expect_same_on_all_ranks(two.mu, "centroids");
  double scale = 0;
  for (float m : two.mu) scale = std::max(scale, std::abs(double(m)));
  EXPECT_GT(scale, 0.0) << "k-means left the centroids at zero";
}

// Stopped mid-epoch inside the k-means epoch (embeddings of both ranks in the checkpoint) and
// resumed on 2 ranks: bit-identical to the uninterrupted 2-rank run.
TEST(DistributedTraining, StopAndResumeOnTwoRanksIsBitIdentical) {
  const Layouts l = make_layouts(2);
  TrainConfig c = small_config(shared_dir("full"));
  const RunResult full = run_training(comm(), c, l.sharded);
  TrainConfig stopped = small_config(shared_dir("stopped"));
  stopped.max_steps = 2;
  run_training(comm(), stopped, l.sharded);
  stopped.max_steps = 0;
  const RunResult resumed = run_training(comm(), stopped, l.sharded, true);
  EXPECT_EQ(bytes_of(resumed.params), bytes_of(full.params));
  EXPECT_EQ(bytes_of(resumed.buffers), bytes_of(full.buffers));
  if (comm().rank() == 0) {
    std::ifstream a(c.output_dir + "/metrics.jsonl"), b(stopped.output_dir + "/metrics.jsonl");
    std::string la, lb;
    int lines = 0;
    while (std::getline(a, la) && std::getline(b, lb)) {
      nlohmann::json ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
      ja.erase("timing");
      jb.erase("timing");
      EXPECT_EQ(ja, jb);
      ++lines;
    }
    EXPECT_EQ(lines, c.epochs);
  }
}

}  // namespace
}  // namespace ucluster

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::unique_ptr<ucluster::Communicator> comm = ucluster::start_communicator("mpi", 120);
  ucluster::g_comm = comm.get();
  return RUN_ALL_TESTS();
}
