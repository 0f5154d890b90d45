// Per-point focal loss on packed rows (kernels/point_focal_loss.h). Scratch buffers are the
// caller's: fl [R] double; for MaxOverPoints also class_max and tie_weight [B, C] double.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster::cpu {

struct PointFocalArgs {
  std::int64_t classes = 0;
  double gamma = 0, alpha = 0;
  bool max_over_points = false;
};

template <typename T>
void point_focal_loss_forward(const T* logits, const std::int32_t* target, const PackedRows& rows, const T* weight,
                              const PointFocalArgs& args, double* fl, double* class_max, double* tie_weight, T* loss);

template <typename T>
void point_focal_loss_backward(const T* logits, const std::int32_t* target, const PackedRows& rows, const T* weight,
                               const PointFocalArgs& args, const T* dloss, double* fl, double* class_max,
                               double* tie_weight, T* dlogits);

}  // namespace ucluster::cpu
