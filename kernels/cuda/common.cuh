// Shared helpers for the CUDA kernels: error checks, the context's stream and cuBLAS handle.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/context.h"
#include "engine/error.h"

namespace ucluster::cuda {

inline cudaStream_t stream(const Context& ctx) { return static_cast<cudaStream_t>(ctx.cuda()->stream); }
inline cublasHandle_t cublas(const Context& ctx) { return static_cast<cublasHandle_t>(ctx.cuda()->cublas); }

// Checks the launch of the last kernel; names the op so a failure says where it happened.
inline void check_launch(const char* op) {
  const cudaError_t err = cudaGetLastError();
  UCLUSTER_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

inline void check_cublas(cublasStatus_t status, const char* op) {
  UCLUSTER_CHECK(status == CUBLAS_STATUS_SUCCESS, op, ": cuBLAS error ", static_cast<int>(status));
}

inline unsigned grid_for(std::int64_t n, unsigned block) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}

}  // namespace ucluster::cuda
