// End-to-end model benchmark: training-step throughput (forward, backward, Adam, BN update) at a
// given batch size, the reference epoch (302,592 training + 75,264 test jets, spec 1.7)
// extrapolated from the measured steps, and single-jet / batched inference (single-jet also through
// the captured CUDA graph of model/inference_graph.h: replay time and host-to-host latency). Prints JSON.
//   model_throughput [--batch B] [--steps S] [--infer-batch N] [--device cpu|cuda|auto] [--threads T]
//                    [--edge-path fused|unfused|auto]
// Model FLOP/s use the reference's count (spec 7): 62.6 MFLOP per jet forward, 185 MFLOP per
// training jet, whatever shortcut the engine takes.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "model/inference_graph.h"
#include "model/ucluster_model.h"
#include "train/step.h"

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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t batch = 512, steps = 3, infer_batch = 0;
  ContextOptions opts;
  std::string edge_path = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) steps = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--infer-batch")) infer_batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--device")) opts.device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) opts.num_threads = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--edge-path")) edge_path = argv[i + 1];
  }
  Context ctx(opts);
  const model::UClusterModel model(model::ModelDims{}, model::resolve_edge_path(edge_path));
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, ctx.device());
  Rng rng(1);
  model.initialise(ctx, store, rng);
  Tensor data = ctx.to(synthetic_jets(ctx, batch, rng), ctx.device());
  std::vector<std::int32_t> target(static_cast<std::size_t>(batch));
  for (auto& t : target) t = static_cast<std::int32_t>(rng.below(19));
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

  Tensor one = ctx.to(synthetic_jets(ctx, 1, rng), ctx.device());
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
  const Tensor one_host = ctx.to(one, Device::cpu());
  graph.run(one);
  ctx.synchronize();
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) graph.run(one);
  ctx.synchronize();
  const double graph_single_s = seconds_since(t0) / reps;
  volatile float sink = 0.0f;
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) sink = sink + ctx.to_vector<float>(graph.run(one_host).z)[0];
  const double graph_latency_s = seconds_since(t0) / reps;

  if (infer_batch <= 0) infer_batch = batch;
  Tensor infer_data = infer_batch == batch ? data : ctx.to(synthetic_jets(ctx, infer_batch, rng), ctx.device());
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
  std::printf(
      "{\"device\": \"%s\", \"edge_path\": \"%s\", \"batch\": %lld, \"train_step_s\": %.5f, "
      "\"train_jets_per_s\": %.1f, "
      "\"reference_epoch_s\": %.2f, \"train_model_tflops\": %.4f, \"single_jet_inference_ms\": %.4f, "
      "\"single_jet_graph_inference_ms\": %.4f, \"single_jet_graph_latency_ms\": %.4f, "
      "\"single_jet_graph_captured\": %s, \"single_jet_graph_nodes\": %zu, "
      "\"infer_batch\": %lld, \"batch_inference_jets_per_s\": %.1f, \"peak_host_bytes\": %zu, "
      "\"peak_device_bytes\": %zu, \"train_peak_host_bytes\": %zu, \"train_peak_device_bytes\": %zu}\n",
      ctx.device_description().c_str(), model::edge_path_name(model.edge_path()), static_cast<long long>(batch),
      step_s, train_jets_s, epoch_s, train_tflops, single_s * 1e3, graph_single_s * 1e3, graph_latency_s * 1e3,
      graph.captured() ? "true" : "false", graph.node_count(), static_cast<long long>(infer_batch), infer_jets_s,
      ctx.allocator(Device::cpu()).stats().peak_bytes_in_use, peak_device, train_peak_host, train_peak_device);
  return 0;
}
