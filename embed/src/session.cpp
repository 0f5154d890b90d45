#include "embed/src/session.h"

#include <cmath>

#include "embed/src/jet_features.h"

namespace ucluster::embed {

namespace {

// The names of the 8 features (spec 1.3), for messages.
const char* const kFeatureNames[] = {"delta eta",  "delta phi", "log(pt/pt_jet)", "delta R",
                                     "log E",      "log(E/E_jet)", "log pt",      "cos theta_rel"};

std::string feature_name(std::int64_t f) {
  return f < 8 ? kFeatureNames[f] : "feature " + std::to_string(f);
}

bool finite_result(const JetResult& r, const model::ModelDims& d) {
  for (std::int64_t c = 0; c < d.latent; ++c)
    if (!std::isfinite(r.z[c])) return false;
  for (std::int64_t c = 0; c < d.num_clusters; ++c)
    if (!std::isfinite(r.distances[c])) return false;
  for (std::int64_t c = 0; c < d.num_classes; ++c)
    if (!std::isfinite(r.logits[c])) return false;
  return true;
}

FourMomentumJet four_momentum_jet(const ucluster_jet& j) {
  return {j.pt, j.eta, j.phi, j.energy, j.count, j.jet_pt, j.jet_eta, j.jet_phi, j.jet_energy};
}

}  // namespace

int count_real_rows(const float* jet, std::int64_t points, std::int64_t features) {
  for (std::int64_t r = points; r > 0; --r)
    for (std::int64_t c = 0; c < features; ++c)
      if (jet[(r - 1) * features + c] != 0.0f) return static_cast<int>(r);
  return 0;
}

std::string check_batch(const model::ModelDims& dims, const JetBatch& batch, int* n_real) {
  const std::int64_t points = dims.num_points, features = dims.num_features;
  for (std::int64_t b = 0; b < batch.n; ++b) {
    if (batch.jets) {
      const std::string problem = check_four_momentum_jet(four_momentum_jet(batch.jets[b]), static_cast<int>(points));
      if (!problem.empty()) return "jet " + std::to_string(b) + ": " + problem;
      continue;
    }
    const float* jet = batch.features + b * points * features;
    for (std::int64_t r = 0; r < points; ++r)
      for (std::int64_t c = 0; c < features; ++c) {
        const float v = jet[r * features + c];
        if (!std::isfinite(v))
          return "jet " + std::to_string(b) + ", particle " + std::to_string(r) + ": " + feature_name(c) + " is " +
                 (std::isnan(v) ? "NaN" : "infinite");
      }
    n_real[b] = count_real_rows(jet, points, features);
    if (n_real[b] == 0)
      return "jet " + std::to_string(b) + " has no particles (all " + std::to_string(points) + " rows are zero)";
  }
  return "";
}

void batch_jet_features(const JetBatch& batch, std::int64_t b, std::int64_t points, float* out) {
  four_momentum_features(four_momentum_jet(batch.jets[b]), static_cast<int>(points), out);
}

std::string check_results(const model::ModelDims& dims, const JetResult* results, std::int64_t n) {
  for (std::int64_t b = 0; b < n; ++b)
    if (!finite_result(results[b], dims))
      return "jet " + std::to_string(b) + " gives a NaN or infinite output: its features overflow float32 inside "
             "the network (or are far outside the range the model was trained on)";
  return "";
}

void write_results(const model::ModelDims& d, const JetResult* results, std::int64_t n, const ucluster_outputs& out) {
  for (std::int64_t b = 0; b < n; ++b) {
    const JetResult& r = results[b];
    if (out.cluster) out.cluster[b] = r.cluster;
    for (std::int64_t c = 0; c < d.num_clusters && out.distances; ++c) out.distances[b * d.num_clusters + c] = r.distances[c];
    for (std::int64_t c = 0; c < d.latent && out.latent; ++c) out.latent[b * d.latent + c] = r.z[c];
    for (std::int64_t c = 0; c < d.num_classes && out.logits; ++c) out.logits[b * d.num_classes + c] = r.logits[c];
  }
}

Session::Worker::Worker(const Network& net)
    : runner(net), features(static_cast<std::size_t>(net.dims().num_points * net.dims().num_features), 0.0f) {}

Session::Session(const Network& net, const ucluster_session_options& options)
    : net_(net), max_batch_(options.max_batch), hook_(options.parallel_for), hook_context_(options.parallel_for_context) {
  const int workers = hook_ ? options.max_workers : options.num_threads;
  for (int w = 0; w < workers; ++w) workers_.push_back(std::make_unique<Worker>(net));
  n_real_.assign(static_cast<std::size_t>(max_batch_), 0);
  results_.assign(static_cast<std::size_t>(max_batch_), JetResult{});
  bad_worker_.assign(1, 0);
  if (!hook_)
    for (int w = 1; w < workers; ++w) threads_.emplace_back([this, w] { pool_loop(w); });
}

Session::~Session() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

std::string Session::check(const JetBatch& batch) { return check_batch(net_.dims(), batch, n_real_.data()); }

void Session::run_range(const JetBatch& batch, std::int64_t begin, std::int64_t end, int worker) {
  const std::int64_t points = net_.dims().num_points, features = net_.dims().num_features;
  Worker& w = *workers_[static_cast<std::size_t>(worker)];
  for (std::int64_t b = begin; b < end; ++b) {
    const float* jet = batch.features ? batch.features + b * points * features : w.features.data();
    if (batch.jets) {
      batch_jet_features(batch, b, points, w.features.data());
      n_real_[b] = count_real_rows(jet, points, features);
    }
    w.runner.run(jet, n_real_[b], results_[b]);
  }
}

void Session::hook_body(void* context, std::int64_t begin, std::int64_t end, int worker) {
  Session* s = static_cast<Session*>(context);
  if (worker < 0 || worker >= static_cast<int>(s->workers_.size())) {
    s->bad_worker_[0] = 1;
    return;
  }
  s->run_range(*s->job_, begin, end, worker);
}

void Session::pool_loop(int worker) {
  std::uint64_t seen = 0;
  const std::int64_t workers = static_cast<std::int64_t>(workers_.size());
  for (;;) {
    const JetBatch* job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
    }
    run_range(*job, job->n * worker / workers, job->n * (worker + 1) / workers, worker);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

std::string Session::run(const JetBatch& batch) {
  if (hook_) {
    job_ = &batch;
    bad_worker_[0] = 0;
    hook_(hook_context_, batch.n, &Session::hook_body, this);
    job_ = nullptr;
    if (bad_worker_[0])
      return "the parallel_for hook passed a worker index outside [0, max_workers = " +
             std::to_string(workers_.size()) + ")";
  } else if (!threads_.empty()) {
    const std::int64_t workers = static_cast<std::int64_t>(workers_.size());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &batch;
      pending_ = static_cast<int>(workers - 1);
      ++generation_;
    }
    start_.notify_all();
    run_range(batch, 0, batch.n / workers, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  } else {
    run_range(batch, 0, batch.n, 0);
  }
  return check_results(net_.dims(), results_.data(), batch.n);
}

void Session::write(std::int64_t n, const ucluster_outputs& out) const { write_results(net_.dims(), results_.data(), n, out); }

}  // namespace ucluster::embed
