#include "kernels/cpu/concat.h"
#include "kernels/cpu/parallel.h"

namespace ucluster::cpu {

template <typename T>
void concat_forward(const T* const* inputs, const std::int64_t* widths, int count, T* out, std::int64_t rows,
                    std::int64_t total) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * total))
  for (std::int64_t r = 0; r < rows; ++r) {
    T* o = out + r * total;
    for (int i = 0; i < count; ++i) {
      const std::int64_t w = widths[i];
      const T* in = inputs[i] + r * w;
      for (std::int64_t c = 0; c < w; ++c) o[c] = in[c];
      o += w;
    }
  }
}

template <typename T>
void concat_backward(const T* dout, T* const* dinputs, const std::int64_t* widths, int count, std::int64_t rows,
                     std::int64_t total) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * total))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * total;
    for (int i = 0; i < count; ++i) {
      const std::int64_t w = widths[i];
      if (dinputs[i]) {
        T* d = dinputs[i] + r * w;
        for (std::int64_t c = 0; c < w; ++c) d[c] += g[c];
      }
      g += w;
    }
  }
}

template void concat_forward<float>(const float* const*, const std::int64_t*, int, float*, std::int64_t,
                                    std::int64_t);
template void concat_forward<double>(const double* const*, const std::int64_t*, int, double*, std::int64_t,
                                     std::int64_t);
template void concat_backward<float>(const float*, float* const*, const std::int64_t*, int, std::int64_t,
                                     std::int64_t);
template void concat_backward<double>(const double*, double* const*, const std::int64_t*, int, std::int64_t,
                                      std::int64_t);

}  // namespace ucluster::cpu
