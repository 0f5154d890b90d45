// Named ranges for Nsight Systems / Nsight Compute (NVTX): every layer's forward (model/), every
// recorded backward step (Tape::backward, named "<layer>/<op>"), the optimiser and communication.
#pragma once

#include "engine/cuda_runtime.h"

namespace ucluster {

class ScopedRange {
 public:
  explicit ScopedRange(const char* name) { cuda_runtime::range_push(name); }
  ~ScopedRange() { cuda_runtime::range_pop(); }
  ScopedRange(const ScopedRange&) = delete;
  ScopedRange& operator=(const ScopedRange&) = delete;
};

}  // namespace ucluster
