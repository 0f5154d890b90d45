// Batch normalisation on the GPU.
//
// Per-channel sums over rows use a fixed two-stage reduction: stage 1 gives every block a fixed
// slice of rows (the slice length depends only on `rows`) and a tile of 32 channels; its 8 row
// lanes sum strided rows in double and are combined in lane order. Stage 2 adds the per-slice
// partials in slice order, one thread per channel. Same inputs, same bits; no atomics.
#include <algorithm>

#include "engine/context.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/common.cuh"

namespace ucluster::cuda {

namespace {
constexpr int kTileChannels = 32;
constexpr int kRowLanes = 8;
constexpr std::int64_t kMinRowsPerSlice = 256;
constexpr std::int64_t kMaxSlices = 65535;  // gridDim.y limit

struct Slicing {
  std::int64_t rows_per_slice;
  std::int64_t slices;
};

Slicing slicing_for(std::int64_t rows) {
  const std::int64_t per = std::max(kMinRowsPerSlice, (rows + kMaxSlices - 1) / kMaxSlices);
  return {per, std::max<std::int64_t>(1, (rows + per - 1) / per)};
}

// Each functor returns the two per-element terms summed over rows for channel c.
struct MeanTerms {
  const float* x;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, double& a, double& b) const {
    a += x[r * C + c];
  }
};

struct VarianceTerms {
  const float* x;
  const double* mean;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, double& a, double& b) const {
    const double d = double(x[r * C + c]) - mean[c];
    a += d * d;
  }
};

// dy taken through the ReLU that followed the batch norm (relu_output: its output, y > 0 exactly where
// its input was; nullptr: no ReLU), as leaky_relu's backward with slope 0 computes it.
__device__ inline float through_relu(const float* relu_output, const float* dy, std::int64_t i) {
  return relu_output == nullptr || relu_output[i] > 0.0f ? dy[i] : 0.0f * dy[i];
}

// (dy, dy * x_hat) with x_hat = (x - mean) * inv_std; mean and inv_std as float or double; dy
// through the ReLU when relu_output is given.
template <typename M, typename I>
struct GradTerms {
  const float* x;
  const float* dy;
  const M* mean;
  const I* inv_std;
  std::int64_t C;
  const float* relu_output;
  __device__ void operator()(std::int64_t r, std::int64_t c, double& a, double& b) const {
    const double g = through_relu(relu_output, dy, r * C + c);
    a += g;
    b += g * (double(x[r * C + c]) - double(mean[c])) * double(inv_std[c]);
  }
};

// partial[(slice * C + c) * 2 + {0,1}] = sums of the two terms over the slice's rows (zeros when
// rows == 0, which synchronised batch norm allows on a replica).
template <typename F>
__global__ void column_partials_kernel(F f, std::int64_t rows, std::int64_t C, std::int64_t rows_per_slice,
                                       double* partial) {
  __shared__ double lane_sums[kRowLanes][kTileChannels][2];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const std::int64_t c = std::int64_t(blockIdx.x) * kTileChannels + tx;
  const std::int64_t begin = std::int64_t(blockIdx.y) * rows_per_slice;
  const std::int64_t end = min(rows, begin + rows_per_slice);
  double a = 0.0, b = 0.0;
  if (c < C)
    for (std::int64_t r = begin + ty; r < end; r += kRowLanes) f(r, c, a, b);
  lane_sums[ty][tx][0] = a;
  lane_sums[ty][tx][1] = b;
  __syncthreads();
  if (ty != 0 || c >= C) return;
  double sa = 0.0, sb = 0.0;
  for (int lane = 0; lane < kRowLanes; ++lane) {
    sa += lane_sums[lane][tx][0];
    sb += lane_sums[lane][tx][1];
  }
  double* out = partial + (std::int64_t(blockIdx.y) * C + c) * 2;
  out[0] = sa;
  out[1] = sb;
}

// sums[c * 2 + k] = sum over slices: one block per channel, thread t adding slices t, t + 256, ...
// in order, then a fixed tree over the threads (deterministic, and parallel over the slices).
constexpr int kFinishThreads = 256;
__global__ void column_finish_kernel(const double* partial, std::int64_t slices, std::int64_t C, double* sums) {
  __shared__ double sa[kFinishThreads], sb[kFinishThreads];
  const std::int64_t c = blockIdx.x;
  const int t = threadIdx.x;
  double a = 0.0, b = 0.0;
  for (std::int64_t s = t; s < slices; s += kFinishThreads) {
    a += partial[(s * C + c) * 2];
    b += partial[(s * C + c) * 2 + 1];
  }
  sa[t] = a;
  sb[t] = b;
  __syncthreads();
  for (int half = kFinishThreads / 2; half > 0; half /= 2) {
    if (t < half) {
      sa[t] += sa[t + half];
      sb[t] += sb[t + half];
    }
    __syncthreads();
  }
  if (t == 0) {
    sums[c * 2] = sa[0];
    sums[c * 2 + 1] = sb[0];
  }
}

// Device scratch in double: [slices * C * 2] partials followed by `extra` doubles.
class Scratch {
 public:
  Scratch(Context& ctx, std::int64_t rows, std::int64_t C, std::int64_t extra) : slicing_(slicing_for(rows)) {
    buffer_ = ctx.empty(Shape{slicing_.slices * C * 2 + extra}, DType::F64, Device::cuda(ctx.cuda()->device));
    partial_ = buffer_.data<double>();
    extra_ = partial_ + slicing_.slices * C * 2;
  }
  const Slicing& slicing() const { return slicing_; }
  double* partial() const { return partial_; }
  double* extra() const { return extra_; }

 private:
  Slicing slicing_;
  Tensor buffer_;
  double* partial_ = nullptr;
  double* extra_ = nullptr;
};

// sums[c*2 + k] for the two terms of f; sums points into device memory of 2*C doubles.
template <typename F>
void column_sums(Context& ctx, const Scratch& scratch, F f, std::int64_t rows, std::int64_t C, double* sums,
                 const char* op) {
  if (C == 0) return;  // no channels: an empty grid would be an invalid launch
  const Slicing& s = scratch.slicing();
  const dim3 grid(static_cast<unsigned>((C + kTileChannels - 1) / kTileChannels), static_cast<unsigned>(s.slices));
  const dim3 block(kTileChannels, kRowLanes);
  column_partials_kernel<<<grid, block, 0, stream(ctx)>>>(f, rows, C, s.rows_per_slice, scratch.partial());
  check_launch(op);
  column_finish_kernel<<<static_cast<unsigned>(C), kFinishThreads, 0, stream(ctx)>>>(scratch.partial(), s.slices, C, sums);
  check_launch(op);
}

// The local row count after the sums, for the sync call (in double: exact up to 2^53 rows).
__global__ void store_count_kernel(double* out, double count) { *out = count; }

// Training statistics from the sums: kept in double for the normalisation, written out as float.
// global_rows: the synced row count in device memory, or nullptr for this replica's rows.
__global__ void mean_kernel(const double* sums, std::int64_t rows, const double* global_rows, std::int64_t C,
                            double* mean_d, float* batch_mean) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double m = sums[c * 2] / (global_rows ? *global_rows : double(rows));
  mean_d[c] = m;
  batch_mean[c] = static_cast<float>(m);
}

__global__ void variance_kernel(const double* sums, std::int64_t rows, const double* global_rows, std::int64_t C,
                                double eps, double* inv_d, float* batch_var, float* inv_std) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double v = sums[c * 2] / (global_rows ? *global_rows : double(rows));
  const double inv = 1.0 / sqrt(v + eps);
  inv_d[c] = inv;
  batch_var[c] = static_cast<float>(v);
  inv_std[c] = static_cast<float>(inv);
}

__global__ void inverse_std_kernel(const float* var, std::int64_t C, double eps, double* inv_d) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c < C) inv_d[c] = 1.0 / sqrt(double(var[c]) + eps);
}

// y = gamma (x - mean) inv + beta, element-wise, in double; mean and inv as float or double. relu:
// then y = ReLU(y), as leaky_relu with slope 0 computes it (0 * y below 0: NaN stays NaN).
template <typename S>
__global__ void normalize_kernel(const float* x, const float* gamma, const float* beta, const S* mean,
                                 const double* inv, float* y, std::int64_t n, std::int64_t C, bool relu) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const float v =
        static_cast<float>(double(gamma[c]) * ((double(x[i]) - double(mean[c])) * inv[c]) + double(beta[c]));
    y[i] = !relu || v > 0.0f ? v : 0.0f * v;
  }
}

__global__ void add_parameter_grads_kernel(const double* sums, std::int64_t C, float* dgamma, float* dbeta) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  if (dbeta) dbeta[c] += static_cast<float>(sums[c * 2]);
  if (dgamma) dgamma[c] += static_cast<float>(sums[c * 2 + 1]);
}

// dx += gamma inv / M (M dy - sum dy - x_hat sum dy x_hat); M = *global_m when synced, else local_m.
__global__ void train_input_grad_kernel(const float* x, const float* gamma, const float* mean, const float* inv_std,
                                        const float* dy, const float* relu_output, const double* sums, float* dx,
                                        std::int64_t n, std::int64_t C, double local_m, const double* global_m) {
  const double m = global_m ? *global_m : local_m;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const double inv = inv_std[c];
    const double xhat = (double(x[i]) - double(mean[c])) * inv;
    const double scale = double(gamma[c]) * inv / m;
    const double g = through_relu(relu_output, dy, i);
    dx[i] += static_cast<float>(scale * (m * g - sums[c * 2] - xhat * sums[c * 2 + 1]));
  }
}

__global__ void inference_input_grad_kernel(const float* gamma, const double* inv, const float* dy,
                                            const float* relu_output, float* dx, std::int64_t n, std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    dx[i] += static_cast<float>(double(gamma[c]) * inv[c] * double(through_relu(relu_output, dy, i)));
  }
}

// TF's assign_moving_average order: shadow -= (shadow - value) * (1 - decay), in float.
__global__ void update_moving_kernel(float* moving_mean, float* moving_var, const float* batch_mean,
                                     const float* batch_var, std::int64_t C, float one_minus_decay) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  moving_mean[c] -= (moving_mean[c] - batch_mean[c]) * one_minus_decay;
  moving_var[c] -= (moving_var[c] - batch_var[c]) * one_minus_decay;
}
}  // namespace

void batch_norm_train_forward(Context& ctx, const float* x, const float* gamma, const float* beta, float* y,
                              float* batch_mean, float* batch_var, float* inv_std, std::int64_t rows,
                              std::int64_t channels, double eps, const ReplicaSum& sync, bool relu) {
  const std::int64_t C = channels;
  // With sync, a replica without rows (or channels) still makes its two sync calls.
  if (!sync && (rows == 0 || C == 0)) return;
  // extra: sums [2C], row count [1], mean [C], inv [C]
  Scratch scratch(ctx, rows, C, 4 * C + 1);
  double* sums = scratch.extra();
  double* count = sums + 2 * C;
  double* mean_d = count + 1;
  double* inv_d = mean_d + C;
  const double* global_rows = sync ? count : nullptr;
  const char* op = "batch_norm (training)";
  column_sums(ctx, scratch, MeanTerms{x, C}, rows, C, sums, op);
  if (sync) {
    store_count_kernel<<<1, 1, 0, stream(ctx)>>>(count, double(rows));
    check_launch(op);
    sync(sums, 2 * C + 1);
  }
  mean_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, rows, global_rows, C, mean_d, batch_mean);
  check_launch(op);
  column_sums(ctx, scratch, VarianceTerms{x, mean_d, C}, rows, C, sums, op);
  if (sync) sync(sums, 2 * C);
  variance_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, rows, global_rows, C, eps, inv_d, batch_var,
                                                              inv_std);
  check_launch(op);
  const std::int64_t n = rows * C;
  normalize_kernel<double><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, gamma, beta, mean_d, inv_d, y, n, C, relu);
  check_launch(op);
}

void batch_norm_train_backward(Context& ctx, const float* x, const float* gamma, const float* batch_mean,
                               const float* inv_std, const float* dy, float* dx, float* dgamma, float* dbeta,
                               std::int64_t rows, std::int64_t channels, const ReplicaSum& sync,
                               const float* relu_output) {
  const std::int64_t C = channels;
  // With sync, a replica without rows (or channels) still makes its sync call.
  if (!sync && (rows == 0 || C == 0)) return;
  // extra: sums [2C], row count [1]
  Scratch scratch(ctx, rows, C, 2 * C + 1);
  double* sums = scratch.extra();
  double* count = sums + 2 * C;
  const char* op = "batch_norm (training) backward";
  column_sums(ctx, scratch, GradTerms<float, float>{x, dy, batch_mean, inv_std, C, relu_output}, rows, C, sums, op);
  // The parameter gradients take the LOCAL sums (enqueued before the sync call overwrites them):
  // the data-parallel gradient all-reduce averages them later.
  if (dgamma || dbeta) {
    add_parameter_grads_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, C, dgamma, dbeta);
    check_launch(op);
  }
  if (sync) {
    store_count_kernel<<<1, 1, 0, stream(ctx)>>>(count, double(rows));
    check_launch(op);
    sync(sums, 2 * C + 1);
  }
  if (dx) {
    const std::int64_t n = rows * C;
    train_input_grad_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(
        x, gamma, batch_mean, inv_std, dy, relu_output, sums, dx, n, C, double(rows), sync ? count : nullptr);
    check_launch(op);
  }
}

void batch_norm_inference_forward(Context& ctx, const float* x, const float* gamma, const float* beta,
                                  const float* mean, const float* var, float* y, std::int64_t rows,
                                  std::int64_t channels, double eps, bool relu) {
  const std::int64_t C = channels, n = rows * channels;
  if (n == 0) return;
  const char* op = "batch_norm (inference)";
  Tensor inv = ctx.empty(Shape{C}, DType::F64, Device::cuda(ctx.cuda()->device));
  double* inv_d = inv.data<double>();
  inverse_std_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(var, C, eps, inv_d);
  check_launch(op);
  normalize_kernel<float><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, gamma, beta, mean, inv_d, y, n, C, relu);
  check_launch(op);
}

void batch_norm_inference_backward(Context& ctx, const float* x, const float* gamma, const float* mean,
                                   const float* var, const float* dy, float* dx, float* dgamma, float* dbeta,
                                   std::int64_t rows, std::int64_t channels, double eps, const float* relu_output) {
  const std::int64_t C = channels, n = rows * channels;
  if (n == 0) return;
  const char* op = "batch_norm (inference) backward";
  // extra: inv [C], sums [2C]
  Scratch scratch(ctx, rows, C, 3 * C);
  double* inv_d = scratch.extra();
  double* sums = inv_d + C;
  inverse_std_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(var, C, eps, inv_d);
  check_launch(op);
  if (dgamma || dbeta) {
    column_sums(ctx, scratch, GradTerms<float, double>{x, dy, mean, inv_d, C, relu_output}, rows, C, sums, op);
    add_parameter_grads_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, C, dgamma, dbeta);
    check_launch(op);
  }
  if (dx) {
    inference_input_grad_kernel<<<grid_for(n, 256), 256, 0, stream(ctx)>>>(gamma, inv_d, dy, relu_output, dx, n, C);
    check_launch(op);
  }
}

void batch_norm_update_moving(Context& ctx, float* moving_mean, float* moving_var, const float* batch_mean,
                              const float* batch_var, std::int64_t channels, double decay) {
  if (channels == 0) return;
  update_moving_kernel<<<grid_for(channels, 128), 128, 0, stream(ctx)>>>(
      moving_mean, moving_var, batch_mean, batch_var, channels, static_cast<float>(1.0 - decay));
  check_launch("batch_norm moving-average update");
}

}  // namespace ucluster::cuda
