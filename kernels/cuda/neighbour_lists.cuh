// Inverse neighbour lists of one jet in shared memory, for the deterministic (atomic-free) backward
// scatters of kernels/cuda/edge.cu and kernels/cuda/edge_attention.cu: which edges of the jet have
// point i as their neighbour, in edge order.
#pragma once

#include <cstdint>

namespace ucluster::cuda {

// Called by every thread of the block (it synchronises the block). ib: the jet's n k indices in
// global memory, absolute rows of packed rows (kernels/packed_rows.h) whose jet starts at row
// `first`. Fills shared arrays jidx [n k] (the jet-local indices ib - first), offsets [n + 1] and
// incoming [n k]: the edges e with jidx[e] == i are incoming[offsets[i] .. offsets[i + 1]), in
// increasing e. Counts, a serial prefix sum, then the fill in edge order. An index outside the jet
// matches no point.
__device__ inline void build_inverse_neighbour_lists(const std::int32_t* ib, std::int64_t first, int n, int edges,
                                                     std::int32_t* jidx, std::int32_t* offsets,
                                                     std::int32_t* incoming) {
  for (int e = threadIdx.x; e < edges; e += blockDim.x) {
    const std::int64_t local = ib[e] - first;
    jidx[e] = local >= 0 && local < n ? std::int32_t(local) : -1;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    int count = 0;
    for (int e = 0; e < edges; ++e) count += jidx[e] == i;
    offsets[i + 1] = count;
  }
  if (threadIdx.x == 0) offsets[0] = 0;
  __syncthreads();
  if (threadIdx.x == 0)
    for (int i = 0; i < n; ++i) offsets[i + 1] += offsets[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    int pos = offsets[i];
    for (int e = 0; e < edges; ++e)
      if (jidx[e] == i) incoming[pos++] = e;
  }
  __syncthreads();
}

}  // namespace ucluster::cuda
