// Two replicas of a data-parallel job simulated by two threads of one process, for the tests of
// synchronised batch norm (kernels/batch_norm.h, kernels/edge_attention.h).
#pragma once

#include <barrier>
#include <cstdint>
#include <vector>

#include "kernels/replica_sum.h"

namespace ucluster::test {

// A two-party all-reduce for two replicas simulated by two threads: each deposits its n values,
// both wait, both add slot 0 + slot 1 in that order (so the two replicas get the same bits), and
// both wait again before a slot may be reused. It logs n per call and replica.
class TwoReplicaAllReduce {
 public:
  ReplicaSum for_replica(int r) {
    return [this, r](double* values, std::int64_t n) { sum(r, values, n); };
  }
  // A replica that failed leaves the barrier, so the other one cannot hang.
  void leave() { barrier_.arrive_and_drop(); }
  const std::vector<std::int64_t>& calls(int r) const { return calls_[r]; }

 private:
  void sum(int r, double* values, std::int64_t n) {
    calls_[r].push_back(n);
    slots_[r].assign(values, values + n);
    barrier_.arrive_and_wait();
    if (slots_[0].size() == slots_[1].size())  // a mismatch shows in calls()
      for (std::int64_t i = 0; i < n; ++i) values[i] = slots_[0][i] + slots_[1][i];
    barrier_.arrive_and_wait();
  }
  std::barrier<> barrier_{2};
  std::vector<double> slots_[2];
  std::vector<std::int64_t> calls_[2];
};

}  // namespace ucluster::test
