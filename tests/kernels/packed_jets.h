// Helpers for the kernel tests on packed rows (engine/jet_rows.h): neighbour indices between the
// reference's per-jet form and the engine's absolute rows, and the padded expansion of packed rows
// into the reference's dense layout (dense_jet_rows) together with its adjoint, the fold.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/jet_rows.h"
#include "tests/test_support.h"

namespace ucluster::test {

// Per-jet indices [B, N, k] (flattened; each in [0, N)) as the absolute rows of the dense layout
// dense_jet_rows(ctx, B, N, ...): jet b's rows are b N .. b N + N - 1.
inline std::vector<std::int32_t> absolute_indices(const std::vector<std::int32_t>& local, std::int64_t n,
                                                  std::int64_t k) {
  std::vector<std::int32_t> out(local.size());
  for (std::size_t e = 0; e < local.size(); ++e)
    out[e] = local[e] + static_cast<std::int32_t>((std::int64_t(e) / (n * k)) * n);
  return out;
}

// The inverse: absolute rows of the dense layout back to indices within the jet.
inline std::vector<std::int32_t> local_indices(const std::vector<std::int32_t>& absolute, std::int64_t n,
                                               std::int64_t k) {
  std::vector<std::int32_t> out(absolute.size());
  for (std::size_t e = 0; e < absolute.size(); ++e)
    out[e] = absolute[e] - static_cast<std::int32_t>((std::int64_t(e) / (n * k)) * n);
  return out;
}

// The reference's row of jet b's point p in the dense layout.
inline std::int64_t dense_row(const JetRows& rows, std::int64_t b, std::int64_t p) { return b * rows.slots + p; }

// The packed row that dense point (b, p) is: a real row, or the jet's padding row for p >= n_b.
inline std::int64_t packed_row(const JetRows& rows, std::int64_t b, std::int64_t p) {
  return rows.host_offsets[b] + std::min<std::int64_t>(p, rows.host_real[b]);
}

// Packed rows [R, ...] expanded to the dense layout [B P, ...] (host, float64): every padded point a
// copy of its jet's padding row. The tests' own loop, independent of unpack_rows.
inline std::vector<double> expand(const std::vector<double>& packed, const JetRows& rows, std::int64_t width) {
  std::vector<double> dense(static_cast<std::size_t>(rows.jets * rows.slots * width));
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t p = 0; p < rows.slots; ++p)
      for (std::int64_t c = 0; c < width; ++c)
        dense[dense_row(rows, b, p) * width + c] = packed[packed_row(rows, b, p) * width + c];
  return dense;
}

// The adjoint of expand: dense [B P, ...] summed into packed rows [R, ...], a padding row receiving
// the sum over its P - n padded copies (the chain rule through the copies).
inline std::vector<double> fold(const std::vector<double>& dense, const JetRows& rows, std::int64_t width) {
  std::vector<double> packed(static_cast<std::size_t>(rows.rows * width), 0.0);
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t p = 0; p < rows.slots; ++p)
      for (std::int64_t c = 0; c < width; ++c)
        packed[packed_row(rows, b, p) * width + c] += dense[dense_row(rows, b, p) * width + c];
  return packed;
}

}  // namespace ucluster::test
