// The UCluster jet model: ABCNet encoder (two graph-attention blocks), the 3-d latent z from the
// average pool, the 256-128-20 mass-bin head, and the k-means centroids `mu` (spec 2.4); and its
// event variant for anomaly detection (ModelDims::variant, ucluster-ad-spec.md 2): globals joined
// before the aggregation, a 2-d latent from a max pool, a per-particle 21-class head.
//
// Parameters live in a ParamStore (declare() then finalize), so all 186,210 trainable numbers are
// one flat buffer. forward() builds the differentiable graph on a Tape for a batch of jets.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/jet_rows.h"
#include "kernels/batch_norm.h"
#include "model/layers.h"

namespace ucluster::model {

enum class BatchNormMode { Train, Inference };

// Batch statistics of one BN layer in training mode (the inputs of the moving-average update).
struct BatchStats {
  std::string layer;
  Tensor mean, var;
};

struct ForwardOutput {
  Var z;         // [B, latent]: the embedding k-means works on
  Var logits;    // [B, num_classes]; the event model: [R, num_classes], one per packed row
  bool point_logits = false;  // logits per packed row (the event model's per-particle head)
  JetRows rows;  // the packed rows every per-point tensor and capture is laid out in
  Tensor knn1;   // [R, k] int32, absolute rows, TF order (kernels/knn.h; unpack_neighbours for [B, N, k])
  Tensor knn2;
  std::vector<BatchStats> batch_stats;  // training mode only, in layer order
};

// How a GAP block computes the part on its B N k edges (spec 2.3): the fused kernels of
// kernels/edge_attention.h, which never store a per-edge, per-channel tensor, or the chain of
// separate ops (edge_diff, bias_add, batch norm, ReLU, dense, attention_aggregate, neighbour_max).
// The same function; they differ only in float rounding.
// Auto picks per pass (UClusterModel::edge_path_for): measured on the CPU (2 cores, batch 512, toy
// jets of mean multiplicity 53, packed rows, both paths in one session) the unfused path trains
// 1.1x as fast (the fused one recomputes y about a dozen times a step and the CPU is compute-bound)
// and the fused one infers 1.45x as fast in 0.4x the memory, so a CPU inference pass runs fused,
// everything else unfused. On CUDA, auto stays unfused until
// tools/gpu-check has verified the fused kernels on a GPU (it runs the parity tests and benchmarks
// of both paths).
enum class EdgePath { Fused, Unfused, Auto };

constexpr EdgePath kDefaultEdgePath = EdgePath::Auto;

// "fused", "unfused" or "auto".
EdgePath resolve_edge_path(const std::string& request);
const char* edge_path_name(EdgePath path);

// Named intermediate tensors ("gap0.y", "net02", "knn1", "agg", ...), filled when requested; per-point
// ones in packed rows [R, ...] (engine/jet_rows.h's unpack_rows gives the reference's [B, N, ...]).
using Capture = std::map<std::string, Tensor>;

class UClusterModel {
 public:
  explicit UClusterModel(ModelDims dims = {}, EdgePath edge_path = kDefaultEdgePath);

  const ModelDims& dims() const { return dims_; }
  EdgePath edge_path() const { return edge_path_; }
  // The path a forward in `mode` on `device` takes (Auto resolved, see EdgePath).
  EdgePath edge_path_for(BatchNormMode mode, Device device) const;
  const std::vector<LayerSpec>& layers() const { return layers_; }

  // Declares every trainable tensor and BN moving statistic in forward order.
  void declare(ParamStore& store) const;
  // Xavier/Glorot-uniform weights, zero biases, BN gamma 1 / beta 0, moving statistics 0 and
  // centroids 0, as the reference initialises them (spec 2.1).
  void initialise(Context& ctx, const ParamStore& store, Rng& rng) const;

  // batch: the jets as packed rows (engine/jet_rows.h): every jet costs its real particles plus one
  // row for all its padding (shared/design/padding-compression.md). Training mode uses batch
  // statistics; inference mode the moving ones. bn_sync (training mode): batch statistics over
  // the jets of every replica of a data-parallel job (synchronised batch norm); empty: this
  // batch's jets only.
  ForwardOutput forward(Tape& tape, const ParamStore& store, const JetBatch& batch, BatchNormMode mode,
                        Capture* capture = nullptr, const ReplicaSum& bn_sync = {}) const;
  // The same for jets [B, N, F] as stored (padding included): packs them first (pack_jets, which
  // reads them on the host) onto the context's device.
  ForwardOutput forward(Tape& tape, const ParamStore& store, const Tensor& data, BatchNormMode mode,
                        Capture* capture = nullptr, const ReplicaSum& bn_sync = {}) const;

  // shadow -= (1 - decay) * (shadow - batch statistic), for every BN layer of a training forward.
  void update_moving_statistics(Context& ctx, const ParamStore& store, const ForwardOutput& out,
                                double decay) const;

 private:
  struct Pass;
  // The event model after the backbone (ucluster-ad-spec.md 2.2 rows 11-18).
  void event_head(Pass& pass, const JetBatch& batch, const Var& net01, const Var& net02, const Var& net11,
                  const Var& net12, const Var& g0, const Var& g1) const;
  ModelDims dims_;
  EdgePath edge_path_;
  std::vector<LayerSpec> layers_;
};

// Number of trainable scalars of the reference configuration, checked against the TF checkpoint.
constexpr std::int64_t kReferenceParameterCount = 186210;

}  // namespace ucluster::model
