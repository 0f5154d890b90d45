// The kNN distances of spec 2.2, term for term as TF evaluates pairwise_distanceR (kNN #1) and
// pairwise_distance (kNN #2), shared by the engine's CPU body (kernels/cpu/knn.cpp) and the embedding library (embed/src/forward.cpp) so that
// both break neighbour ties the same way. Plain C++; a file that includes it must compile it
// without fused multiply-adds (both do: TF's CPU kernels round after every operation, spec 8 #9).
#pragma once

#include <cmath>
#include <cstdint>

namespace ucluster::knn_math {

// The squared norm of a point's (delta eta, delta phi): x0 x0 + x1 x1.
template <typename T>
inline T coordinate_square(const T* p) {
  const T s0 = p[0] * p[0];
  const T s1 = p[1] * p[1];
  return s0 + s1;
}

// D_ij for points pi, pj with squares sq_i, sq_j and padding penalties pen_i, pen_j:
// point_cloud_square + point_cloud_inner + point_cloud_square_tranpose + phi_corr + point_shift +
// point_shift_transpose, evaluated left to right.
template <typename T>
inline T coordinate_distance(const T* pi, const T* pj, T sq_i, T sq_j, T pen_i, T pen_j) {
  // Constants as TF converts the Python floats of pairwise_distanceR to the tensor's type.
  constexpr double kPi = 3.14159265358979323846;
  const T two_pi = T(2.0 * kPi), four_pi = T(4.0 * kPi), four_pi_sq = T(4.0 * (kPi * kPi));
  const T p0 = pi[0] * pj[0];
  const T p1 = pi[1] * pj[1];
  const T inner = T(-2) * (p0 + p1);
  T d = sq_i + inner;
  d = d + sq_j;
  // phi-wrap correction (spec 2.2, 8 #10): replaces dphi^2 by (2pi - |dphi|)^2, but with threshold
  // 2pi instead of pi, so it never fires for jet-relative phi. Kept for bit-compatibility.
  const T dphi = std::abs(pj[1] - pi[1]);
  const T corr = dphi >= two_pi ? four_pi_sq - four_pi * dphi : dphi - dphi;
  d = d + corr;
  d = d + pen_i;
  return d + pen_j;
}

// kNN #2: |h|^2 = reduce_sum(square(h)), summed over the channels in order.
template <typename T>
inline T feature_square(const T* h, std::int64_t channels) {
  T s = T(0);
  for (std::int64_t c = 0; c < channels; ++c) {
    const T v2 = h[c] * h[c];
    s = s + v2;
  }
  return s;
}

// kNN #2: point_cloud_square + (-2 * inner) + point_cloud_square_tranpose, for <h_i, h_j> = dot.
template <typename T>
inline T feature_distance(T sq_i, T dot, T sq_j) {
  const T d = sq_i + T(-2) * dot;
  return d + sq_j;
}

}  // namespace ucluster::knn_math
