#include "kernels/knn.h"

#include "kernels/cpu/knn.h"
#include "kernels/cuda/knn.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {

void check_knn_input(const char* op, const Tensor& x, const JetRows& rows, std::int64_t min_features,
                     std::int64_t k) {
  check_rank(op, "input", x, 2);
  UCLUSTER_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, op, ": input must be float32 or float64, got ",
                 x.describe());
  UCLUSTER_CHECK(x.dim(1) >= min_features, op, ": input ", x.describe(), " needs at least ", min_features,
                 " features per point");
  check_jet_rows(op, x, rows);
  UCLUSTER_CHECK(k >= 1 && k <= rows.slots, op, ": k = ", k, " must be between 1 and the points per jet P = ",
                 rows.slots, " (input ", x.describe(), ")");
}

void check_knn(const char* op, const Tensor& x, const JetRows& rows, std::int64_t min_features, std::int64_t k,
               const Tensor& idx) {
  check_knn_input(op, x, rows, min_features, k);
  check_dtype(op, "index output", idx, DType::I32);
  check_shape(op, "index output", idx, Shape{x.dim(0), k});
  check_same_device(op, x, idx);
}

// The two graphs differ in their distance (kernels/knn.h) and in the features they need: kNN #1
// reads the two coordinates and the padding flag.
enum class Graph { Coordinates, Features };

const char* name_of(Graph graph) { return graph == Graph::Coordinates ? "knn_coordinates" : "knn_features"; }
std::int64_t min_features_of(Graph graph) { return graph == Graph::Coordinates ? 3 : 1; }

void knn_forward(Context& ctx, Graph graph, const Tensor& x, const JetRows& rows, std::int64_t k, const Tensor& idx) {
  const char* op = name_of(graph);
  check_knn(op, x, rows, min_features_of(graph), k, idx);
  if (rows.rows == 0) return;
  const std::int64_t features = x.dim(1);
  const PackedRows packed = packed_rows(rows);
  std::int32_t* out = idx.data<std::int32_t>();
  const bool coordinates = graph == Graph::Coordinates;
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        if (coordinates)
          cpu::knn_coordinates<T>(x.data<T>(), packed, out, features, k);
        else
          cpu::knn_features<T>(x.data<T>(), packed, out, features, k);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, x,
                                coordinates ? cuda::knn_coordinates(ctx, x.data<float>(), packed, out, features, k)
                                            : cuda::knn_features(ctx, x.data<float>(), packed, out, features, k));
  }
}

Tensor knn(Context& ctx, Graph graph, const Tensor& x, const JetRows& rows, std::int64_t k) {
  check_knn_input(name_of(graph), x, rows, min_features_of(graph), k);
  Tensor idx = ctx.empty(Shape{x.dim(0), k}, DType::I32, x.device());
  knn_forward(ctx, graph, x, rows, k, idx);
  return idx;
}

}  // namespace

void knn_coordinates_forward(Context& ctx, const Tensor& x, const JetRows& rows, std::int64_t k, const Tensor& idx) {
  knn_forward(ctx, Graph::Coordinates, x, rows, k, idx);
}

void knn_features_forward(Context& ctx, const Tensor& h, const JetRows& rows, std::int64_t k, const Tensor& idx) {
  knn_forward(ctx, Graph::Features, h, rows, k, idx);
}

Tensor knn_coordinates(Context& ctx, const Tensor& x, const JetRows& rows, std::int64_t k) {
  return knn(ctx, Graph::Coordinates, x, rows, k);
}

Tensor knn_features(Context& ctx, const Tensor& h, const JetRows& rows, std::int64_t k) {
  return knn(ctx, Graph::Features, h, rows, k);
}

Tensor knn_coordinates(Tape& tape, const Var& x, const JetRows& rows, std::int64_t k) {
  return knn_coordinates(tape.ctx(), x->value, rows, k);
}

Tensor knn_features(Tape& tape, const Var& h, const JetRows& rows, std::int64_t k) {
  return knn_features(tape.ctx(), h->value, rows, k);
}

}  // namespace ucluster
