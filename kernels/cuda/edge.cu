// Edge features on the GPU, on packed rows (engine/jet_rows.h) with absolute neighbour rows. The
// backward is one thread block per jet: the jet's indices go to shared memory as jet-local ones,
// each thread builds the inverse neighbour list of its rows by scanning them in edge order (counts,
// a serial prefix sum, then the fill), and the gradient of every (row, channel) is summed in that
// fixed order. Deterministic, no atomics.
#include <algorithm>
#include <limits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/edge.h"
#include "kernels/cuda/neighbour_lists.cuh"

namespace ucluster::cuda {

namespace {

constexpr int kBackwardThreads = 256;

// Every thread that finds a bad entry writes 1; concurrent identical writes need no atomics.
__global__ void bad_index_kernel(const std::int32_t* idx, std::int64_t count, std::int64_t n, std::int32_t* flag) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < count;
       e += std::int64_t(gridDim.x) * blockDim.x)
    if (idx[e] < 0 || idx[e] >= n) *flag = 1;
}

__global__ void edge_forward_kernel(const float* x, const std::int32_t* idx, float* e, std::int64_t k,
                                    std::int64_t channels, std::int64_t total) {
  for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
       o += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t c = o % channels, edge = o / channels, row = edge / k;
    e[o] = x[row * channels + c] - x[std::int64_t(idx[edge]) * channels + c];
  }
}

// Shared memory, sized for the largest jet: idx [n*k], offsets [n+1], incoming [n*k] (edge numbers
// within the jet), n the jet's rows.
__global__ void edge_backward_kernel(PackedRows rows, const std::int32_t* idx, const float* de, float* dx, int k,
                                     int channels) {
  extern __shared__ std::int32_t ismem[];
  const std::int64_t b = blockIdx.x, first = rows.offsets[b];
  const int n = int(rows.offsets[b + 1] - first), edges = n * k;
  std::int32_t* jidx = ismem;
  std::int32_t* offsets = jidx + edges;
  std::int32_t* incoming = offsets + n + 1;
  const std::int32_t* ib = idx + first * k;
  const float* deb = de + first * k * channels;
  float* dxb = dx + first * channels;

  build_inverse_neighbour_lists(ib, first, n, edges, jidx, offsets, incoming);
  for (int o = threadIdx.x; o < n * channels; o += blockDim.x) {
    const int i = o / channels, c = o % channels;
    float own = 0.0f, gathered = 0.0f;
    for (int j = 0; j < k; ++j) own += deb[(std::int64_t(i) * k + j) * channels + c];
    for (int q = offsets[i]; q < offsets[i + 1]; ++q) gathered += deb[std::int64_t(incoming[q]) * channels + c];
    dxb[o] += own - gathered;
  }
}

}  // namespace

bool any_bad_index(Context& ctx, const std::int32_t* idx, std::int64_t count, std::int64_t n) {
  if (count == 0) return false;
  Tensor flag = ctx.zeros(Shape{1}, DType::I32, Device::cuda(ctx.cuda()->device));
  bad_index_kernel<<<grid_for(count, 256), 256, 0, stream(ctx)>>>(idx, count, n, flag.data<std::int32_t>());
  check_launch("edge_diff index check");
  return ctx.to_vector<std::int32_t>(flag)[0] != 0;
}

void edge_diff_forward(Context& ctx, const float* x, const std::int32_t* idx, float* e, std::int64_t rows,
                       std::int64_t k, std::int64_t channels) {
  const std::int64_t total = rows * k * channels;
  if (total == 0) return;
  edge_forward_kernel<<<grid_for(total, 256), 256, 0, stream(ctx)>>>(x, idx, e, k, channels, total);
  check_launch("edge_diff");
}

void edge_diff_backward(Context& ctx, const PackedRows& rows, const std::int32_t* idx, const float* de, float* dx,
                        std::int64_t k, std::int64_t channels) {
  if (rows.jets == 0 || rows.rows == 0 || k == 0 || channels == 0) return;
  const char* op = "edge_diff backward";
  const std::int64_t n = rows.max_jet_rows;  // shared memory for the largest jet
  UCLUSTER_CHECK(rows.jets <= std::numeric_limits<int>::max() && n * k < std::numeric_limits<int>::max() &&
                     n * channels < std::numeric_limits<int>::max(),
                 op, ": sizes B = ", rows.jets, ", rows per jet ", n, ", k = ", k, ", C = ", channels, " too large");
  const std::size_t bytes = (2 * std::size_t(n * k) + std::size_t(n) + 1) * sizeof(std::int32_t);
  int optin = 0;
  UCLUSTER_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.cuda()->device) ==
                     cudaSuccess,
                 op, ": cannot query the shared-memory limit");
  UCLUSTER_CHECK(bytes <= std::size_t(optin), op, ": a jet of ", n, " rows and k = ", k, " needs ", bytes,
                 " bytes of shared memory, more than the device's ", optin);
  UCLUSTER_CHECK(cudaFuncSetAttribute(edge_backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      int(bytes)) == cudaSuccess,
                 op, ": cannot reserve ", bytes, " bytes of shared memory");
  edge_backward_kernel<<<unsigned(rows.jets), kBackwardThreads, bytes, stream(ctx)>>>(rows, idx, de, dx, int(k),
                                                                                      int(channels));
  check_launch(op);
}

}  // namespace ucluster::cuda
