// Deterministic reductions shared by the CPU kernels.
//
// Column sums over [rows, C] are computed in fixed blocks of kReduceBlockRows rows, each block in
// double, and the block partials are added in block order. The result therefore depends neither
// on the number of OpenMP threads nor on scheduling: same inputs, same bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ucluster::cpu {

constexpr std::int64_t kReduceBlockRows = 512;

// out[0..width) = the sums of what row(r, p) adds into p[0..width) for r in [0, rows), in double:
// p is the partial of r's block. For bodies that do per-row work once (a row weight) or take
// several sums in one pass over the data.
template <typename F>
void row_sums(std::int64_t rows, std::int64_t width, F&& row, double* out) {
  const std::int64_t blocks = (rows + kReduceBlockRows - 1) / kReduceBlockRows;
  std::vector<double> partial(static_cast<std::size_t>(blocks * width), 0.0);
#pragma omp parallel for schedule(static) if(blocks > 1)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    double* p = partial.data() + blk * width;
    const std::int64_t r_end = std::min(rows, (blk + 1) * kReduceBlockRows);
    for (std::int64_t r = blk * kReduceBlockRows; r < r_end; ++r) row(r, p);
  }
  for (std::int64_t c = 0; c < width; ++c) out[c] = 0.0;
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    for (std::int64_t c = 0; c < width; ++c) out[c] += partial[blk * width + c];
}

// out[c] = sum_r f(r, c) for r in [0, rows), in double. f is called with (row, channel).
template <typename F>
void column_sums(std::int64_t rows, std::int64_t channels, F&& f, double* out) {
  row_sums(
      rows, channels,
      [&](std::int64_t r, double* p) {
        for (std::int64_t c = 0; c < channels; ++c) p[c] += f(r, c);
      },
      out);
}

}  // namespace ucluster::cpu
