// End-to-end model benchmark: training-step throughput (forward, backward, Adam, BN update) at a
// given batch size, the reference epoch (302,592 training + 75,264 test jets, spec 1.7)
// extrapolated from the measured steps, and single-jet / batched inference (single-jet also through
// the captured CUDA graph of model/inference_graph.h: replay time and host-to-host latency). Prints JSON.
//   model_throughput [--batch B] [--steps S] [--infer-batch N] [--device cpu|cuda|auto] [--threads T]
//                    [--edge-path fused|unfused|auto] [--data FILE.h5]
// --data times the first jets of a prepared file (HLS4ML-like multiplicities; the single jet is its
// first jet) instead of synthetic jets of 20-79 particles; the JSON gives the mean multiplicity.
// Model FLOP/s use the reference's count (spec 7): 62.6 MFLOP per jet forward, 185 MFLOP per
// training jet, whatever shortcut the engine takes.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench_report.h"
#include "model/inference_graph.h"
#include "model/ucluster_model.h"
#include "train/step.h"
#ifdef UCLUSTER_BENCH_DATA
#include "io/ucluster_file.h"
#endif

using namespace ucluster;

namespace {

// Synthetic jets shaped like the preprocessed HLS4ML data: n real particles, then zero padding.
Tensor synthetic_jets(Context& ctx, std::int64_t batch, Rng& rng) {
  Tensor t = ctx.zeros({batch, 100, 8}, DType::F32, Device::cpu());
  float* p = t.data<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t n = 20 + static_cast<std::int64_t>(rng.below(60));
    for (std::int64_t i = 0; i < n; ++i) {
      float* f = p + (b * 100 + i) * 8;
      f[0] = float(rng.normal(0, 0.1));
      f[1] = float(rng.normal(0, 0.1));
      f[2] = float(-1.0 - 3.0 * rng.uniform());
      f[3] = std::sqrt(f[0] * f[0] + f[1] * f[1]);
      f[4] = float(2.0 + 3.0 * rng.uniform());
      f[5] = f[2];
      f[6] = f[4] - 0.1f;
      f[7] = float(0.9 + 0.1 * rng.uniform());
    }
  }
  return t;
}

// Jets [0, count) of a prepared file and their mass-bin targets.
struct FileJets {
  std::vector<float> data;
  std::vector<std::int32_t> target;
};

FileJets read_file_jets(const std::string& path, std::int64_t count) {
#ifdef UCLUSTER_BENCH_DATA
  const jets::UclusterFile file(path);
  UCLUSTER_CHECK(file.n_jets() >= count, "--data '", path, "' holds ", file.n_jets(), " jets; the benchmark needs ",
                 count);
  UCLUSTER_CHECK(file.n_particles() == 100 && file.n_features() == 8, "--data '", path, "' has ", file.n_particles(),
                 " particles of ", file.n_features(), " features per jet; the model takes 100 of 8");
  FileJets jets{std::vector<float>(static_cast<std::size_t>(count * 100 * 8)),
                std::vector<std::int32_t>(static_cast<std::size_t>(count))};
  file.read(0, count, jets.data.data(), jets.target.data(), nullptr, nullptr, nullptr, true);
  return jets;
#else
  (void)count;
  UCLUSTER_CHECK(false, "--data '", path, "': this build has no HDF5 support");
  return {};
#endif
}

Tensor jets_tensor(Context& ctx, const FileJets& jets, std::int64_t first, std::int64_t count) {
  const auto begin = jets.data.begin() + first * 800;
  return ctx.from_vector<float>({count, 100, 8}, std::vector<float>(begin, begin + count * 800), Device::cpu());
}

double mean(const std::vector<std::int32_t>& v) {
  double s = 0;
  for (std::int32_t x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(int argc, char** argv) {
  std::int64_t batch = 512, steps = 3, infer_batch = 0;
  ContextOptions opts;
  std::string edge_path = "auto", data_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) steps = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--infer-batch")) infer_batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--device")) opts.device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) opts.num_threads = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--edge-path")) edge_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--data")) data_path = argv[i + 1];
  }
  Context ctx(opts);
  const model::UClusterModel model(model::ModelDims{}, model::resolve_edge_path(edge_path));
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, ctx.device());
  Rng rng(1);
  model.initialise(ctx, store, rng);
  if (infer_batch <= 0) infer_batch = batch;
  const FileJets file_jets = data_path.empty() ? FileJets{} : read_file_jets(data_path, std::max(batch, infer_batch));
  // Jets stay on the host, as the trainer's batches do: every step packs them into rows
  // (engine/jet_rows.h) on the device, and that cost is timed with the step.
  Tensor data = data_path.empty() ? synthetic_jets(ctx, batch, rng) : jets_tensor(ctx, file_jets, 0, batch);
  std::vector<std::int32_t> target(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < target.size(); ++i)
    target[i] = data_path.empty() ? static_cast<std::int32_t>(rng.below(19)) : file_jets.target[i];
  Tensor targets = ctx.from_vector<std::int32_t>({batch}, target);
  AdamOptimizer optimizer(ctx, store);
  const StepSettings settings;  // joint training, inverse temperature 10, lr 1e-3, BN decay 0.9
  train_step(ctx, model, store, optimizer, data, targets, settings);  // warm-up: allocator caches, BLAS threads
  ctx.synchronize();
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t s = 0; s < steps; ++s) train_step(ctx, model, store, optimizer, data, targets, settings);
  ctx.synchronize();
  const double step_s = seconds_since(t0) / double(steps);
  // Peak of the training steps alone (the inference below at another batch size has its own).
  const std::size_t train_peak_device =
      ctx.device().is_cuda() ? ctx.allocator(ctx.device()).stats().peak_bytes_in_use : std::size_t{0};
  const std::size_t train_peak_host = ctx.allocator(Device::cpu()).stats().peak_bytes_in_use;

  Tensor one = data_path.empty() ? synthetic_jets(ctx, 1, rng) : jets_tensor(ctx, file_jets, 0, 1);
  auto infer = [&](const Tensor& x) {
    Tape tape(ctx, false);
    return model.forward(tape, store, x, model::BatchNormMode::Inference).z;
  };
  infer(one);
  const int reps = 50;
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) infer(one);
  ctx.synchronize();
  const double single_s = seconds_since(t0) / reps;

  // The same single-jet forwards replayed from a captured CUDA graph (on the CPU there is
  // no graph and these measure the plain forward): 50 back-to-back run()s, then the latency a
  // trigger-side user sees, one jet from a host tensor in and z copied back to the host, averaged.
  model::InferenceGraph graph(model, store, ctx, 1);
  const Tensor one_on_device = ctx.to(one, ctx.device());  // the replay alone, no host copy
  graph.run(one_on_device);
  ctx.synchronize();
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) graph.run(one_on_device);
  ctx.synchronize();
  const double graph_single_s = seconds_since(t0) / reps;
  volatile float sink = 0.0f;
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) sink = sink + ctx.to_vector<float>(graph.run(one).z)[0];
  const double graph_latency_s = seconds_since(t0) / reps;

  Tensor infer_data = infer_batch == batch ? data
                      : (data_path.empty() ? synthetic_jets(ctx, infer_batch, rng)
                                           : jets_tensor(ctx, file_jets, 0, infer_batch));
  infer(infer_data);  // warm-up at this size
  ctx.synchronize();
  t0 = std::chrono::steady_clock::now();
  infer(infer_data);
  ctx.synchronize();
  const double batch_infer_s = seconds_since(t0);

  const double train_jets_s = double(batch) / step_s;
  const double infer_jets_s = double(infer_batch) / batch_infer_s;
  const double epoch_s = 302592.0 / train_jets_s + 75264.0 / infer_jets_s;
  const double train_tflops = train_jets_s * 185e6 / 1e12;
  const std::size_t peak_device =
      ctx.device().is_cuda() ? ctx.allocator(ctx.device()).stats().peak_bytes_in_use : std::size_t{0};
  const bench::CpuInfo cpu = bench::cpu_info();
  std::printf(
      "{\"implementation\": \"ucluster engine\", \"cpu_model\": %s, \"threads\": %d, \"data\": %s, "
      "\"mean_multiplicity\": %.3f, \"single_jet_multiplicity\": %d, ",
      nlohmann::json(cpu.model).dump().c_str(), ctx.num_threads(),
      nlohmann::json(data_path.empty() ? "synthetic (20-79 particles)" : data_path).dump().c_str(),
      mean(count_real_points(data)), count_real_points(one).at(0));
  std::printf(
      "\"device\": \"%s\", \"edge_path\": \"%s\", \"train_edge_path\": \"%s\", "
      "\"inference_edge_path\": \"%s\", \"batch\": %lld, \"train_step_s\": %.5f, "
      "\"train_jets_per_s\": %.1f, "
      "\"reference_epoch_s\": %.2f, \"train_model_tflops\": %.4f, \"single_jet_inference_ms\": %.4f, "
      "\"single_jet_graph_inference_ms\": %.4f, \"single_jet_graph_latency_ms\": %.4f, "
      "\"single_jet_graph_captured\": %s, \"single_jet_graph_nodes\": %zu, "
      "\"infer_batch\": %lld, \"batch_inference_jets_per_s\": %.1f, \"peak_host_bytes\": %zu, "
      "\"peak_device_bytes\": %zu, \"train_peak_host_bytes\": %zu, \"train_peak_device_bytes\": %zu}\n",
      ctx.device_description().c_str(), model::edge_path_name(model.edge_path()),
      model::edge_path_name(model.edge_path_for(model::BatchNormMode::Train, ctx.device())),
      model::edge_path_name(model.edge_path_for(model::BatchNormMode::Inference, ctx.device())),
      static_cast<long long>(batch),
      step_s, train_jets_s, epoch_s, train_tflops, single_s * 1e3, graph_single_s * 1e3, graph_latency_s * 1e3,
      graph.captured() ? "true" : "false", graph.node_count(), static_cast<long long>(infer_batch), infer_jets_s,
      ctx.allocator(Device::cpu()).stats().peak_bytes_in_use, peak_device, train_peak_host, train_peak_device);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_throughput: %s\n", e.what());
    return 1;
  }
}
