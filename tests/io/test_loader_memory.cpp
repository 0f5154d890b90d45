// The loader core on in-memory data: shard coverage, steps agreement, shuffling, resumption,
// threaded = synchronous, error propagation.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/error.h"
#include "io/loader.h"

namespace ucluster {
namespace {

// Rows whose values encode the row index: data[r, p, f] = r + p / 1000, target = r % 19, ...
JetArrays make_arrays(std::int64_t n, int P = 3, int F = 2) {
  JetArrays a;
  a.n = n;
  a.n_particles = P;
  a.n_features = F;
  for (std::int64_t r = 0; r < n; ++r) {
    for (int k = 0; k < P * F; ++k) a.data.push_back(static_cast<float>(r) + k / 1000.0f);
    a.target.push_back(static_cast<std::int32_t>(r % 19));
    a.truth.push_back(static_cast<std::int32_t>(r % 3));
    a.mass.push_back(static_cast<float>(r) * 0.5f);
  }
  return a;
}

std::unique_ptr<Loader> memory_loader(std::int64_t n, std::int64_t chunk, const LoaderOptions& o) {
  return std::make_unique<Loader>(std::make_unique<MemorySource>(make_arrays(n), n, chunk, "test"), o);
}

TEST(LoaderShards, ShardsCoverEveryRowExactlyOnce) {
  for (std::int64_t rows : {0, 1, 7, 1000, 1001, 4099}) {
    for (std::int64_t chunk : {1, 100, 256}) {
      for (int world : {1, 2, 3, 4, 7, 8, 16}) {
        std::int64_t next = 0, smallest = INT64_MAX, largest = 0;
        for (int r = 0; r < world; ++r) {
          const ShardRange s = shard_range(rows, chunk, r, world);
          ASSERT_EQ(s.begin, next) << rows << " rows, chunk " << chunk << ", rank " << r << "/" << world;
          ASSERT_GE(s.end, s.begin);
          // Shard boundaries sit on the chunk grid when every rank gets a chunk.
          if ((rows + chunk - 1) / chunk >= world && s.end < rows) {
            ASSERT_EQ(s.end % chunk, 0);
          }
          next = s.end;
          smallest = std::min(smallest, s.rows());
          largest = std::max(largest, s.rows());
        }
        ASSERT_EQ(next, rows);
        ASSERT_LE(largest - smallest, chunk);  // balanced to within one chunk
      }
    }
  }
}

TEST(LoaderShards, EveryRowOnceOverAllRanksInAnEvaluationEpoch) {
  const std::int64_t n = 1037, chunk = 64, batch = 50;
  for (int world : {1, 2, 3, 5}) {
    std::multiset<std::int64_t> seen;
    std::int64_t steps = -1;
    for (int r = 0; r < world; ++r) {
      const LoaderOptions o{.batch_size = batch, .rank = r, .world = world, .shuffle = true, .seed = 5,
                            .drop_last = false};
      auto loader = memory_loader(n, chunk, o);
      if (steps < 0) steps = loader->steps_per_epoch();
      ASSERT_EQ(loader->steps_per_epoch(), steps) << "ranks disagree on steps per epoch";
      Batch b;
      std::int64_t got = 0;
      while (loader->next(b)) {
        ++got;
        for (std::int64_t i = 0; i < b.size; ++i) {
          seen.insert(b.rows[i]);
          ASSERT_EQ(b.data[i * 6], static_cast<float>(b.rows[i]));
          ASSERT_EQ(b.target[i], b.rows[i] % 19);
          ASSERT_EQ(b.truth[i], b.rows[i] % 3);
          ASSERT_GE(b.rows[i], loader->shard().begin);
          ASSERT_LT(b.rows[i], loader->shard().end);
        }
      }
      ASSERT_EQ(got, steps);
    }
    ASSERT_EQ(static_cast<std::int64_t>(seen.size()), n);
    std::int64_t expect = 0;
    for (std::int64_t r : seen) ASSERT_EQ(r, expect++) << "row seen twice or missed with " << world << " ranks";
  }
}

TEST(LoaderShards, TrainingEpochsUseFullBatchesOfDistinctRows) {
  const std::int64_t n = 1000, chunk = 64, batch = 32;
  LoaderOptions o;
  o.batch_size = batch;
  o.world = 3;
  o.rank = 1;
  auto loader = memory_loader(n, chunk, o);
  EXPECT_EQ(loader->steps_per_epoch(), steps_per_epoch(n, chunk, 3, batch, true));
  Batch b;
  std::set<std::int64_t> rows;
  while (loader->next(b)) {
    ASSERT_EQ(b.size, batch);
    for (std::int64_t r : b.rows) ASSERT_TRUE(rows.insert(r).second);
  }
  EXPECT_EQ(static_cast<std::int64_t>(rows.size()), loader->steps_per_epoch() * batch);
  EXPECT_EQ(loader->position(), (LoaderPosition{1, 0}));
}

std::vector<std::vector<std::int64_t>> epochs(Loader& loader, int count) {
  std::vector<std::vector<std::int64_t>> out;
  Batch b;
  for (int e = 0; e < count; ++e) {
    std::vector<std::int64_t> rows;
    while (loader.next(b)) rows.insert(rows.end(), b.rows.begin(), b.rows.end());
    out.push_back(rows);
  }
  return out;
}

TEST(LoaderShuffle, SeededPerEpochOrderAndExactResume) {
  LoaderOptions o;
  o.batch_size = 40;
  o.shuffle = true;
  o.seed = 11;
  auto a = memory_loader(777, 50, o);
  const auto ea = epochs(*a, 3);
  auto b = memory_loader(777, 50, o);
  EXPECT_EQ(epochs(*b, 3), ea);  // same seed, same order
  EXPECT_NE(ea[0], ea[1]);       // a new order every epoch
  std::vector<std::int64_t> sorted0 = ea[0], sorted1 = ea[1];
  std::sort(sorted0.begin(), sorted0.end());
  std::sort(sorted1.begin(), sorted1.end());
  EXPECT_NE(sorted0, sorted1);  // and (batch size not a chunk multiple) other dropped rows
  o.seed = 12;
  auto c = memory_loader(777, 50, o);
  EXPECT_NE(epochs(*c, 1)[0], ea[0]);

  // Resume at epoch 1, step 7 (from a checkpoint): the same batches as the uninterrupted run.
  o.seed = 11;
  auto d = memory_loader(777, 50, o);
  Batch bt;
  ASSERT_TRUE(d->next(bt));  // some reading before the seek
  d->seek({1, 7});
  EXPECT_EQ(d->position(), (LoaderPosition{1, 7}));
  std::vector<std::int64_t> rest;
  while (d->next(bt)) {
    EXPECT_EQ(bt.epoch, 1);
    rest.insert(rest.end(), bt.rows.begin(), bt.rows.end());
  }
  EXPECT_EQ(rest, std::vector<std::int64_t>(ea[1].begin() + 7 * 40, ea[1].end()));
  EXPECT_EQ(epochs(*d, 1)[0], ea[2]);
  EXPECT_THROW(d->seek({0, d->steps_per_epoch() + 1}), Error);
}

TEST(LoaderThreads, ThreadedAndSynchronousReadsGiveTheSameBatches) {
  LoaderOptions o;
  o.batch_size = 33;
  o.shuffle = true;
  o.seed = 3;
  o.world = 2;
  o.rank = 1;
  auto t = memory_loader(900, 40, o);
  o.threaded = false;
  auto s = memory_loader(900, 40, o);
  EXPECT_EQ(epochs(*t, 2), epochs(*s, 2));
}

class FailingSource : public MemorySource {
 public:
  FailingSource() : MemorySource(make_arrays(200), 200, 20, "failing") {}
  void read(std::int64_t first, std::int64_t count, Batch& b, std::int64_t at) override {
    if (first + count > 150) fail("failing: cannot read row ", first + count - 1);
    MemorySource::read(first, count, b, at);
  }
};

TEST(LoaderThreads, ReaderErrorsReachTheCaller) {
  LoaderOptions o;
  o.batch_size = 20;
  Loader loader(std::make_unique<FailingSource>(), o);
  Batch b;
  int ok = 0;
  try {
    while (loader.next(b)) ++ok;
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read row"), std::string::npos);
  }
  EXPECT_EQ(ok, 7);  // rows [0, 140) came through
}

TEST(LoaderOptionsCheck, TooFewRowsForABatchIsAClearError) {
  LoaderOptions o;
  o.batch_size = 512;
  o.world = 4;
  try {
    memory_loader(1000, 100, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no full batch of 512 rows"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ucluster
