// Per-point focal loss on the GPU (kernels/point_focal_loss.h): the FL of every row, the per-jet,
// per-class maxima and tie weights (MaxOverPoints), a one-block sum for the loss, and one thread per
// row for the gradient. The same formulas as the CPU body (kernels/focal_loss_math.h).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/point_focal_loss.h"
#include "kernels/focal_loss_math.h"

namespace ucluster::cuda {

namespace {
constexpr int kSumThreads = 256;

__global__ void row_focal_kernel(const float* logits, const std::int32_t* target, std::int64_t n_rows,
                                 cpu::PointFocalArgs a, double* fl) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < n_rows;
       r += std::int64_t(gridDim.x) * blockDim.x) {
    const float* l = logits + r * a.classes;
    double mx, sum;
    focal_softmax_stats(l, a.classes, &mx, &sum);
    fl[r] = focal_value(exp(double(l[target[r]]) - mx) / sum, a.gamma, a.alpha);
  }
}

// One thread per jet, as the CPU body.
__global__ void class_max_kernel(const std::int32_t* target, PackedRows rows, const float* weight,
                                 std::int64_t classes, const double* fl, double* class_max, double* tie_weight) {
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < rows.jets;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    double* m = class_max + b * classes;
    double* w = tie_weight + b * classes;
    for (std::int64_t c = 0; c < classes; ++c) m[c] = 0.0, w[c] = 0.0;
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) m[target[r]] = fmax(m[target[r]], fl[r]);
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r)
      if (fl[r] == m[target[r]]) w[target[r]] += double(weight[r]);
  }
}

// loss[0] = (sum_i values[i] (weight[i] when weighted)) / divisor, one block.
__global__ void sum_kernel(const double* values, const float* weight, std::int64_t n, double divisor, float* loss) {
  __shared__ double partial[kSumThreads];
  double acc = 0.0;
  for (std::int64_t i = threadIdx.x; i < n; i += kSumThreads) acc += weight ? double(weight[i]) * values[i] : values[i];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kSumThreads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(partial[0] / divisor);
}

__global__ void backward_kernel(const float* logits, const std::int32_t* target, PackedRows rows, const float* weight,
                                cpu::PointFocalArgs a, const float* dloss, const double* fl, const double* class_max,
                                const double* tie_weight, float* dlogits) {
  const std::int64_t C = a.classes;
  const double scale = double(dloss[0]) / double(a.max_over_points ? rows.jets * C : rows.jets * rows.slots);
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < rows.rows;
       r += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int32_t t = target[r];
    double share = double(weight[r]);
    if (a.max_over_points) {
      const std::int64_t at = std::int64_t(rows.row_jet[r]) * C + t;
      share = fl[r] == class_max[at] ? double(weight[r]) / tie_weight[at] : 0.0;
    }
    if (share == 0.0) continue;
    const float* l = logits + r * C;
    double mx, sum;
    focal_softmax_stats(l, C, &mx, &sum);
    const double pt = exp(double(l[t]) - mx) / sum;
    const double coef = scale * share * focal_dvalue_dq(pt, a.gamma, a.alpha) * pt;
    for (std::int64_t c = 0; c < C; ++c)
      dlogits[r * C + c] += static_cast<float>(coef * ((c == t ? 1.0 : 0.0) - exp(double(l[c]) - mx) / sum));
  }
}

void row_values(Context& ctx, const float* logits, const std::int32_t* target, const PackedRows& rows,
                const float* weight, const cpu::PointFocalArgs& a, double* fl, double* class_max, double* tie_weight) {
  row_focal_kernel<<<grid_for(rows.rows, 128), 128, 0, stream(ctx)>>>(logits, target, rows.rows, a, fl);
  check_launch("point_focal_loss");
  if (!a.max_over_points) return;
  class_max_kernel<<<grid_for(rows.jets, 64), 64, 0, stream(ctx)>>>(target, rows, weight, a.classes, fl, class_max,
                                                                    tie_weight);
  check_launch("point_focal_loss");
}
}  // namespace

void point_focal_loss_forward(Context& ctx, const float* logits, const std::int32_t* target, const PackedRows& rows,
                              const float* weight, const cpu::PointFocalArgs& a, double* fl, double* class_max,
                              double* tie_weight, float* loss) {
  row_values(ctx, logits, target, rows, weight, a, fl, class_max, tie_weight);
  if (a.max_over_points)
    sum_kernel<<<1, kSumThreads, 0, stream(ctx)>>>(class_max, nullptr, rows.jets * a.classes,
                                                  double(rows.jets * a.classes), loss);
  else
    sum_kernel<<<1, kSumThreads, 0, stream(ctx)>>>(fl, weight, rows.rows, double(rows.jets * rows.slots), loss);
  check_launch("point_focal_loss");
}

void point_focal_loss_backward(Context& ctx, const float* logits, const std::int32_t* target, const PackedRows& rows,
                               const float* weight, const cpu::PointFocalArgs& a, const float* dloss, double* fl,
                               double* class_max, double* tie_weight, float* dlogits) {
  if (a.max_over_points) row_values(ctx, logits, target, rows, weight, a, fl, class_max, tie_weight);
  backward_kernel<<<grid_for(rows.rows, 128), 128, 0, stream(ctx)>>>(logits, target, rows, weight, a, dloss, fl,
                                                                     class_max, tie_weight, dlogits);
  check_launch("point_focal_loss backward");
}

}  // namespace ucluster::cuda
