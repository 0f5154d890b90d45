// Small-batch inference through a captured CUDA graph. A single-jet forward is ~200
// kernel launches of a few microseconds each, so its latency is the launch overhead; replaying the
// forward as one CUDA graph removes it.
//
// On a CUDA context the graph gets its OWN private Context on the same device (caching allocator,
// stream, cuBLAS handle): every block the captured kernels touch belongs to an allocator nobody else
// allocates from, so no block can be handed to other work between replays (the classic hazard of a
// graph captured from a shared caching allocator). run() never allocates from it. Parameters and BN
// moving statistics are read in place from the ParamStore, whose device addresses never change, so
// replays see parameters updated in place (optimiser steps, checkpoint loads) without recapture.
// On a CPU context there is no graph: run() calls the model's forward (on packed rows,
// engine/jet_rows.h). The graph keeps every jet's N rows (fixed shapes; see capture()).
//
// The model, the ParamStore and the caller's Context must outlive the InferenceGraph. run() is not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/context.h"
#include "engine/param_store.h"
#include "model/ucluster_model.h"

namespace ucluster::model {

struct InferenceOutput {
  Tensor z;       // [batch, latent]
  Tensor logits;  // [batch, num_classes]
};

class InferenceGraph {
 public:
  // Captures model.forward(Tape(no grad), store, jets, BatchNormMode::Inference) for jets of shape
  // [batch, dims.num_points, dims.num_features]. On CUDA this runs the forward three times (warm-up,
  // capture, a first replay that surfaces any launch error here rather than in run()).
  InferenceGraph(const UClusterModel& model, const ParamStore& store, Context& ctx, std::int64_t batch);
  ~InferenceGraph();
  InferenceGraph(const InferenceGraph&) = delete;
  InferenceGraph& operator=(const InferenceGraph&) = delete;

  // Copies jets (a CPU tensor, or one on the context's device written on ctx's stream or already
  // complete) into the graph's input buffer, replays the graph and returns z and logits on the
  // context's device. The outputs are the graph's own buffers: valid until the next run() (clone
  // them to keep them). Ordering: the replay starts after the work queued so far on ctx's stream,
  // and work queued afterwards on ctx's stream sees the outputs; the host does not wait (read the
  // outputs through ctx, e.g. ctx.to_vector).
  // Throws ucluster::Error naming the expected and given shapes when jets does not fit.
  InferenceOutput run(const Tensor& jets);

  // True when a CUDA graph is used (CUDA context); false on the CPU.
  bool captured() const { return exec_ != nullptr; }
  const Shape& input_shape() const { return input_shape_; }
  // Nodes of the captured graph (kernels, copies, memsets): the launches one replay saves; 0 on the CPU.
  std::size_t node_count() const { return node_count_; }

 private:
  using Handle = std::unique_ptr<void, void (*)(void*)>;

  void check_input(const Tensor& jets) const;
  void capture();

  const UClusterModel& model_;
  const ParamStore& store_;
  Context& ctx_;
  Shape input_shape_;
  std::size_t node_count_ = 0;
  // Declaration order is destruction order reversed: the executable graph, the graph and the event
  // go first, then the buffers, then the private context (which synchronises its stream).
  std::unique_ptr<Context> graph_ctx_;
  Tensor input_;
  JetBatch input_jets_;  // input_ as the rows of the dense layout

  InferenceOutput outputs_;
  Handle event_;
  Handle graph_;
  Handle exec_;
};

}  // namespace ucluster::model
