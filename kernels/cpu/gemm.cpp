#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <type_traits>

// OpenBLAS says how it runs its own threads: 0 sequential, 1 its own pthread pool, 2 OpenMP. Weak:
// another CBLAS (the build looks for OpenBLAS first) lacks them and is called as it is.
extern "C" int openblas_get_parallel(void) __attribute__((weak));
extern "C" void openblas_set_num_threads(int num_threads) __attribute__((weak));

namespace ucluster::cpu {

namespace {

CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// With OpenBLAS's OpenMP build a GEMM called outside a parallel region runs on the engine's own
// OpenMP team, and one called inside a region on the calling thread: one pool for both. Its pthread
// build keeps a second pool that competes with the OpenMP team's spinning threads (on 2 cores,
// batch 512: training 403-407 -> 302-320 jets/s, single jet 1.1 -> up to 3.7 ms; README, Build
// options). With that build (or a
// sequential one) BLAS is set to one thread and the engine splits each GEMM over its OpenMP team
// itself (gemm_tiled). openblas_set_num_threads is the library's process-wide setting; it is made
// once, here, where BLAS is called.
bool engine_splits_gemm() {
  static const bool split = [] {
    if (openblas_get_parallel == nullptr || openblas_set_num_threads == nullptr) return false;
    const int mode = openblas_get_parallel();
    if (mode != 2) openblas_set_num_threads(1);
    return mode != 2;
  }();
  return split;
}

template <typename T>
void blas_gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
               std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, trans(trans_a), trans(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, trans(trans_a), trans(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Tiles of C: the partition depends on the shape only, never on the thread count or on whether the
// caller is inside a parallel region (then the tiles run on the calling thread), so the bits of the
// result do not either. Below kSplitWork multiply-adds a GEMM is one call.
constexpr std::int64_t kTileRows = 256, kTileCols = 256, kSplitWork = std::int64_t{1} << 18;

}  // namespace

template <typename T>
void gemm_tiled(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const std::int64_t row_tiles = (m + kTileRows - 1) / kTileRows, col_tiles = (n + kTileCols - 1) / kTileCols;
#pragma omp parallel for schedule(dynamic) if (!omp_in_parallel())
  for (std::int64_t tile = 0; tile < row_tiles * col_tiles; ++tile) {
    const std::int64_t r0 = (tile / col_tiles) * kTileRows, c0 = (tile % col_tiles) * kTileCols;
    const std::int64_t rows = std::min(kTileRows, m - r0), cols = std::min(kTileCols, n - c0);
    // op(A) rows r0.. are stored rows (no transpose) or stored columns (transpose); likewise op(B)'s columns.
    const T* a_tile = trans_a ? a + r0 : a + r0 * lda;
    const T* b_tile = trans_b ? b + c0 * ldb : b + c0;
    blas_gemm<T>(trans_a, trans_b, rows, cols, k, alpha, a_tile, lda, b_tile, ldb, beta, c + r0 * ldc + c0, ldc);
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (engine_splits_gemm() && m * n * k >= kSplitWork && (m > kTileRows || n > kTileCols))
    gemm_tiled<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    blas_gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t);
template void gemm_tiled<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                                const float*, std::int64_t, float, float*, std::int64_t);
template void gemm_tiled<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                                 std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace ucluster::cpu
