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

}  // namespace ucluster
