#include "model/inference_graph.h"

#include <string>

#include "engine/cuda_runtime.h"

namespace ucluster::model {

namespace {

template <typename Jets>
InferenceOutput inference_forward(const UClusterModel& model, const ParamStore& store, Context& ctx,
                                  const Jets& jets) {
  Tape tape(ctx, /*grad_enabled=*/false);
  const ForwardOutput out = model.forward(tape, store, jets, BatchNormMode::Inference);
  return {out.z->value, out.logits->value};
}

}  // namespace

InferenceGraph::InferenceGraph(const UClusterModel& model, const ParamStore& store, Context& ctx, std::int64_t batch)
    : model_(model),
      store_(store),
      ctx_(ctx),
      input_shape_{batch, model.dims().num_points, model.dims().num_features},
      event_(nullptr, cuda_runtime::destroy_event),
      graph_(nullptr, cuda_runtime::destroy_graph),
      exec_(nullptr, cuda_runtime::destroy_graph_exec) {
  UCLUSTER_CHECK(batch >= 1, "InferenceGraph: batch must be at least 1, got ", batch);
  UCLUSTER_CHECK(model.dims().variant == ModelVariant::Jets,
                 "InferenceGraph: captures the jet model only (the event model needs its globals per batch)");
  UCLUSTER_CHECK(store.finalized(), "InferenceGraph: the ParamStore is not finalized");
  UCLUSTER_CHECK(store.flat_params().device() == ctx.device(), "InferenceGraph: the parameters are on ",
                 store.flat_params().device().str(), " but the context is on ", ctx.device().str());
  if (ctx.device().is_cuda()) capture();
}

void InferenceGraph::capture() {
  UCLUSTER_CHECK(store_.dtype() == DType::F32, "InferenceGraph: the CUDA backend runs float32 parameters, got ",
                 dtype_name(store_.dtype()));
  ContextOptions options;
  options.device = ctx_.device().str();  // "cuda:<index>": same device, private allocator/stream/cuBLAS
  options.log = [](const std::string&) {};
  graph_ctx_ = std::make_unique<Context>(options);
  const cuda_runtime::State* mine = graph_ctx_->cuda();
  event_.reset(cuda_runtime::create_event());
  // The parameters may still be being written on the caller's stream (initialise, an optimiser step).
  cuda_runtime::stream_wait(mine, ctx_.cuda(), event_.get());

  input_ = graph_ctx_->zeros(input_shape_, DType::F32);
  // A graph replays fixed shapes, so it keeps every jet's N rows: the reference's own layout
  // (dense_jet_rows; padded points are rows like the others), made before the capture because it
  // copies from the host. Packing by multiplicity would need the jets on the host first.
  const std::int64_t batch = input_shape_[0], n = input_shape_[1], features = input_shape_[2];
  input_jets_ = JetBatch{dense_jet_rows(*graph_ctx_, batch, n, DType::F32, graph_ctx_->device()),
                         input_.reshape({batch * n, features}), Tensor()};
  // Warm-up, un-captured and with the very input buffer of the capture: the private allocator's
  // cache then holds every block size the forward asks for (the capture allocates the same sizes in
  // the same order, so it should not need cudaMalloc), cuBLAS has initialised its handle and
  // workspace, and every kernel's module is loaded. Its outputs go back to the cache here.
  inference_forward(model_, store_, *graph_ctx_, input_jets_);
  graph_ctx_->synchronize();

  cuda_runtime::begin_capture(mine);
  try {
    outputs_ = inference_forward(model_, store_, *graph_ctx_, input_jets_);
  } catch (...) {
    cuda_runtime::abort_capture(mine);
    throw;
  }
  graph_.reset(cuda_runtime::end_capture(mine));
  node_count_ = cuda_runtime::graph_node_count(graph_.get());
  exec_.reset(cuda_runtime::instantiate_graph(graph_.get()));
  // A first replay, so that a launch or kernel error shows up here and not in the first run().
  cuda_runtime::launch_graph(exec_.get(), mine);
  graph_ctx_->synchronize();
}

InferenceGraph::~InferenceGraph() {
  if (!graph_ctx_) return;
  // Work queued on the caller's stream before now may still read our outputs (or the input), and a
  // replay may still run: wait for both before the graph and the private allocator go away.
  try {
    cuda_runtime::stream_wait(graph_ctx_->cuda(), ctx_.cuda(), event_.get());
    graph_ctx_->synchronize();
  } catch (const Error&) {
    // Nothing sensible to do in a destructor; the CUDA error resurfaces on the next synchronisation.
  }
}

void InferenceGraph::check_input(const Tensor& jets) const {
  UCLUSTER_CHECK(jets.defined(), "InferenceGraph::run: undefined input tensor; expected ",
                 dtype_name(store_.dtype()), input_shape_.str());
  UCLUSTER_CHECK(jets.dtype() == store_.dtype() && jets.shape() == input_shape_, "InferenceGraph::run: jets ",
                 jets.describe(), " do not match the graph's input ", dtype_name(store_.dtype()), input_shape_.str(),
                 " (batch ", input_shape_[0], ", N = ", input_shape_[1], " particles, F = ", input_shape_[2],
                 " features)");
  UCLUSTER_CHECK(jets.device().is_cpu() || jets.device() == ctx_.device(), "InferenceGraph::run: jets ",
                 jets.describe(), " must be on the CPU or on ", ctx_.device().str());
}

InferenceOutput InferenceGraph::run(const Tensor& jets) {
  check_input(jets);
  if (!captured()) return inference_forward(model_, store_, ctx_, jets);
  const cuda_runtime::State* mine = graph_ctx_->cuda();
  // The replay must start after the caller's queued work: it may produce the jets, update the
  // parameters, or still read the previous outputs, which the replay overwrites.
  cuda_runtime::stream_wait(mine, ctx_.cuda(), event_.get());
  // Context::copy queues on the private context's stream (cudaMemcpyAsync; from a pageable host
  // tensor it returns once the data is staged, so the caller may reuse the host tensor at once).
  graph_ctx_->copy(input_, jets);
  cuda_runtime::launch_graph(exec_.get(), mine);
  // Work the caller queues next on its stream sees the outputs.
  cuda_runtime::stream_wait(ctx_.cuda(), mine, event_.get());
  return outputs_;
}

}  // namespace ucluster::model
