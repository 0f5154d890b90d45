// CUDA entry points of the per-point focal loss (float32). Same contract and scratch buffers as
// cpu/point_focal_loss.h (all on the device).
#pragma once

#include <cstdint>

#include "kernels/cpu/point_focal_loss.h"
#include "kernels/packed_rows.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void point_focal_loss_forward(Context& ctx, const float* logits, const std::int32_t* target, const PackedRows& rows,
                              const float* weight, const cpu::PointFocalArgs& args, double* fl, double* class_max,
                              double* tie_weight, float* loss);
void point_focal_loss_backward(Context& ctx, const float* logits, const std::int32_t* target, const PackedRows& rows,
                               const float* weight, const cpu::PointFocalArgs& args, const float* dloss, double* fl,
                               double* class_max, double* tie_weight, float* dlogits);

}  // namespace ucluster::cuda
