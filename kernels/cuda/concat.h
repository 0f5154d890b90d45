// CUDA entry points of the concat family (float32), with the contract of kernels/cpu/concat.h: one
// copy per input, into its columns [offset_i, offset_i + width_i) of the [rows, total] output.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// out[r, offset_i + c] = inputs[i][r, c]; inputs and widths are host arrays of count entries.
void concat_forward(Context& ctx, const float* const* inputs, const std::int64_t* widths, int count, float* out,
                    std::int64_t rows, std::int64_t total);
// dinputs[i][r, c] += dout[r, offset_i + c]; a nullptr entry is skipped.
void concat_backward(Context& ctx, const float* dout, float* const* dinputs, const std::int64_t* widths, int count,
                     std::int64_t rows, std::int64_t total);

}  // namespace ucluster::cuda
