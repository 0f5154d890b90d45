// Concatenation along the last (channel) axis: inputs [rows, C_i] -> out [rows, sum C_i].
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// out[r, offset_i + c] = inputs[i][r, c], offset_i = C_0 + ... + C_{i-1}; total = sum of widths.
template <typename T>
void concat_forward(const T* const* inputs, const std::int64_t* widths, int count, T* out, std::int64_t rows,
                    std::int64_t total);

// dinputs[i][r, c] += dout[r, offset_i + c]; a nullptr entry is skipped.
template <typename T>
void concat_backward(const T* dout, T* const* dinputs, const std::int64_t* widths, int count, std::int64_t rows,
                     std::int64_t total);

}  // namespace ucluster::cpu
