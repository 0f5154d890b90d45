// The constant of the focal loss shared by the public API (kernels/focal_loss.h) and the CPU and
// CUDA bodies, which include this header rather than the public one.
#pragma once

namespace ucluster {

// Epsilon added to the target probability before the logarithm (spec 3.1; caps FL at alpha*20.7).
constexpr double kFocalLossEpsilon = 1e-9;

}  // namespace ucluster
