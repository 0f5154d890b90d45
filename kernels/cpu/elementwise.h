// Element-wise linear combinations over flat arrays of n elements.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// out = alpha a + beta b; b may be nullptr (then out = alpha a). out may alias a or b.
template <typename T>
void add_scaled(const T* a, const T* b, T* out, std::int64_t n, T alpha, T beta);

// y += alpha x (the backward of both forms).
template <typename T>
void accumulate_scaled(const T* x, T* y, std::int64_t n, T alpha);

}  // namespace ucluster::cpu
