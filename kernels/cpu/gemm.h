// GEMM on the CPU through BLAS (OpenBLAS): C = alpha * op(A) * op(B) + beta * C, row-major.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// op(A) is [m, k], op(B) is [k, n], C is [m, n]; lda/ldb/ldc are the row strides of the stored
// (untransposed) matrices.
template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// The same product computed in fixed 256 x 256 tiles of C, one BLAS call each, spread over the OpenMP
// team (on the calling thread inside a parallel region). gemm() runs this when BLAS is not
// OpenBLAS's OpenMP build (kernels/cpu/gemm.cpp); the tiles depend on the shape only, so the result
// does not depend on the thread count.
template <typename T>
void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

}  // namespace ucluster::cpu
