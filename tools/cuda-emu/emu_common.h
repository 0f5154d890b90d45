// CPU emulation of the CUDA subset the checked kernels use (tools/cuda-emu/run; a testing aid for
// machines without a GPU, not a CUDA implementation): one std::thread per CUDA thread of a block, a
// barrier per block and per warp, blocks one after another.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
#include "engine/context.h"
#include "engine/error.h"
#include "cublas_emu.h"  // the cuBLAS calls of kernels/cuda/dense.cu, on the host

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3e { unsigned x = 0, y = 0, z = 0; };
inline thread_local uint3e threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emu_block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> emu_warp_barriers;
inline std::vector<double> emu_shfl;
inline std::vector<unsigned char> emu_dyn_smem;
inline long emu_launches = 0;

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }
template <class T>
T __shfl_down_sync(unsigned, T v, int off) {
  const unsigned t = threadIdx.x + threadIdx.y * blockDim.x, w = t / 32, lane = t % 32;
  emu_shfl[t] = double(v);
  emu_warp_barriers[w]->arrive_and_wait();
  const T r = lane + off < 32 ? T(emu_shfl[w * 32 + lane + off]) : v;
  emu_warp_barriers[w]->arrive_and_wait();
  return r;
}
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double min(double a, double b) { return a < b ? a : b; }
using std::isnan;  // the device code calls the unqualified overloads
// The rounding intrinsics of embed/src/cuda_forward.cu: one IEEE operation each (the emulation is
// compiled with -ffp-contract=off, so the plain operators are not fused).
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }  // correctly rounded, as sqrtf
inline double __dmul_rn(double a, double b) { return a * b; }

using cudaError_t = int;
using cudaStream_t = void*;
constexpr int cudaSuccess = 0;
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
template <class F>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, F, int, std::size_t) { *blocks = 1; return 0; }
enum { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
inline long emu_smem_reserved = 48 * 1024;
inline cudaError_t cudaDeviceGetAttribute(int* v, int, int) { *v = 227 * 1024; return 0; }
template <class F>
cudaError_t cudaFuncSetAttribute(F, int, int bytes) { emu_smem_reserved = bytes; return 0; }

// One std::thread per CUDA thread of a block, created once per launch: each runs its threadIdx in
// every block in turn, blocks one after another (a barrier between blocks, whose completion refills
// the dynamic shared memory with NaN bytes, so an unwritten read shows in every block).
template <class F>
void emu_launch(dim3 grid, dim3 block, std::size_t smem, F f) {
  UCLUSTER_CHECK(grid.x >= 1 && block.x >= 1 && block.x * block.y <= 1024, "emu: bad launch ", grid.x, " ", block.x);
  UCLUSTER_CHECK(smem <= std::size_t(emu_smem_reserved) || smem <= 48 * 1024, "emu: smem ", smem, " not reserved");
  ++emu_launches;
  gridDim = grid;
  blockDim = block;
  const unsigned T = block.x * block.y;
  emu_dyn_smem.assign(smem, 0xff);
  std::barrier<> bar(T);
  emu_block_barrier = &bar;
  emu_warp_barriers.clear();
  for (unsigned w = 0; w < (T + 31) / 32; ++w)
    emu_warp_barriers.push_back(std::make_unique<std::barrier<>>(std::min(32u, T - w * 32)));
  emu_shfl.assign(T, 0.0);
  auto refill = [&]() noexcept { std::fill(emu_dyn_smem.begin(), emu_dyn_smem.end(), 0xff); };
  std::barrier<decltype(refill)> next_block(T, refill);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < T; ++t)
    threads.emplace_back([&, t] {
      threadIdx = {t % block.x, t / block.x, 0};
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          blockIdx = {bx, by, 0};
          f();
          next_block.arrive_and_wait();
        }
    });
  for (auto& th : threads) th.join();
}

namespace ucluster::cuda {
inline int stream(const Context&) { return 0; }
inline void check_launch(const char*) {}
inline unsigned grid_for(std::int64_t n, unsigned block) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}
}  // namespace ucluster::cuda
