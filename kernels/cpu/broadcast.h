// Broadcast of one row per jet to its packed rows (kernels/broadcast.h).
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster::cpu {

// y[r, c] = x[row_jet[r], c].
template <typename T>
void broadcast_rows_forward(const T* x, const PackedRows& rows, T* y, std::int64_t channels);

// dx[b, c] += sum over jet b's rows of dy[r, c], in double in row order, rounded once.
template <typename T>
void broadcast_rows_backward(const PackedRows& rows, const T* dy, T* dx, std::int64_t channels);

}  // namespace ucluster::cpu
