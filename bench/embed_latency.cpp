// embed_latency: latency and throughput of the embeddable inference library (embed/, through its
// public C API only, linked as the shared library libucluster) with the engine's whole-model
// inference path measured in the same run beside it. Prints one JSON object on stdout (progress
// on stderr). Not a test: nothing is asserted; the issue's targets are printed next to the figures.
//
//   embed_latency --model MODEL.ucm [--checkpoint CKPT.h5] [--golden GOLDEN.h5 | --data FILE.h5]
//                 [--repeats N] [--latency-calls N] [--min-seconds S] [--json OUT.json]
//
// The model (the published weights, the reference figure):
//   import-tf-checkpoint ../shared/reference/ucluster-published/cluster.ckpt published.h5
//   export-model published.h5 published.ucm
//   embed_latency --model published.ucm --checkpoint published.h5
// --checkpoint gives the engine peer the same weights (without it the peer runs Glorot-initialised
// weights; its timing does not depend on them, and the JSON says which).
//
// Jets: by default from the golden input jets (tests/data/golden_small.h5 'input/data', 16 real
// HLS4ML jets of 1..100 particles): a jet of n particles is one of the golden jets with >= n real
// particles cut to its first n (the highest-pt ones), so every jet holds exactly n real particles
// with realistic feature values. The throughput batches mix 30/50/100-particle jets (23/33/8 of
// every 64: mean 49.06, as HLS4ML's ~49). With --data FILE.h5 (prepare-data's layout, 'data'
// [N,100,8]) the latency jets are the file's jets of exactly n particles (else longer ones cut to
// n) and the batches are the file's first 64 / 512 jets, their real mean multiplicity reported.
//
// Measured (one round per --repeats; throughputs are the median over rounds, latency percentiles
// over all calls of all rounds):
//   latency       single jet, one session, num_threads = 1 (the calling thread), n = 30, 50, 100
//   throughput    batch 64: 1 session / 1 thread; 2 sessions on 2 std::threads sharing one model;
//                 1 session with num_threads = 2; batch 512: 1 session with 1 and 2 threads
//   engine peer   model::UClusterModel::forward in inference mode (as tools/evaluate.cpp runs it),
//                 z and logits copied to the host: batch-1 latency on 1 OpenMP thread with the
//                 padded 50-particle jet, batch-512 throughput on 2 threads with the same 512 jets
//   cuda          only if a CUDA session can be created: single jet latency and batch 4096
// Every library call asks for all four outputs (cluster, distances, latent, logits).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <ucluster/ucluster.h>

#include "cli/cli.h"
#include "engine/context.h"
#include "io/h5.h"
#include "model/ucluster_model.h"
#include "train/checkpoint.h"
#include "bench/bench_report.h"

#ifndef UCLUSTER_SOURCE_DIR
#define UCLUSTER_SOURCE_DIR "."
#endif

using namespace ucluster::bench;

namespace {

const char* kUsage = R"(usage: embed_latency --model MODEL.ucm [options]

Latency and throughput of libucluster (public C API) with the engine's whole-model inference
path measured in the same run; one JSON object on stdout.

options:
  --model FILE          .ucm model (export-model of the published checkpoint for reference figures)
  --checkpoint FILE     the HDF5 checkpoint MODEL.ucm was exported from, for the engine peer
                        (default: the peer uses Glorot-initialised weights)
  --golden FILE         golden file whose 'input/data' jets are cut to 30/50/100 particles
                        (default: tests/data/golden_small.h5 of the source tree)
  --data FILE           prepared file ('data' [N,100,8]): its own jets instead of the golden ones
  --repeats N           measurement rounds (default 5)
  --latency-calls N     timed single-jet calls per multiplicity per round (default 400)
  --min-seconds S       least time of one throughput measurement (default 0.5)
  --no-peer             skip the engine peer
  --json FILE           also write the JSON object to FILE
  --help                this text
)";

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;
constexpr int kP = UCLUSTER_MAX_PARTICLES, kF = UCLUSTER_NUM_FEATURES;
constexpr std::int64_t kJetFloats = std::int64_t(kP) * kF;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::cerr << "embed_latency: error: " << what << "\n";
  std::exit(1);
}

void check(ucluster_status s, const char* what) {
  if (s != UCLUSTER_OK)
    die(std::string(what) + ": " + ucluster_status_name(s) + ": " + ucluster_last_error());
}

int multiplicity(const float* jet) {
  for (int i = kP - 1; i >= 0; --i)
    for (int f = 0; f < kF; ++f)
      if (jet[i * kF + f] != 0.0f) return i + 1;
  return 0;
}

double mean_multiplicity(const std::vector<float>& jets) {
  const std::int64_t n = std::int64_t(jets.size()) / kJetFloats;
  double s = 0;
  for (std::int64_t j = 0; j < n; ++j) s += multiplicity(jets.data() + j * kJetFloats);
  return s / double(n);
}

// Jets of the benchmark: latency jets per multiplicity and the two batches.
struct Jets {
  std::string source;
  std::vector<std::vector<float>> latency[3];  // per n in kSizes: candidate jets [100*8] each
  std::vector<std::string> latency_note;
  std::vector<float> batch64, batch512;        // [64 | 512][100][8]
};
constexpr int kSizes[3] = {30, 50, 100};

std::vector<float> cut(const float* jet, int n) {
  std::vector<float> out(jet, jet + kJetFloats);
  std::fill(out.begin() + std::int64_t(n) * kF, out.end(), 0.0f);
  return out;
}

std::vector<float> read_jets(const std::string& path, const std::string& dataset, std::int64_t max_jets) {
  const ucluster::h5::File f = ucluster::h5::File::open(path);
  const ucluster::h5::Dataset d = f.open_dataset(dataset);
  const auto shape = d.shape();
  if (shape.size() != 3 || shape[1] != kP || shape[2] != kF)
    die("'" + path + "' " + dataset + " is not [N, 100, 8]");
  const std::int64_t n = std::min<std::int64_t>(shape[0], max_jets);
  std::vector<float> out(static_cast<std::size_t>(n * kJetFloats));
  d.read_rows<float>(0, n, out.data());
  return out;
}

// Fills batch `out` with `count` jets: 23/33/8 of every 64 with 30/50/100 particles, in a fixed
// shuffled order, each cycling through that multiplicity's candidates.
std::vector<float> mixed_batch(const Jets& j, int count, std::uint64_t seed) {
  std::vector<int> kinds;
  for (int i = 0; i < count; ++i) {
    const int r = i % 64;
    kinds.push_back(r < 23 ? 0 : r < 56 ? 1 : 2);
  }
  std::uint64_t s = seed;
  for (int i = count - 1; i > 0; --i) {  // Fisher-Yates with a 64-bit LCG
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    std::swap(kinds[i], kinds[(s >> 33) % std::uint64_t(i + 1)]);
  }
  std::vector<float> out;
  int used[3] = {0, 0, 0};
  for (int k : kinds) {
    const auto& c = j.latency[k];
    const auto& jet = c[used[k]++ % c.size()];
    out.insert(out.end(), jet.begin(), jet.end());
  }
  return out;
}

Jets golden_jets(const std::string& path) {
  Jets j;
  j.source = "golden '" + path + "' input/data, cut to n particles";
  const std::vector<float> all = read_jets(path, "input/data", 1 << 20);
  const std::int64_t n_jets = std::int64_t(all.size()) / kJetFloats;
  for (int s = 0; s < 3; ++s) {
    int ids = 0;
    std::string from;
    for (std::int64_t i = 0; i < n_jets; ++i) {
      const float* jet = all.data() + i * kJetFloats;
      const int m = multiplicity(jet);
      if (m >= kSizes[s]) {
        j.latency[s].push_back(cut(jet, kSizes[s]));
        from += (ids++ ? "," : "") + std::to_string(i) + "(" + std::to_string(m) + ")";
      }
    }
    if (j.latency[s].empty()) die("no golden jet has " + std::to_string(kSizes[s]) + " particles");
    j.latency_note.push_back("golden jets " + from + " cut to " + std::to_string(kSizes[s]));
  }
  j.batch64 = mixed_batch(j, 64, 1);
  j.batch512 = mixed_batch(j, 512, 2);
  return j;
}

Jets data_jets(const std::string& path) {
  Jets j;
  j.source = "prepared file '" + path + "' data";
  const std::vector<float> all = read_jets(path, "data", 65536);
  const std::int64_t n_jets = std::int64_t(all.size()) / kJetFloats;
  if (n_jets == 0) die("'" + path + "' holds no jets");
  for (int s = 0; s < 3; ++s) {
    for (bool exact : {true, false}) {
      for (std::int64_t i = 0; i < n_jets && j.latency[s].size() < 64; ++i) {
        const float* jet = all.data() + i * kJetFloats;
        const int m = multiplicity(jet);
        if (exact ? m == kSizes[s] : m > kSizes[s]) j.latency[s].push_back(cut(jet, kSizes[s]));
      }
      if (!j.latency[s].empty()) {
        j.latency_note.push_back(std::to_string(j.latency[s].size()) + " jets of the file " +
                                 (exact ? "with exactly " : "cut to ") + std::to_string(kSizes[s]));
        break;
      }
    }
    if (j.latency[s].empty()) die("no jet of '" + path + "' has " + std::to_string(kSizes[s]) + " particles");
  }
  for (int b : {64, 512}) {
    std::vector<float>& out = b == 64 ? j.batch64 : j.batch512;
    for (int i = 0; i < b; ++i) {
      const float* jet = all.data() + (i % n_jets) * kJetFloats;
      out.insert(out.end(), jet, jet + kJetFloats);
    }
  }
  return j;
}

// --- The library -------------------------------------------------------------------------------

struct Outputs {
  std::vector<std::int32_t> cluster;
  std::vector<float> distances, latent, logits;
  ucluster_outputs out{};
  explicit Outputs(std::int64_t n)
      : cluster(n), distances(n * UCLUSTER_NUM_CLUSTERS), latent(n * UCLUSTER_LATENT_DIM),
        logits(n * UCLUSTER_NUM_CLASSES) {
    out.cluster = cluster.data();
    out.distances = distances.data();
    out.latent = latent.data();
    out.logits = logits.data();
  }
};

struct Session {
  ucluster_session* s = nullptr;
  Session(const ucluster_model* m, std::int64_t max_batch, int threads, ucluster_device device = UCLUSTER_DEVICE_CPU) {
    ucluster_session_options o;
    ucluster_session_options_init(&o);
    o.device = device;
    o.max_batch = max_batch;
    o.num_threads = threads;
    check(ucluster_session_create(m, &o, &s), "ucluster_session_create");
  }
  ~Session() { ucluster_session_destroy(s); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

void run(const Session& s, const std::vector<float>& jets, Outputs& o) {
  check(ucluster_run_features(s.s, jets.data(), std::int64_t(jets.size()) / kJetFloats, &o.out),
        "ucluster_run_features");
}

// Per-call latencies (seconds) of `calls` single-jet runs cycling through the candidates.
std::vector<double> latencies(const Session& s, const std::vector<std::vector<float>>& candidates, int calls) {
  Outputs o(1);
  for (int w = 0; w < 20; ++w) run(s, candidates[w % candidates.size()], o);  // warm-up
  std::vector<double> t;
  t.reserve(calls);
  for (int c = 0; c < calls; ++c) {
    const auto& jet = candidates[c % candidates.size()];
    const auto t0 = Clock::now();
    check(ucluster_run_features(s.s, jet.data(), 1, &o.out), "ucluster_run_features");
    t.push_back(seconds_since(t0));
  }
  return t;
}

// jets/s of `sessions` sessions, each on its own std::thread (the calling thread for one), running
// the batch repeatedly for at least min_seconds (each thread the same number of batches).
double throughput(const ucluster_model* model, const std::vector<float>& batch, int sessions, int threads_per_session,
                  double min_seconds) {
  const std::int64_t b = std::int64_t(batch.size()) / kJetFloats;
  std::vector<std::unique_ptr<Session>> ss;
  std::vector<std::unique_ptr<Outputs>> os;
  for (int i = 0; i < sessions; ++i) {
    ss.push_back(std::make_unique<Session>(model, b, threads_per_session));
    os.push_back(std::make_unique<Outputs>(b));
    run(*ss.back(), batch, *os.back());  // warm-up
  }
  // Calibrate the number of batches from one timed batch.
  auto t0 = Clock::now();
  run(*ss[0], batch, *os[0]);
  const double one = seconds_since(t0);
  const int iters = std::max(3, int(std::ceil(min_seconds / std::max(one, 1e-6))));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto body = [&](int i) {
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) {
    }
    for (int k = 0; k < iters; ++k) run(*ss[i], batch, *os[i]);
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < sessions; ++i) threads.emplace_back(body, i);
  while (ready.load() < sessions - 1) std::this_thread::yield();
  t0 = Clock::now();
  go.store(true, std::memory_order_release);
  ready.fetch_add(1);
  for (int k = 0; k < iters; ++k) run(*ss[0], batch, *os[0]);
  for (auto& t : threads) t.join();
  const double s = seconds_since(t0);
  return double(b) * iters * sessions / s;
}

// --- The engine peer ---------------------------------------------------------------------------

struct Peer {
  ucluster::model::UClusterModel model;
  ucluster::ParamStore store;
  std::string weights;
};

std::vector<float> engine_forward(ucluster::Context& ctx, const Peer& p, const std::vector<float>& jets,
                                  std::vector<float>* logits = nullptr) {
  using namespace ucluster;
  const std::int64_t b = std::int64_t(jets.size()) / kJetFloats;
  const Tensor data = ctx.from_vector<float>({b, kP, kF}, jets);
  Tape tape(ctx, false);
  const model::ForwardOutput fwd = p.model.forward(tape, p.store, data, model::BatchNormMode::Inference);
  std::vector<float> z = ctx.to_vector<float>(fwd.z->value);
  std::vector<float> l = ctx.to_vector<float>(fwd.logits->value);
  if (logits) *logits = std::move(l);
  return z;
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  std::string model_path, checkpoint, golden = std::string(UCLUSTER_SOURCE_DIR) + "/tests/data/golden_small.h5", data,
                                      json_out;
  int repeats = 5, latency_calls = 400;
  double min_seconds = 0.5;
  bool peer_on = true;
  const auto option = [&](ucluster::cli::Arguments& a) {
    if (a.is("--model")) model_path = a.value();
    else if (a.is("--checkpoint")) checkpoint = a.value();
    else if (a.is("--golden")) golden = a.value();
    else if (a.is("--data")) data = a.value();
    else if (a.is("--repeats")) repeats = int(a.integer(1, 1000));
    else if (a.is("--latency-calls")) latency_calls = int(a.integer(10, 10000000));
    else if (a.is("--min-seconds")) min_seconds = a.number(0.0, 3600.0);
    else if (a.is("--no-peer")) peer_on = false;
    else if (a.is("--json")) json_out = a.value();
    else a.unknown();
  };
  return ucluster::cli::tool_main("embed_latency", kUsage, argc, argv, option, [&] {
    using namespace ucluster;
    UCLUSTER_CHECK(!model_path.empty(), "--model is required (see --help: export-model makes one)");
    const std::string load_start = load_average();
    const Jets jets = data.empty() ? golden_jets(golden) : data_jets(data);

    ucluster_model* model = nullptr;
    check(ucluster_model_load_file(model_path.c_str(), &model), "ucluster_model_load_file");

    // The engine peer: its own contexts (1 and 2 OpenMP threads), the same weights when given.
    std::unique_ptr<Peer> peer;
    if (peer_on) {
      peer = std::make_unique<Peer>();
      ContextOptions co;
      co.device = "cpu";
      co.num_threads = 1;
      Context ctx(co);
      peer->model.declare(peer->store);
      peer->store.finalize(ctx, Device::cpu());
      if (!checkpoint.empty()) {
        CheckpointData ck;
        load_checkpoint(ctx, checkpoint, peer->store, &ck);
        peer->weights = "checkpoint '" + checkpoint + "'";
      } else {
        Rng rng(1);
        peer->model.initialise(ctx, peer->store, rng);
        peer->weights = "Glorot-initialised (no --checkpoint): timing only";
      }
    }

    std::vector<double> lat[3], round_p50[3];
    std::vector<double> tp64_1s1t, tp64_2s, tp64_1s2t, tp512_1t, tp512_2t, peer_lat, peer512;
    for (int r = 0; r < repeats; ++r) {
      std::cerr << "embed_latency: round " << r + 1 << "/" << repeats << " (load " << load_average() << ")\n";
      {
        Session s(model, 1, 1);
        for (int i = 0; i < 3; ++i) {
          const auto t = latencies(s, jets.latency[i], latency_calls);
          lat[i].insert(lat[i].end(), t.begin(), t.end());
          round_p50[i].push_back(percentile(t, 50) * 1e3);
        }
      }
      tp64_1s1t.push_back(throughput(model, jets.batch64, 1, 1, min_seconds));
      tp64_2s.push_back(throughput(model, jets.batch64, 2, 1, min_seconds));
      tp64_1s2t.push_back(throughput(model, jets.batch64, 1, 2, min_seconds));
      tp512_1t.push_back(throughput(model, jets.batch512, 1, 1, min_seconds));
      tp512_2t.push_back(throughput(model, jets.batch512, 1, 2, min_seconds));
      if (peer) {
        {
          ContextOptions co;
          co.device = "cpu";
          co.num_threads = 1;
          Context ctx(co);
          // The library's 50-particle jets, each one jet padded to 100 rows.
          const auto& ones = jets.latency[1];
          for (int w = 0; w < 5; ++w) engine_forward(ctx, *peer, ones[w % ones.size()]);
          const int calls = std::max(20, latency_calls / 4);
          for (int c = 0; c < calls; ++c) {
            const auto& one = ones[c % ones.size()];
            const auto t0 = Clock::now();
            engine_forward(ctx, *peer, one);
            peer_lat.push_back(seconds_since(t0));
          }
        }
        {
          ContextOptions co;
          co.device = "cpu";
          co.num_threads = 2;
          Context ctx(co);
          engine_forward(ctx, *peer, jets.batch512);  // warm-up
          int iters = 0;
          const auto t0 = Clock::now();
          do {
            engine_forward(ctx, *peer, jets.batch512);
            ++iters;
          } while (seconds_since(t0) < min_seconds || iters < 2);
          peer512.push_back(512.0 * iters / seconds_since(t0));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let OpenMP workers go idle
      }
    }

    const CpuInfo cpu = cpu_info();
    json j;
    j["benchmark"] = "embed_latency";
    j["cpu_model"] = cpu.model;
    j["cores"] = cpu.cores;
    j["logical_cpus"] = cpu.logical;
    j["cpu_isa"] = cpu.isa;
    j["commit"] = commit(UCLUSTER_SOURCE_DIR);
    j["library_version"] = ucluster_version();
    j["model"] = model_path;
    j["inverse_temperature"] = ucluster_model_inverse_temperature(model);
    j["jets"] = jets.source;
    j["latency_jets"] = jets.latency_note;
    j["repeats"] = repeats;
    j["latency_calls_per_size"] = latency_calls * repeats;
    j["load_average_start"] = load_start;
    j["outputs_requested"] = "cluster, distances, latent, logits";

    json lj = json::object();
    for (int i = 0; i < 3; ++i) {
      lj["n" + std::to_string(kSizes[i])] = {{"particles", kSizes[i]},
                                             {"p50_ms", percentile(lat[i], 50) * 1e3},
                                             {"p99_ms", percentile(lat[i], 99) * 1e3},
                                             {"min_ms", percentile(lat[i], 1e-9) * 1e3},
                                             {"p50_ms_of_each_round", summary(round_p50[i])},
                                             {"calls", lat[i].size()}};
    }
    j["single_jet_latency_1_thread"] = lj;
    j["target_p50_ms_at_50"] = 0.5;
    j["target_p50_at_50_met"] = percentile(lat[1], 50) * 1e3 <= 0.5;

    const double m64 = mean_multiplicity(jets.batch64), m512 = mean_multiplicity(jets.batch512);
    const double a = median(tp64_1s1t), b2s = median(tp64_2s), b2t = median(tp64_1s2t);
    j["throughput_batch64"] = {
        {"batch", 64},
        {"mean_multiplicity", m64},
        {"one_session_one_thread_jets_per_s", summary(tp64_1s1t)},
        {"two_sessions_two_std_threads_jets_per_s", summary(tp64_2s)},
        {"one_session_num_threads_2_jets_per_s", summary(tp64_1s2t)},
        {"ratio_two_sessions_vs_one", b2s / a},
        {"ratio_num_threads_2_vs_1", b2t / a},
        {"target_ratio", 1.8}};
    j["throughput_batch512"] = {{"batch", 512},
                                {"mean_multiplicity", m512},
                                {"one_thread_jets_per_s", summary(tp512_1t)},
                                {"num_threads_2_jets_per_s", summary(tp512_2t)},
                                {"ratio_2_vs_1_thread", median(tp512_2t) / median(tp512_1t)}};

    if (peer) {
      ContextOptions co;
      co.device = "cpu";
      co.num_threads = 1;
      Context ctx(co);
      // Agreement on the batch-64 jets: the same weights must give the same z.
      Outputs o(64);
      {
        Session s(model, 64, 1);
        run(s, jets.batch64, o);
      }
      const std::vector<float> z = engine_forward(ctx, *peer, jets.batch64);
      double dz = 0;
      for (std::size_t i = 0; i < z.size(); ++i) dz = std::max(dz, std::fabs(double(z[i]) - o.latent[i]));
      j["engine_peer"] = {
          {"path", "model::UClusterModel::forward (BatchNormMode::Inference, default edge path), z and logits to host"},
          {"weights", peer->weights},
          {"single_jet_latency_1_thread",
           {{"particles", 50},
            {"padded_to", 100},
            {"p50_ms", percentile(peer_lat, 50) * 1e3},
            {"p99_ms", percentile(peer_lat, 99) * 1e3},
            {"calls", peer_lat.size()}}},
          {"batch512_2_threads_jets_per_s", summary(peer512)},
          {"library_vs_engine",
           {{"latency_p50_at_50_speedup", percentile(peer_lat, 50) / percentile(lat[1], 50)},
            {"batch512_2_threads_speedup", median(tp512_2t) / median(peer512)}}},
          {"max_abs_z_difference_batch64", dz}};
    }

    // CUDA: only where a CUDA session can be created.
    {
      ucluster_session_options o;
      ucluster_session_options_init(&o);
      o.device = UCLUSTER_DEVICE_CUDA;
      o.max_batch = 4096;
      ucluster_session* cs = nullptr;
      const ucluster_status st = ucluster_session_create(model, &o, &cs);
      if (st != UCLUSTER_OK) {
        j["cuda"] = {{"available", false},
                     {"reason", std::string(ucluster_status_name(st)) + ": " + ucluster_last_error()},
                     {"claims", "none: no CUDA figure is measured or claimed"}};
      } else {
        Session one_s(model, 1, 1, UCLUSTER_DEVICE_CUDA);
        std::vector<double> t;
        for (int r = 0; r < repeats; ++r) {
          const auto v = latencies(one_s, jets.latency[1], latency_calls);
          t.insert(t.end(), v.begin(), v.end());
        }
        std::vector<float> big;
        for (int i = 0; i < 8; ++i) big.insert(big.end(), jets.batch512.begin(), jets.batch512.end());
        Outputs out(4096);
        check(ucluster_run_features(cs, big.data(), 4096, &out.out), "ucluster_run_features (cuda)");
        std::vector<double> tp;
        for (int r = 0; r < repeats; ++r) {
          int iters = 0;
          const auto t0 = Clock::now();
          do {
            check(ucluster_run_features(cs, big.data(), 4096, &out.out), "ucluster_run_features (cuda)");
            ++iters;
          } while (seconds_since(t0) < min_seconds || iters < 2);
          tp.push_back(4096.0 * iters / seconds_since(t0));
        }
        j["cuda"] = {{"available", true},
                     {"single_jet_50_latency", {{"p50_us", percentile(t, 50) * 1e6}, {"p99_us", percentile(t, 99) * 1e6}}},
                     {"batch4096_jets_per_s", summary(tp)},
                     {"mean_multiplicity", m512},
                     {"targets", "single jet <= 50 us, >= 1e6 jets/s at batch 4096"}};
      }
      ucluster_session_destroy(cs);
    }
    j["load_average_end"] = load_average();
    ucluster_model_destroy(model);

    std::cout << j.dump() << "\n";
    if (!json_out.empty()) {
      std::ofstream f(json_out);
      f << j.dump(2) << "\n";
      UCLUSTER_CHECK(f.good(), "cannot write '", json_out, "'");
    }
    return 0;
  });
}
