// Focal loss on the GPU (spec 3.1), same arithmetic as the CPU body (double inside). The batch mean
// is one block with a fixed row-to-thread assignment and a fixed tree: deterministic, no atomics.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/focal_loss.h"
#include "kernels/focal_loss_math.h"

namespace ucluster::cuda {

namespace {
constexpr int kSumThreads = 256;  // power of two (tree reduction)

__global__ void focal_loss_forward_kernel(const float* logits, const std::int32_t* target, float* loss,
                                          std::int64_t batch, std::int64_t classes, double gamma, double alpha) {
  __shared__ double partial[kSumThreads];
  double acc = 0.0;
  for (std::int64_t b = threadIdx.x; b < batch; b += kSumThreads) {
    const float* l = logits + b * classes;
    double mx, sum;
    focal_softmax_stats(l, classes, &mx, &sum);
    acc += focal_value(exp(double(l[target[b]]) - mx) / sum, gamma, alpha);
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
    focal_softmax_stats(l, classes, &mx, &sum);
    const double pt = exp(double(l[t]) - mx) / sum;
    const double coef = scale * focal_dvalue_dq(pt, gamma, alpha) * pt;
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
