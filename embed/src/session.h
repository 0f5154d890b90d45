// A CPU session: one JetRunner per worker, the staging buffer for a batch's results (outputs are
// written only when the whole batch succeeded), and the workers: the calling thread alone, the
// session's own threads, or the caller's parallel-for hook. Jets are independent and each is
// computed the same way on any worker, so results do not depend on the thread count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "embed/src/forward.h"
#include "ucluster/ucluster.h"

namespace ucluster::embed {

// Where a batch's jets come from: either prepared features or four-momenta.
struct JetBatch {
  const float* features = nullptr;         // [n][points][features]
  const ucluster_jet* jets = nullptr;      // [n]
  std::int64_t n = 0;
};

class Session {
 public:
  Session(const Network& network, const ucluster_session_options& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::int64_t max_batch() const { return max_batch_; }

  // Checks every jet of the batch; "" when all are fine, else the first problem, naming the jet and
  // the particle. Records each jet's particle count for run().
  std::string check(const JetBatch& batch);
  // Runs a checked batch into the staging buffer; "" or what went wrong (a non-finite result).
  std::string run(const JetBatch& batch);
  // Copies the staged results of the last run to the caller's outputs.
  void write(std::int64_t n, const ucluster_outputs& outputs) const;

 private:
  struct Worker {
    explicit Worker(const Network& net);
    JetRunner runner;
    std::vector<float> features;  // one jet's features computed from four-momenta
  };
  void run_range(const JetBatch& batch, std::int64_t begin, std::int64_t end, int worker);
  void pool_loop(int worker);
  static void hook_body(void* context, std::int64_t begin, std::int64_t end, int worker);

  const Network& net_;
  std::int64_t max_batch_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<int> n_real_;
  std::vector<JetResult> results_;
  std::vector<char> bad_worker_;  // a hook that used a worker index out of range

  ucluster_parallel_for hook_ = nullptr;
  void* hook_context_ = nullptr;

  // The session's own threads (num_threads > 1): workers 1..T-1 wait on a condition variable (no
  // spinning, so a shared machine loses nothing while the session is idle).
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const JetBatch* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace ucluster::embed
