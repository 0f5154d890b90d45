// The per-element arithmetic of the fused edge path (kernels/edge_attention.h), shared by the CPU
// body and the CUDA kernels so both compute y the same way, operation for operation. Plain C++ that
// nvcc also compiles for the device.
//
// Every recomputation of y must give the same bits as the forward's (the max's gradient finds the
// maxima by comparing a recomputed y with the forward's g). Each operation below is therefore one
// correctly rounded IEEE operation, never contracted into a fused multiply-add: the device uses
// the _rn intrinsics (which nvcc never contracts), the host plain operators (the CPU build targets
// baseline x86-64, which has no FMA instruction to contract into, and kernels/CMakeLists.txt builds
// cpu/edge_attention.cpp with -ffp-contract=off in case someone adds -march flags).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/relu_branchless.h"

namespace ucluster {

// Raw views of an edge layer (kernels/edge_attention.h's EdgeLayer) for the CPU and CUDA bodies, on
// packed rows (engine/jet_rows.h): projected [rows, channels], idx [rows, k] (absolute rows, each
// within its row's jet), bias, gamma, beta, mean, var [channels]; jet b's rows are
// [offsets[b], offsets[b + 1]); weight [rows]: how many reference points a row stands for, so that
// each of its k edges counts that many times in the batch statistics (nullptr: once).
template <typename T>
struct EdgeLayerArgs {
  const T* projected = nullptr;
  const std::int32_t* idx = nullptr;
  const T* bias = nullptr;
  const T* gamma = nullptr;
  const T* beta = nullptr;
  const T* mean = nullptr;
  const T* var = nullptr;
  const std::int32_t* offsets = nullptr;
  const T* weight = nullptr;
  double eps = 0;
  std::int64_t jets = 0, rows = 0, k = 0, channels = 0;
  std::int64_t max_jet_rows = 0;  // the most rows one jet has (JetRows::max_jet_rows; sizes per-jet scratch)
};

// Raw gradient outputs (each may be nullptr; all accumulate with +=): dprojected [rows,
// channels], dbias, dgamma, dbeta [channels]. batch_statistics: differentiate through the batch
// statistics (training mode).
template <typename T>
struct EdgeLayerGradArgs {
  T* dprojected = nullptr;
  T* dbias = nullptr;
  T* dgamma = nullptr;
  T* dbeta = nullptr;
  bool batch_statistics = false;
};

namespace edge_math {

// One correctly rounded add, subtract and multiply: the _rn intrinsics on the device, the plain
// operators on the host.
#ifdef __CUDA_ARCH__
__device__ inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul(double a, double b) { return __dmul_rn(a, b); }
#else
template <typename T>
inline T add(T a, T b) {
  return a + b;
}
template <typename T>
inline T sub(T a, T b) {
  return a - b;
}
template <typename T>
inline T mul(T a, T b) {
  return a * b;
}
#endif

// 1 / sqrt(var + eps), in double (correctly rounded sqrt and division on both backends), rounded to T.
template <typename T>
UCLUSTER_HOST_DEVICE inline T inv_std(T var, double eps) {
#ifdef __CUDA_ARCH__
  return T(1.0 / ::sqrt(double(var) + eps));
#else
  return T(1.0 / std::sqrt(double(var) + eps));
#endif
}

// e = (p_i - p_j) + bias, the pre-normalisation edge feature (what the batch statistics run over).
template <typename T>
UCLUSTER_HOST_DEVICE inline T edge_value(T p_i, T p_j, T bias) {
  return add(sub(p_i, p_j), bias);
}

// x_hat = ((p_i - p_j) + bias - mean) * inv_std for one edge and channel.
template <typename T>
UCLUSTER_HOST_DEVICE inline T edge_x_hat(T p_i, T p_j, T bias, T mean, T inv_std) {
  return mul(sub(edge_value(p_i, p_j, bias), mean), inv_std);
}

// The batch norm's affine map before the ReLU: gamma x_hat + beta (y = max(this, 0); the ReLU's
// gradient is taken where this is > 0, TF's convention at 0).
template <typename T>
UCLUSTER_HOST_DEVICE inline T edge_pre_relu(T x_hat, T gamma, T beta) {
  return add(mul(gamma, x_hat), beta);
}

// The training-mode gradient of e for one edge of a row of weight w (engine/jet_rows.h):
// scale (dyh - w mdy - w (x_hat mdx)), scale = gamma inv_std, mdy = S1 / M and mdx = S2 / M with
// the unweighted sums S1 = sum dyh, S2 = sum dyh x_hat and the weighted edge count M (the derivative
// of the weighted statistics, kernels/batch_norm_math.h's train_input_grad). w = 1 gives the
// unweighted form's bits (a multiply by 1 is exact).
template <typename T>
UCLUSTER_HOST_DEVICE inline T edge_train_grad(T scale, T dyh, T w, T mdy, T x_hat, T mdx) {
  return mul(scale, sub(sub(dyh, mul(w, mdy)), mul(w, mul(x_hat, mdx))));
}

// ReLU as leaky_relu with slope 0 computes it: v above zero, else 0 * v (-0 for negative v, NaN
// stays NaN). The host form is relu_value (kernels/relu_branchless.h: branch-free, the same value in
// every case), so host and device agree bit for bit.
template <typename T>
UCLUSTER_HOST_DEVICE inline T relu(T v) {
#ifdef __CUDA_ARCH__
  return v > T(0) ? v : mul(T(0), v);
#else
  return relu_value(v);
#endif
}

}  // namespace edge_math
}  // namespace ucluster
