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

// out[c] = sum_r f(r, c) for r in [0, rows), in double. f is called with (row, channel).
template <typename F>
void column_sums(std::int64_t rows, std::int64_t channels, F&& f, double* out) {
  const std::int64_t blocks = (rows + kReduceBlockRows - 1) / kReduceBlockRows;
  std::vector<double> partial(static_cast<std::size_t>(blocks * channels), 0.0);
#pragma omp parallel for schedule(static) if(blocks > 1)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    double* p = partial.data() + blk * channels;
    const std::int64_t r_end = std::min(rows, (blk + 1) * kReduceBlockRows);
    for (std::int64_t r = blk * kReduceBlockRows; r < r_end; ++r)
      for (std::int64_t c = 0; c < channels; ++c) p[c] += f(r, c);
  }
  for (std::int64_t c = 0; c < channels; ++c) out[c] = 0.0;
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    for (std::int64_t c = 0; c < channels; ++c) out[c] += partial[blk * channels + c];
}

}  // namespace ucluster::cpu
