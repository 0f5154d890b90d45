// Host stand-in for the cuBLAS calls the checked kernels make (today: cublasSgemm, in
// kernels/cuda/dense.cu), for the CPU emulation of tools/cuda-emu. A plain reference GEMM that
// honours cuBLAS's definition exactly: column-major storage, op(A) = A or A^T per transa/transb,
// C = alpha op(A) op(B) + beta C, with C not read when beta == 0, and the argument checks that make
// cuBLAS return CUBLAS_STATUS_INVALID_VALUE (negative sizes, a leading dimension below the stored
// matrix's row count). Each element is summed in double and rounded once, so it is at least as
// accurate as any float GEMM; the point is to check the caller's argument order, transposes and
// leading dimensions, not cuBLAS's rounding.
#pragma once
#include <algorithm>
#include <cstdint>

#include "engine/context.h"
#include "engine/error.h"

struct emu_cublas_context;
using cublasHandle_t = emu_cublas_context*;
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
inline long emu_cublas_calls = 0;

inline cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                                  int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                                  const float* beta, float* C, int ldc) {
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;  // real data: C == T
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) ||
      ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  ++emu_cublas_calls;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double s = 0.0;
      for (int l = 0; l < k; ++l) {
        const float a = ta ? A[l + std::int64_t(i) * lda] : A[i + std::int64_t(l) * lda];
        const float b = tb ? B[j + std::int64_t(l) * ldb] : B[l + std::int64_t(j) * ldb];
        s += double(a) * double(b);
      }
      float& c = C[i + std::int64_t(j) * ldc];
      c = *beta == 0.0f ? float(double(*alpha) * s) : float(double(*alpha) * s + double(*beta) * double(c));
    }
  return CUBLAS_STATUS_SUCCESS;
}

namespace ucluster::cuda {
inline cublasHandle_t cublas(const Context&) { return nullptr; }
inline void check_cublas(cublasStatus_t status, const char* op) {
  UCLUSTER_CHECK(status == CUBLAS_STATUS_SUCCESS, op, ": cuBLAS error ", static_cast<int>(status));
}
}  // namespace ucluster::cuda
