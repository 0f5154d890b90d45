// The all-reduce callback of synchronised (cross-replica) batch norm. It lives in its own header so
// that kernels/batch_norm.h and the CPU/CUDA bodies can all see it.
#pragma once

#include <cstdint>
#include <functional>

namespace ucluster {

// Sums per-channel partial sums over the replicas of a data-parallel job (synchronised batch norm):
// called with n doubles in the memory of the op's device (host memory for CPU tensors, device
// memory on the context's stream for CUDA tensors), it replaces them in place by their sum over all
// replicas. Every replica makes the same calls in the same order. Empty: this replica's rows only.
using ReplicaSum = std::function<void(double* values, std::int64_t n)>;

}  // namespace ucluster
