#include "embed/src/gemm.h"

namespace ucluster::embed {

void gemm_generic(const float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t, float*,
                  std::int64_t);
#if defined(__x86_64__)
void gemm_avx2(const float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t, float*,
               std::int64_t);
void gemm_avx512(const float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t, float*,
                 std::int64_t);
#endif

GemmImplementation select_gemm() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {gemm_avx512, "avx512"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {gemm_avx2, "avx2"};
#endif
  return {gemm_generic, "generic"};
}

PackedWeights pack_weights(const float* w, std::int64_t k, std::int64_t n) {
  PackedWeights p;
  p.k = k;
  p.n = n;
  p.np = round_up(n, kColumnBlock);
  p.data.assign(static_cast<std::size_t>(k * p.np), 0.0f);
  for (std::int64_t r = 0; r < k; ++r)
    for (std::int64_t c = 0; c < n; ++c) p.data[r * p.np + c] = w[r * n + c];
  return p;
}

}  // namespace ucluster::embed
