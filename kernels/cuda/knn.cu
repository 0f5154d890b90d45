// kNN on the GPU: one thread block per jet of the packed rows (kernels/packed_rows.h). The jet's
// rows (and their squared norms and padding penalties) are loaded into shared memory; each thread
// owns rows i and keeps its k best (distance, row) pairs sorted in shared memory while it scans the
// jet's real rows j = 0..n-1, so no distance matrix is ever stored. The jet's padding row comes
// last, as the reference's padded points come after its real ones, and enters the list once with
// its multiplicity P - n (kernels/knn.h). Every multiply and add is an explicitly rounded
// __fmul_rn / __fadd_rn in the same order as kernels/cpu/knn.cpp (no FMA contraction), so both
// backends give the same neighbours.
#include <algorithm>
#include <limits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/knn.h"

namespace ucluster::cuda {

namespace {

constexpr double kPi = 3.14159265358979323846;
// The constants of TF's pairwise_distanceR, rounded to float32 as TF does.
constexpr float kTwoPi = static_cast<float>(2.0 * kPi);
constexpr float kFourPi = static_cast<float>(4.0 * kPi);
constexpr float kFourPiSq = static_cast<float>(4.0 * (kPi * kPi));
constexpr float kPaddingPenalty = 1000.0f;  // spec 2.2; == cpu::kKnnPaddingPenalty
constexpr int kMaxThreads = 256;

__device__ inline int min_int(int a, int b) { return a < b ? a : b; }

// Shared memory: points [rows][stride], sq [rows], pen [rows], best_d [k][threads], best_i
// [k][threads], rows = the most rows one jet has.
std::size_t shared_bytes(int rows, int stride, int k, int threads) {
  return (std::size_t(rows) * stride + 2 * std::size_t(rows)) * sizeof(float) +
         std::size_t(k) * threads * (sizeof(float) + sizeof(std::int32_t));
}

template <bool kCoordinates>
__global__ void knn_kernel(const float* x, PackedRows rows, std::int32_t* idx, int max_rows, int row_stride,
                           int channels, int stride, int k) {
  extern __shared__ float smem[];
  float* pts = smem;
  float* sq = pts + std::size_t(max_rows) * stride;
  float* pen = sq + max_rows;
  float* best_d = pen + max_rows;
  std::int32_t* best_i = reinterpret_cast<std::int32_t*>(best_d + std::size_t(k) * blockDim.x);

  const std::int64_t b = blockIdx.x;
  const std::int64_t base = rows.offsets[b];
  const int n = int(rows.offsets[b + 1] - base);  // the jet's rows: its real ones and its padding row, if any
  const int real = rows.real[b];
  // The padding row (local index `real`, after every real row) stands for P - real padded points.
  const int multiplicity = real < rows.slots ? int(rows.slots) - real : 0;
  const float* xb = x + base * row_stride;
  for (int e = threadIdx.x; e < n * channels; e += blockDim.x) {
    const int j = e / channels, c = e % channels;
    pts[j * stride + c] = xb[std::int64_t(j) * row_stride + c];
  }
  for (int j = threadIdx.x; j < n; j += blockDim.x)
    // Padding flag: feature 2 exactly 0 (spec 2.2, 8 #11); the padding row is all zero.
    pen[j] = kCoordinates && xb[std::int64_t(j) * row_stride + 2] == 0.0f ? kPaddingPenalty : 0.0f;
  __syncthreads();
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float s = 0.0f;
    for (int c = 0; c < channels; ++c) s = __fadd_rn(s, __fmul_rn(pts[j * stride + c], pts[j * stride + c]));
    sq[j] = s;
  }
  __syncthreads();

  const int t = threadIdx.x, threads = blockDim.x;
  for (int i = t; i < n; i += threads) {
    const float* pi = pts + i * stride;
    int m = 0;
    for (int j = 0; j < n; ++j) {
      const float* pj = pts + j * stride;
      float inner = 0.0f;
      for (int c = 0; c < channels; ++c) inner = __fadd_rn(inner, __fmul_rn(pi[c], pj[c]));
      // TF order: (|x_i|^2 + (-2 inner)) + |x_j|^2 [+ corr + pen_i + pen_j].
      float d = __fadd_rn(__fadd_rn(sq[i], __fmul_rn(-2.0f, inner)), sq[j]);
      if (kCoordinates) {
        // phi-wrap correction with TF's threshold 2 pi (spec 8 #10): never fires for
        // jet-relative phi, kept for bit-compatibility.
        const float dphi = fabsf(__fsub_rn(pj[1], pi[1]));
        const float corr = dphi >= kTwoPi ? __fsub_rn(kFourPiSq, __fmul_rn(kFourPi, dphi)) : __fsub_rn(dphi, dphi);
        d = __fadd_rn(d, corr);
        d = __fadd_rn(d, pen[i]);
        d = __fadd_rn(d, pen[j]);
      }
      if (isnan(d)) d = INFINITY;  // NaN sorts last, as on the CPU
      // The place of (d, j): j grows, so an equal distance goes after the entries already there
      // (ties -> lower index, as TF's top_k).
      if (m == k && !(d < best_d[(k - 1) * threads + t])) continue;
      int p = m;
      while (p > 0 && best_d[(p - 1) * threads + t] > d) --p;
      // A real row takes one place; the padding row (j == real, the last row) takes as many as the
      // padded points it stands for would, all tied at d, ranked after every entry <= d.
      const int copies = j < real ? 1 : min_int(multiplicity, k - p);
      // Shift the entries from p on by `copies`, dropping those pushed past k.
      for (int q = min_int(m, k - copies) - 1; q >= p; --q) {
        best_d[(q + copies) * threads + t] = best_d[q * threads + t];
        best_i[(q + copies) * threads + t] = best_i[q * threads + t];
      }
      for (int q = p; q < p + copies; ++q) {
        best_d[q * threads + t] = d;
        best_i[q * threads + t] = j;
      }
      m = min_int(k, m + copies);
    }
    // m == k here: the jet has `slots` >= k points in all.
    std::int32_t* out = idx + (base + i) * k;
    for (int q = 0; q < k; ++q) out[q] = std::int32_t(base + best_i[q * threads + t]);
  }
}

template <bool kCoordinates>
void launch(Context& ctx, const char* op, const float* x, const PackedRows& rows, std::int32_t* idx,
            std::int64_t row_stride, std::int64_t channels, std::int64_t k) {
  if (rows.jets == 0 || rows.rows == 0) return;
  UCLUSTER_CHECK(rows.jets <= std::numeric_limits<int>::max(), op, ": ", rows.jets,
                 " jets too many for the CUDA grid");
  UCLUSTER_CHECK(k >= 1 && k <= rows.slots, op, ": k = ", k, " must be between 1 and P = ", rows.slots);
  const std::int64_t max_rows = rows.max_jet_rows;
  const int stride = int(channels | 1);  // odd row stride: rows i of a warp hit distinct banks
  int optin = 0;
  UCLUSTER_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.cuda()->device) ==
                     cudaSuccess,
                 op, ": cannot query the shared-memory limit");
  int threads = int(std::min<std::int64_t>(kMaxThreads, (max_rows + 31) / 32 * 32));
  while (threads > 32 && shared_bytes(int(max_rows), stride, int(k), threads) > std::size_t(optin)) threads -= 32;
  const std::size_t bytes = shared_bytes(int(max_rows), stride, int(k), threads);
  UCLUSTER_CHECK(bytes <= std::size_t(optin), op, ": a jet of ", max_rows, " rows with ", channels,
                 " channels and k = ", k, " needs ", bytes, " bytes of shared memory, more than the device's ",
                 optin);
  UCLUSTER_CHECK(cudaFuncSetAttribute(knn_kernel<kCoordinates>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(bytes)) == cudaSuccess,
                 op, ": cannot reserve ", bytes, " bytes of shared memory");
  knn_kernel<kCoordinates><<<unsigned(rows.jets), threads, bytes, stream(ctx)>>>(
      x, rows, idx, int(max_rows), int(row_stride), int(channels), stride, int(k));
  check_launch(op);
}

}  // namespace

void knn_coordinates(Context& ctx, const float* x, const PackedRows& rows, std::int32_t* idx, std::int64_t features,
                     std::int64_t k) {
  launch<true>(ctx, "knn_coordinates", x, rows, idx, features, 2, k);
}

void knn_features(Context& ctx, const float* h, const PackedRows& rows, std::int32_t* idx, std::int64_t channels,
                  std::int64_t k) {
  launch<false>(ctx, "knn_features", h, rows, idx, channels, channels, k);
}

}  // namespace ucluster::cuda
