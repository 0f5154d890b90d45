// When a CPU loop is worth an OpenMP team. Starting and joining a team costs microseconds, which
// dominates small loops (single-jet inference runs ~100 of them), so loops over fewer than
// kParallelGrain elements of work run on the calling thread. Results do not change: every loop's
// elements are computed the same way whichever thread runs them.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

constexpr std::int64_t kParallelGrain = 1 << 15;

inline bool parallel_worth(std::int64_t work) { return work >= kParallelGrain; }

}  // namespace ucluster::cpu
