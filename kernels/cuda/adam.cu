// TF1 Adam update on the GPU. The explicit round-to-nearest intrinsics keep nvcc from contracting
// a*b+c into fused multiply-adds, so every element rounds exactly as in the CPU body.
#include "kernels/cuda/adam.h"
#include "kernels/cuda/common.cuh"

namespace ucluster::cuda {

namespace {
__global__ void adam_kernel(float* params, const float* grads, float* m, float* v, std::int64_t n, float lr,
                            float one_minus_beta1, float one_minus_beta2, float eps) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float g = grads[i];
    const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(g, m[i]), one_minus_beta1));
    const float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(g, g), v[i]), one_minus_beta2));
    m[i] = mi;
    v[i] = vi;
    params[i] = __fsub_rn(params[i], __fdiv_rn(__fmul_rn(mi, lr), __fadd_rn(__fsqrt_rn(vi), eps)));
  }
}
}  // namespace

void adam_update(Context& ctx, float* params, const float* grads, float* m, float* v, std::int64_t n, double lr_t,
                 double beta1, double beta2, double epsilon) {
  if (n == 0) return;
  // (1 - beta) in float32, as TF's ApplyAdam and the CPU body compute it.
  const float one_minus_beta1 = 1.0f - static_cast<float>(beta1);
  const float one_minus_beta2 = 1.0f - static_cast<float>(beta2);
  adam_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(params, grads, m, v, n, static_cast<float>(lr_t),
                                                         one_minus_beta1, one_minus_beta2,
                                                         static_cast<float>(epsilon));
  check_launch("adam");
}

}  // namespace ucluster::cuda
