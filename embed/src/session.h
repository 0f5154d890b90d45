// The sessions behind ucluster_session: what every session does with a batch (SessionBase), the
// checks and the output writing they share, and the CPU session: one JetRunner per worker, the
// staging buffer for a batch's results (outputs are written only when the whole batch succeeded),
// and the workers: the calling thread alone, the session's own threads, or the caller's
// parallel-for hook. Jets are independent and each is
// computed the same way on any worker, so results do not depend on the thread count.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
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

// A CUDA runtime error (cuda_session.cpp); the API reports it as UCLUSTER_ERROR_DEVICE.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A session of either device; the API calls check, run and write in this order.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual std::int64_t max_batch() const = 0;
  // Checks every jet of the batch; "" when all are fine, else the first problem, naming the jet and
  // the particle. Records each jet's particle count for run().
  virtual std::string check(const JetBatch& batch) = 0;
  // Runs a checked batch into the staging buffer; "" or what went wrong (a non-finite result).
  virtual std::string run(const JetBatch& batch) = 0;
  // Copies the staged results of the last run to the caller's outputs.
  virtual void write(std::int64_t n, const ucluster_outputs& outputs) const = 0;
};

// Session::check's checks of a batch of features (n_real[b]: each jet's particle count) or of
// four-momenta (n_real untouched: the counts follow from the features computed in run).
std::string check_batch(const model::ModelDims& dims, const JetBatch& batch, int* n_real);
// Rows up to the last non-zero one: the rows after it are the jet's padding (spec 1.4).
int count_real_rows(const float* jet, std::int64_t points, std::int64_t features);
// The 8 features of jet b of a four-momentum batch into out ([points][features]).
void batch_jet_features(const JetBatch& batch, std::int64_t b, std::int64_t points, float* out);
// "" when every output of results[0, n) is finite, else which jet is not.
std::string check_results(const model::ModelDims& dims, const JetResult* results, std::int64_t n);
// Copies results[0, n) to the caller's outputs.
void write_results(const model::ModelDims& dims, const JetResult* results, std::int64_t n,
                   const ucluster_outputs& outputs);

class Session final : public SessionBase {
 public:
  Session(const Network& network, const ucluster_session_options& options);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::int64_t max_batch() const override { return max_batch_; }
  std::string check(const JetBatch& batch) override;
  std::string run(const JetBatch& batch) override;
  void write(std::int64_t n, const ucluster_outputs& outputs) const override;

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
