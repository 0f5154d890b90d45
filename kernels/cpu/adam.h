// CPU body of the TF1 Adam update (spec 4.2) on n contiguous elements; see kernels/adam.h.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

template <typename T>
void adam_update(T* params, const T* grads, T* m, T* v, std::int64_t n, double lr_t, double beta1, double beta2,
                 double epsilon);

}  // namespace ucluster::cpu
