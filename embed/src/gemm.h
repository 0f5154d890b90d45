// The library's own small GEMM, so that it needs no BLAS (whose threads and process-wide thread
// settings an embedding framework cannot have): C[m][np] = A[m][k] * W[k][np], W packed with its
// columns padded to a multiple of kColumnBlock (zeros), m a multiple of kRowBlock.
//
// Every element is one sequential sum over k (fused multiply-adds where the CPU has them), computed
// by the same instructions whatever m and whatever other rows are in the call: a jet's result
// never depends on the batch or the thread that ran it. Kernels for AVX-512, AVX2+FMA and plain
// x86-64/other CPUs are compiled from gemm_kernel.inc; the best one the CPU supports is picked once
// when a model is loaded (so results are bit-identical on one machine, and differ across instruction
// sets only by float rounding).
#pragma once

#include <cstdint>
#include <vector>

namespace ucluster::embed {

constexpr std::int64_t kRowBlock = 4;
constexpr std::int64_t kColumnBlock = 16;

inline std::int64_t round_up(std::int64_t v, std::int64_t block) { return (v + block - 1) / block * block; }

// lda/ldc: row strides of A and C in floats; w is [k][np], np a multiple of kColumnBlock.
using GemmKernel = void (*)(const float* a, std::int64_t lda, std::int64_t m, const float* w, std::int64_t k,
                            std::int64_t np, float* c, std::int64_t ldc);

struct GemmImplementation {
  GemmKernel kernel;
  const char* name;  // "avx512", "avx2", "generic"
};

// The fastest kernel this CPU runs.
GemmImplementation select_gemm();

// A weight matrix [k][n] packed for the kernels: [k][round_up(n, kColumnBlock)], zero padded.
struct PackedWeights {
  std::int64_t k = 0, n = 0, np = 0;
  std::vector<float> data;
};
PackedWeights pack_weights(const float* w, std::int64_t k, std::int64_t n);

}  // namespace ucluster::embed
