#include "kernels/knn.h"

#include <limits>

#include "kernels/cpu/knn.h"
#include "kernels/cuda/knn.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {

void check_knn_input(const char* op, const Tensor& x, std::int64_t min_features, std::int64_t k) {
  check_rank(op, "input", x, 3);
  UCLUSTER_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, op, ": input must be float32 or float64, got ",
                 x.describe());
  UCLUSTER_CHECK(x.dim(2) >= min_features, op, ": input ", x.describe(), " needs at least ", min_features,
                 " features per point");
  const std::int64_t n = x.dim(1);
  UCLUSTER_CHECK(k >= 1 && k <= n, op, ": k = ", k, " must be between 1 and the number of points N = ", n,
                 " (input ", x.describe(), ")");
  UCLUSTER_CHECK(n <= std::numeric_limits<std::int32_t>::max(), op, ": N = ", n, " does not fit int32 indices");
}

void check_knn(const char* op, const Tensor& x, std::int64_t min_features, std::int64_t k, const Tensor& idx) {
  check_knn_input(op, x, min_features, k);
  const std::int64_t n = x.dim(1);
  check_dtype(op, "index output", idx, DType::I32);
  check_shape(op, "index output", idx, Shape{x.dim(0), n, k});
  check_same_device(op, x, idx);
}

}  // namespace

void knn_coordinates_forward(Context& ctx, const Tensor& x, std::int64_t k, const Tensor& idx) {
  // Features 0, 1 are the coordinates, feature 2 the padding flag (spec 2.2).
  check_knn("knn_coordinates", x, 3, k, idx);
  const std::int64_t batch = x.dim(0), n = x.dim(1), features = x.dim(2);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("knn_coordinates", x.dtype(), [&]<typename T>() {
        cpu::knn_coordinates<T>(x.data<T>(), idx.data<std::int32_t>(), batch, n, features, k);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "knn_coordinates", x,
          cuda::knn_coordinates(ctx, x.data<float>(), idx.data<std::int32_t>(), batch, n, features, k));
  }
}

void knn_features_forward(Context& ctx, const Tensor& h, std::int64_t k, const Tensor& idx) {
  check_knn("knn_features", h, 1, k, idx);
  const std::int64_t batch = h.dim(0), n = h.dim(1), channels = h.dim(2);
  switch (h.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("knn_features", h.dtype(), [&]<typename T>() {
        cpu::knn_features<T>(h.data<T>(), idx.data<std::int32_t>(), batch, n, channels, k);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "knn_features", h, cuda::knn_features(ctx, h.data<float>(), idx.data<std::int32_t>(), batch, n, channels, k));
  }
}

Tensor knn_coordinates(Context& ctx, const Tensor& x, std::int64_t k) {
  check_knn_input("knn_coordinates", x, 3, k);
  Tensor idx = ctx.empty(Shape{x.dim(0), x.dim(1), k}, DType::I32, x.device());
  knn_coordinates_forward(ctx, x, k, idx);
  return idx;
}

Tensor knn_features(Context& ctx, const Tensor& h, std::int64_t k) {
  check_knn_input("knn_features", h, 1, k);
  Tensor idx = ctx.empty(Shape{h.dim(0), h.dim(1), k}, DType::I32, h.device());
  knn_features_forward(ctx, h, k, idx);
  return idx;
}

Tensor knn_coordinates(Tape& tape, const Var& x, std::int64_t k) { return knn_coordinates(tape.ctx(), x->value, k); }

Tensor knn_features(Tape& tape, const Var& h, std::int64_t k) { return knn_features(tape.ctx(), h->value, k); }

}  // namespace ucluster
