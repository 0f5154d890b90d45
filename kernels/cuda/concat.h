// CUDA entry points of the concat family (float32). One call per input: the input's columns
// [offset, offset + width) of the [rows, total] output.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// out[r, offset + c] = in[r, c] for c < width.
void concat_copy_in(Context& ctx, const float* in, float* out, std::int64_t rows, std::int64_t width,
                    std::int64_t offset, std::int64_t total);
// din[r, c] += dout[r, offset + c] for c < width.
void concat_add_out(Context& ctx, const float* dout, float* din, std::int64_t rows, std::int64_t width,
                    std::int64_t offset, std::int64_t total);

}  // namespace ucluster::cuda
