// Batch normalisation on the GPU, with the per-element arithmetic of kernels/batch_norm_math.h.
//
// Per-channel sums over rows go through kernels/cuda/reduce.cuh's fixed two-stage reduction: same
// inputs, same bits; no atomics. The sync buffers have the CPU body's layout and sizes: forward
// [sum x (C), rows] then [sum (x - mean)^2 (C)], backward [sum dy (C), sum dy x_hat (C), rows].
//
// Row weights (packed rows, kernels/batch_norm_math.h's RowWeights): the training statistics weight
// each row, and "rows" above becomes M = sum of the weights, summed on the device (integers: exact
// in double in any order) so that nothing waits for the host. The unweighted forms are separate
// instantiations (kWeighted false) with exactly the arithmetic of the unweighted op, so their bits
// do not change (a multiply by a runtime weight of 1 would still change which operations the
// compiler fuses into FMAs).
#include <algorithm>

#include "engine/context.h"
#include "kernels/batch_norm_math.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.cuh"

namespace ucluster::cuda {

namespace {
// The terms summed over rows for channel c (column_sums); weighted: each times its row's weight.
template <bool kWeighted>
struct MeanTerms {
  const float* x;
  std::int64_t C;
  RowWeights<float> w;
  __device__ void operator()(std::int64_t r, std::int64_t c, double (&acc)[1]) const {
    if constexpr (kWeighted)
      acc[0] += w.of(r) * double(x[r * C + c]);
    else
      acc[0] += x[r * C + c];
  }
};

template <bool kWeighted>
struct VarianceTerms {
  const float* x;
  const double* mean;
  std::int64_t C;
  RowWeights<float> w;
  __device__ void operator()(std::int64_t r, std::int64_t c, double (&acc)[1]) const {
    if constexpr (kWeighted)
      acc[0] += w.of(r) * bn_math::centered_square(double(x[r * C + c]), mean[c]);
    else
      acc[0] += bn_math::centered_square(double(x[r * C + c]), mean[c]);
  }
};

// The weights of the rows, one column: their sum is the weighted row count M.
struct WeightTerms {
  RowWeights<float> w;
  __device__ void operator()(std::int64_t r, std::int64_t, double (&acc)[1]) const { acc[0] += w.of(r); }
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
  __device__ void operator()(std::int64_t r, std::int64_t c, double (&acc)[2]) const {
    const double g = through_relu(relu_output, dy, r * C + c);
    acc[0] += g;
    acc[1] += g * bn_math::x_hat(double(x[r * C + c]), double(mean[c]), double(inv_std[c]));
  }
};

// Device scratch in double: the column_sums partials for NT terms followed by `extra` doubles.
template <int NT>
class Scratch {
 public:
  Scratch(Context& ctx, std::int64_t rows, std::int64_t C, std::int64_t extra) {
    const std::int64_t partials = column_partials_size<NT>(rows, C);
    buffer_ = ctx.empty(Shape{partials + extra}, DType::F64, Device::cuda(ctx.cuda()->device));
    partial_ = buffer_.data<double>();
    extra_ = partial_ + partials;
  }
  double* partial() const { return partial_; }
  double* extra() const { return extra_; }

 private:
  Tensor buffer_;
  double* partial_ = nullptr;
  double* extra_ = nullptr;
};

// Training statistics from the sums: kept in double for the normalisation, written out as float.
// global_rows: the synced row count in device memory, or nullptr for this replica's rows.
__global__ void mean_kernel(const double* sums, std::int64_t rows, const double* global_rows, std::int64_t C,
                            double* mean_d, float* batch_mean) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double m = sums[c] / (global_rows ? *global_rows : double(rows));
  mean_d[c] = m;
  batch_mean[c] = static_cast<float>(m);
}

__global__ void variance_kernel(const double* squares, std::int64_t rows, const double* global_rows, std::int64_t C,
                                double eps, double* inv_d, float* batch_var, float* inv_std) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double v = squares[c] / (global_rows ? *global_rows : double(rows));
  const double inv = bn_math::inv_std(v, eps);
  inv_d[c] = inv;
  batch_var[c] = static_cast<float>(v);
  inv_std[c] = static_cast<float>(inv);
}

__global__ void inverse_std_kernel(const float* var, std::int64_t C, double eps, double* inv_d) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c < C) inv_d[c] = bn_math::inv_std(double(var[c]), eps);
}

// y = gamma (x - mean) inv + beta, element-wise, in double; mean and inv as float or double. relu:
// then y = ReLU(y), as leaky_relu with slope 0 computes it (0 * y below 0: NaN stays NaN).
template <typename S>
__global__ void normalise_kernel(const float* x, const float* gamma, const float* beta, const S* mean,
                                 const double* inv, float* y, std::int64_t n, std::int64_t C, bool relu) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const float v = static_cast<float>(
        bn_math::normalised(double(x[i]), double(mean[c]), inv[c], double(gamma[c]), double(beta[c])));
    y[i] = !relu || v > 0.0f ? v : 0.0f * v;
  }
}

__global__ void add_parameter_grads_kernel(const double* sums, std::int64_t C, float* dgamma, float* dbeta) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  if (dbeta) dbeta[c] += static_cast<float>(sums[c]);
  if (dgamma) dgamma[c] += static_cast<float>(sums[C + c]);
}

// dx += gamma inv / M (M dy - w sum dy - w x_hat sum dy x_hat), w the row's weight (weighted only);
// M = *global_m when synced or weighted, else local_m.
template <bool kWeighted>
__global__ void train_input_grad_kernel(const float* x, const float* gamma, const float* mean, const float* inv_std,
                                        const float* dy, const float* relu_output, const double* sums, float* dx,
                                        std::int64_t n, std::int64_t C, double local_m, const double* global_m,
                                        RowWeights<float> w) {
  const double m = global_m ? *global_m : local_m;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    const double inv = inv_std[c];
    const double xhat = bn_math::x_hat(double(x[i]), double(mean[c]), inv);
    const double g = through_relu(relu_output, dy, i);
    if constexpr (kWeighted)
      dx[i] += static_cast<float>(
          bn_math::train_input_grad(double(gamma[c]), inv, m, g, sums[c], xhat, sums[C + c], w.of(i / C)));
    else
      dx[i] += static_cast<float>(bn_math::train_input_grad(double(gamma[c]), inv, m, g, sums[c], xhat, sums[C + c]));
  }
}

__global__ void inference_input_grad_kernel(const float* gamma, const double* inv, const float* dy,
                                            const float* relu_output, float* dx, std::int64_t n, std::int64_t C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = i % C;
    dx[i] +=
        static_cast<float>(bn_math::inference_input_grad(double(gamma[c]), inv[c], through_relu(relu_output, dy, i)));
  }
}

// TF's assign_moving_average order (bn_math::moving_average), in float.
__global__ void update_moving_kernel(float* moving_mean, float* moving_var, const float* batch_mean,
                                     const float* batch_var, std::int64_t C, float one_minus_decay) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  moving_mean[c] = bn_math::moving_average(moving_mean[c], batch_mean[c], one_minus_decay);
  moving_var[c] = bn_math::moving_average(moving_var[c], batch_var[c], one_minus_decay);
}
// M of weighted rows into *count (column_sums scratch: partial, at least slices_for(rows) doubles).
void weighted_count(Context& ctx, RowWeights<float> w, std::int64_t rows, double* partial, double* count,
                    const char* op) {
  column_sums<1>(ctx, WeightTerms{w}, rows, 1, partial, count, op);
}
}  // namespace

void batch_norm_train_forward(Context& ctx, const float* x, const float* gamma, const float* beta, float* y,
                              float* batch_mean, float* batch_var, float* inv_std, std::int64_t rows,
                              std::int64_t channels, double eps, const ReplicaSum& sync, bool relu,
                              RowWeights<float> weights) {
  const std::int64_t C = channels;
  // With sync, a replica without rows (or channels) still makes its two sync calls.
  if (!sync && (rows == 0 || C == 0)) return;
  const bool weighted = weights.weight != nullptr;
  // extra: sums [C], row count [1], squares [C], mean [C], inv [C]
  Scratch<1> scratch(ctx, rows, std::max<std::int64_t>(C, 1), 4 * C + 1);
  double* sums = scratch.extra();
  double* count = sums + C;
  double* squares = count + 1;
  double* mean_d = squares + C;
  double* inv_d = mean_d + C;
  // The row count in device memory when it is synced or weighted, else rows itself.
  const double* global_rows = sync || weighted ? count : nullptr;
  const char* op = "batch_norm (training)";
  if (weighted) {
    column_sums<1>(ctx, MeanTerms<true>{x, C, weights}, rows, C, scratch.partial(), sums, op);
    weighted_count(ctx, weights, rows, scratch.partial(), count, op);
  } else {
    column_sums<1>(ctx, MeanTerms<false>{x, C, weights}, rows, C, scratch.partial(), sums, op);
    if (sync) store_count(ctx, count, rows, op);
  }
  if (sync) sync(sums, C + 1);
  mean_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, rows, global_rows, C, mean_d, batch_mean);
  check_launch(op);
  if (weighted)
    column_sums<1>(ctx, VarianceTerms<true>{x, mean_d, C, weights}, rows, C, scratch.partial(), squares, op);
  else
    column_sums<1>(ctx, VarianceTerms<false>{x, mean_d, C, weights}, rows, C, scratch.partial(), squares, op);
  if (sync) sync(squares, C);
  variance_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(squares, rows, global_rows, C, eps, inv_d, batch_var,
                                                             inv_std);
  check_launch(op);
  const std::int64_t n = rows * C;
  normalise_kernel<double><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, gamma, beta, mean_d, inv_d, y, n, C, relu);
  check_launch(op);
}

void batch_norm_train_backward(Context& ctx, const float* x, const float* gamma, const float* batch_mean,
                               const float* inv_std, const float* dy, const BatchNormGradArgs<float>& grads,
                               std::int64_t rows, std::int64_t channels, const ReplicaSum& sync,
                               RowWeights<float> weights) {
  const auto [dx, dgamma, dbeta, relu_output] = grads;
  const std::int64_t C = channels;
  // With sync, a replica without rows (or channels) still makes its sync call.
  if (!sync && (rows == 0 || C == 0)) return;
  const bool weighted = weights.weight != nullptr;
  // extra: sums [2C], row count [1]
  Scratch<2> scratch(ctx, rows, std::max<std::int64_t>(C, 1), 2 * C + 1);
  double* sums = scratch.extra();
  double* count = sums + 2 * C;
  const char* op = "batch_norm (training) backward";
  column_sums<2>(ctx, GradTerms<float, float>{x, dy, batch_mean, inv_std, C, relu_output}, rows, C, scratch.partial(),
                 sums, op);
  // The parameter gradients take the LOCAL sums (enqueued before the sync call overwrites them):
  // the data-parallel gradient all-reduce averages them later.
  if (dgamma || dbeta) {
    add_parameter_grads_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(sums, C, dgamma, dbeta);
    check_launch(op);
  }
  // S1 and S2 stay unweighted (dy of a row is already the sum over the reference rows it stands for);
  // only M, and the row's share of the statistics in dx, carry the weights.
  if (weighted)
    weighted_count(ctx, weights, rows, scratch.partial(), count, op);
  else if (sync)
    store_count(ctx, count, rows, op);
  if (sync) sync(sums, 2 * C + 1);
  if (dx) {
    const std::int64_t n = rows * C;
    const double* global_m = sync || weighted ? count : nullptr;
    if (weighted)
      train_input_grad_kernel<true><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(
          x, gamma, batch_mean, inv_std, dy, relu_output, sums, dx, n, C, double(rows), global_m, weights);
    else
      train_input_grad_kernel<false><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(
          x, gamma, batch_mean, inv_std, dy, relu_output, sums, dx, n, C, double(rows), global_m, weights);
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
  normalise_kernel<float><<<grid_for(n, 256), 256, 0, stream(ctx)>>>(x, gamma, beta, mean, inv_d, y, n, C, relu);
  check_launch(op);
}

void batch_norm_inference_backward(Context& ctx, const float* x, const float* gamma, const float* mean,
                                   const float* var, const float* dy, const BatchNormGradArgs<float>& grads,
                                   std::int64_t rows, std::int64_t channels, double eps) {
  const auto [dx, dgamma, dbeta, relu_output] = grads;
  const std::int64_t C = channels, n = rows * channels;
  if (n == 0) return;
  const char* op = "batch_norm (inference) backward";
  // extra: inv [C], sums [2C]
  Scratch<2> scratch(ctx, rows, C, 3 * C);
  double* inv_d = scratch.extra();
  double* sums = inv_d + C;
  inverse_std_kernel<<<grid_for(C, 128), 128, 0, stream(ctx)>>>(var, C, eps, inv_d);
  check_launch(op);
  if (dgamma || dbeta) {
    column_sums<2>(ctx, GradTerms<float, double>{x, dy, mean, inv_d, C, relu_output}, rows, C, scratch.partial(), sums,
                   op);
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
