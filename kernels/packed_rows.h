// Raw views of a JetRows layout (engine/jet_rows.h) for the CPU and CUDA bodies: the pointers
// live on the data's device. Jet b's rows are [offsets[b], offsets[b + 1]); its first real[b]
// rows are real points and, when real[b] < slots, the next one is its padding row, standing for
// slots - real[b] padded points (shared/design/padding-compression.md).
#pragma once

#include <cstdint>

#include "engine/jet_rows.h"

namespace ucluster {

struct PackedRows {
  const std::int32_t* offsets = nullptr;  // [jets + 1]
  const std::int32_t* real = nullptr;     // [jets]
  const std::int32_t* row_jet = nullptr;  // [rows]
  std::int64_t jets = 0, slots = 0, rows = 0;
  std::int64_t max_jet_rows = 0;  // the most rows one jet has (sizes per-jet scratch)
};

inline PackedRows packed_rows(const JetRows& r) {
  return {r.offsets.data<std::int32_t>(), r.real.data<std::int32_t>(), r.row_jet.data<std::int32_t>(),
          r.jets, r.slots, r.rows, r.max_jet_rows()};
}

// Host pointers (a CPU layout): the position (flat element offset) of the first entry of idx
// [R, k] that is not a row of its own row's jet, or -1 if all are.
inline std::int64_t first_index_outside_jet(const PackedRows& rows, const std::int32_t* idx, std::int64_t k) {
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t e = std::int64_t(rows.offsets[b]) * k; e < std::int64_t(rows.offsets[b + 1]) * k; ++e)
      if (idx[e] < rows.offsets[b] || idx[e] >= rows.offsets[b + 1]) return e;
  return -1;
}

// Checks that `rows` describes x's leading axis (x [R, ...]) and sits on x's device.
inline void check_jet_rows(const char* op, const Tensor& x, const JetRows& rows) {
  UCLUSTER_CHECK(x.rank() >= 1 && x.dim(0) == rows.rows, op, ": ", x.describe(), " does not have the R = ",
                 rows.rows, " rows of its jet layout");
  UCLUSTER_CHECK(rows.offsets.defined() && rows.offsets.device() == x.device() && rows.weight.device() == x.device(),
                 op, ": the jet layout is not on the device of ", x.describe());
}

}  // namespace ucluster
