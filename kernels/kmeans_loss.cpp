#include "kernels/kmeans_loss.h"

#include <cmath>

#include "kernels/cpu/kmeans_loss.h"
#include "kernels/cuda/kmeans_loss.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {

void check_kmeans(const char* op, const Tensor& z, const Tensor& mu, double alpha) {
  check_rank(op, "embeddings z", z, 2);
  check_rank(op, "centroids mu", mu, 2);
  UCLUSTER_CHECK(z.dim(1) == mu.dim(1), op, ": embeddings z ", z.describe(), " [B, D] and centroids mu ",
                 mu.describe(), " [K, D] differ in D");
  UCLUSTER_CHECK(z.dim(0) >= 1 && mu.dim(0) >= 1, op, ": need at least one jet and one centroid, got z ",
                 z.describe(), " and mu ", mu.describe());
  check_dtype(op, "centroids mu", mu, z.dtype());
  check_same_device(op, z, mu);
  UCLUSTER_CHECK(std::isfinite(alpha), op, ": the inverse temperature alpha must be finite, got ", alpha);
}

// Checks an optional output/gradient tensor against the expected shape, dtype and device.
void check_optional(const char* op, const char* what, const Tensor& t, const Shape& shape, const Tensor& like) {
  if (!t.defined()) return;
  check_shape(op, what, t, shape);
  check_dtype(op, what, t, like.dtype());
  check_same_device(op, like, t);
}
}  // namespace

void kmeans_loss_forward(Context& ctx, const Tensor& z, const Tensor& mu, double alpha, const Tensor& loss,
                         const Tensor& dist) {
  const char* op = "kmeans_loss";
  check_kmeans(op, z, mu, alpha);
  check_defined(op, "loss", loss);
  check_optional(op, "loss", loss, Shape{1}, z);
  check_optional(op, "distances", dist, Shape{z.dim(0), mu.dim(0)}, z);
  const std::int64_t batch = z.dim(0), clusters = mu.dim(0), dim = z.dim(1);
  switch (z.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, z.dtype(), [&]<typename T>() {
        cpu::kmeans_loss_forward<T>(z.data<T>(), mu.data<T>(), loss.data<T>(), ptr_or_null<T>(dist), batch,
                                    clusters, dim, alpha);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, z,
                                cuda::kmeans_loss_forward(ctx, z.data<float>(), mu.data<float>(), loss.data<float>(),
                                                          ptr_or_null<float>(dist), batch, clusters, dim, alpha));
  }
}

void kmeans_loss_backward(Context& ctx, const Tensor& z, const Tensor& mu, double alpha, const Tensor& dloss,
                          const Tensor& dz, const Tensor& dmu) {
  const char* op = "kmeans_loss backward";
  check_kmeans(op, z, mu, alpha);
  check_defined(op, "loss gradient", dloss);
  check_optional(op, "loss gradient", dloss, Shape{1}, z);
  check_optional(op, "z gradient", dz, z.shape(), z);
  check_optional(op, "mu gradient", dmu, mu.shape(), z);
  const std::int64_t batch = z.dim(0), clusters = mu.dim(0), dim = z.dim(1);
  switch (z.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, z.dtype(), [&]<typename T>() {
        cpu::kmeans_loss_backward<T>(z.data<T>(), mu.data<T>(), dloss.data<T>(), ptr_or_null<T>(dz),
                                     ptr_or_null<T>(dmu), batch, clusters, dim, alpha);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, z,
          cuda::kmeans_loss_backward(ctx, z.data<float>(), mu.data<float>(), dloss.data<float>(),
                                     ptr_or_null<float>(dz), ptr_or_null<float>(dmu), batch, clusters, dim, alpha));
  }
}

void kmeans_assign(Context& ctx, const Tensor& dist, const Tensor& assign) {
  const char* op = "kmeans_assign";
  check_rank(op, "distances", dist, 2);
  UCLUSTER_CHECK(dist.dim(1) >= 1, op, ": distances ", dist.describe(), " hold no cluster");
  check_defined(op, "assignment", assign);
  UCLUSTER_CHECK(assign.dtype() == DType::I32 && assign.shape() == Shape{dist.dim(0)}, op, ": assignment ",
                 assign.describe(), " does not match distances ", dist.describe(), " (int32 [", dist.dim(0),
                 "] expected)");
  check_same_device(op, dist, assign);
  const std::int64_t batch = dist.dim(0), clusters = dist.dim(1);
  switch (dist.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, dist.dtype(), [&]<typename T>() {
        cpu::kmeans_assign<T>(dist.data<T>(), assign.data<std::int32_t>(), batch, clusters);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, dist, cuda::kmeans_assign(ctx, dist.data<float>(), assign.data<std::int32_t>(), batch, clusters));
  }
}

Tensor kmeans_assign(Context& ctx, const Tensor& dist) {
  check_rank("kmeans_assign", "distances", dist, 2);
  Tensor assign = ctx.empty({dist.dim(0)}, DType::I32, dist.device());
  kmeans_assign(ctx, dist, assign);
  return assign;
}

KMeansLossResult kmeans_loss(Tape& tape, const Var& z, const Var& mu, double alpha) {
  Context& ctx = tape.ctx();
  const Tensor& zv = z->value;
  check_kmeans("kmeans_loss", zv, mu->value, alpha);
  Tensor loss = ctx.empty({1}, zv.dtype(), zv.device());
  Tensor dist = ctx.empty({zv.dim(0), mu->value.dim(0)}, zv.dtype(), zv.device());
  kmeans_loss_forward(ctx, zv, mu->value, alpha, loss, dist);
  Var out = tape.output(loss, {&z, &mu});
  if (out->requires_grad)
    tape.record("kmeans_loss", [&tape, z, mu, alpha, out] {
      kmeans_loss_backward(tape.ctx(), z->value, mu->value, alpha, tape.grad(out), tape.grad_if_needed(z),
                           tape.grad_if_needed(mu));
    });
  return {out, dist};
}

}  // namespace ucluster
