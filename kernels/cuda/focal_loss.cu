// Focal loss on the GPU (spec 3.1), same arithmetic as the CPU body (double inside). The batch mean
// is one block with a fixed row-to-thread assignment and a fixed tree: deterministic, no atomics.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/focal_loss.h"
#include "kernels/focal_loss_constants.h"

namespace ucluster::cuda {

namespace {
constexpr int kSumThreads = 256;  // power of two (tree reduction)

__device__ void row_softmax_stats(const float* l, std::int64_t classes, double* max_out, double* sum_out) {
  double mx = l[0];
  for (std::int64_t c = 1; c < classes; ++c) mx = fmax(mx, double(l[c]));
  double sum = 0.0;
  for (std::int64_t c = 0; c < classes; ++c) sum += exp(double(l[c]) - mx);
  *max_out = mx;
  *sum_out = sum;
}

// 1 - q clamped at 0 (q exceeds 1 by at most 1e-9 when p_t rounds to 1; see cpu/focal_loss.cpp).
__device__ double one_minus_q(double q) { return fmax(0.0, 1.0 - q); }

__global__ void focal_loss_forward_kernel(const float* logits, const std::int32_t* target, float* loss,
                                          std::int64_t batch, std::int64_t classes, double gamma, double alpha) {
  __shared__ double partial[kSumThreads];
  double acc = 0.0;
  for (std::int64_t b = threadIdx.x; b < batch; b += kSumThreads) {
    const float* l = logits + b * classes;
    double mx, sum;
    row_softmax_stats(l, classes, &mx, &sum);
    const double q = exp(double(l[target[b]]) - mx) / sum + kFocalLossEpsilon;
    acc += alpha * pow(one_minus_q(q), gamma) * (-log(q));
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kSumThreads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = static_cast<float>(partial[0] / double(batch));
}

__global__ void focal_loss_backward_kernel(const float* logits, const std::int32_t* target, const float* dloss,
                                           float* dlogits, std::int64_t batch, std::int64_t classes, double gamma,
                                           double alpha) {
  const double scale = double(dloss[0]) / double(batch);
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* l = logits + b * classes;
    float* dl = dlogits + b * classes;
    const std::int32_t t = target[b];
    double mx, sum;
    row_softmax_stats(l, classes, &mx, &sum);
    const double pt = exp(double(l[t]) - mx) / sum;
    const double q = pt + kFocalLossEpsilon;
    const double base = one_minus_q(q);
    const double first = base > 0.0 ? gamma * pow(base, gamma - 1.0) * log(q) : 0.0;
    const double coef = scale * alpha * (first - pow(base, gamma) / q) * pt;
    for (std::int64_t c = 0; c < classes; ++c) {
      const double pc = exp(double(l[c]) - mx) / sum;
      dl[c] += static_cast<float>(coef * ((c == t ? 1.0 : 0.0) - pc));
    }
  }
}
}  // namespace

void focal_loss_forward(Context& ctx, const float* logits, const std::int32_t* target, float* loss,
                        std::int64_t batch, std::int64_t classes, double gamma, double alpha) {
  focal_loss_forward_kernel<<<1, kSumThreads, 0, stream(ctx)>>>(logits, target, loss, batch, classes, gamma, alpha);
  check_launch("focal_loss");
}

void focal_loss_backward(Context& ctx, const float* logits, const std::int32_t* target, const float* dloss,
                         float* dlogits, std::int64_t batch, std::int64_t classes, double gamma, double alpha) {
  if (batch == 0) return;
  focal_loss_backward_kernel<<<grid_for(batch, 128), 128, 0, stream(ctx)>>>(logits, target, dloss, dlogits, batch,
                                                                            classes, gamma, alpha);
  check_launch("focal_loss backward");
}

}  // namespace ucluster::cuda
