// Branch-free ReLU pieces for the host element loops that fuse a ReLU (the CPU batch norm with
// relu = true, the CPU edge_attention body, and the host form of kernels/edge_attention_math.h's
// edge_math::relu, which the CUDA kernels share). A data-dependent branch in those loops mispredicts on every other
// element (measured: 8-10x slower batch norms over the edge rows); a max and a bit select compile
// to instructions instead of jumps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ucluster {

// ReLU(v) as leaky_relu with slope 0 computes it: v above zero, else 0 * v (-0 for negative v, NaN
// stays NaN). std::max(v, 0 v) = (v < 0 v) ? 0 v : v is that value in every case.
template <typename T>
inline T relu_value(T v) {
  return std::max(v, T(0) * v);
}

// The gradient through that ReLU: dy where v (its input, or its output) is > 0, else 0 * dy, as
// leaky_relu's backward with slope 0 computes it. A bit select on an all-ones / all-zeros mask:
// GCC turned the float min / max form of this mask into a compare-and-jump in the batch-norm
// backward (10x slower there), integer masks it leaves alone.
template <typename T>
inline T grad_where_positive(T v, T dy) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Bits keep = Bits(0) - Bits(v > T(0));
  const T clipped = T(0) * dy;
  Bits d, z;  // memcpy rather than std::bit_cast: nvcc compiles this header as C++17
  std::memcpy(&d, &dy, sizeof d);
  std::memcpy(&z, &clipped, sizeof z);
  const Bits r = (d & keep) | (z & ~keep);
  T out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

}  // namespace ucluster
