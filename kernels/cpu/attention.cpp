#include "kernels/cpu/attention.h"
#include "kernels/cpu/parallel.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/reduce.h"

namespace ucluster::cpu {

namespace {
template <typename T>
T leaky(T z, T slope) {
  return z > T(0) ? z : slope * z;
}
}  // namespace

template <typename T>
void attention_softmax_forward(const T* a, const T* c, T* alpha, std::int64_t rows, std::int64_t k, T slope) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* cr = c + r * k;
    T* out = alpha + r * k;
    // Stabilised as TF's softmax: subtract the row maximum, exponentiate, multiply by 1 / sum.
    T m = leaky(a[r] + cr[0], slope);
    for (std::int64_t j = 0; j < k; ++j) {
      out[j] = leaky(a[r] + cr[j], slope);
      if (out[j] > m) m = out[j];
    }
    T sum = T(0);
    for (std::int64_t j = 0; j < k; ++j) {
      out[j] = std::exp(out[j] - m);
      sum += out[j];
    }
    const T inv = T(1) / sum;
    for (std::int64_t j = 0; j < k; ++j) out[j] *= inv;
  }
}

template <typename T>
void attention_softmax_backward(const T* a, const T* c, const T* alpha, const T* dalpha, T* da, T* dc,
                                std::int64_t rows, std::int64_t k, T slope) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k))
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* al = alpha + r * k;
    const T* g = dalpha + r * k;
    // TF's SoftmaxGrad: (g - sum(g * alpha)) * alpha, then LeakyReluGrad: * (z > 0 ? 1 : slope).
    T dot = T(0);
    for (std::int64_t j = 0; j < k; ++j) dot += g[j] * al[j];
    T dsum = T(0);
    for (std::int64_t j = 0; j < k; ++j) {
      const T dl = (g[j] - dot) * al[j];
      const T z = a[r] + c[r * k + j];
      const T dz = z > T(0) ? dl : slope * dl;
      if (dc) dc[r * k + j] += dz;
      dsum += dz;
    }
    // a_i is broadcast over the k neighbours: its gradient is the sum over j.
    if (da) da[r] += dsum;
  }
}

template <typename T>
void attention_aggregate_forward(const T* alpha, const T* y, const T* bias, T* o, std::int64_t rows, std::int64_t k,
                                 std::int64_t channels) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k * channels))
  for (std::int64_t r = 0; r < rows; ++r) {
    T* out = o + r * channels;
    for (std::int64_t ch = 0; ch < channels; ++ch) out[ch] = T(0);
    // The batched [1 x k] . [k x A] product of spec 2.3, summed over j in order.
    for (std::int64_t j = 0; j < k; ++j) {
      const T w = alpha[r * k + j];
      const T* yj = y + (r * k + j) * channels;
      for (std::int64_t ch = 0; ch < channels; ++ch) out[ch] += w * yj[ch];
    }
    if (bias)
      for (std::int64_t ch = 0; ch < channels; ++ch) out[ch] += bias[ch];
  }
}

template <typename T>
void attention_aggregate_backward(const T* alpha, const T* y, const T* dout, T* dalpha, T* dy, T* dbias,
                                  std::int64_t rows, std::int64_t k, std::int64_t channels) {
  if (dalpha || dy) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k * channels))
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* g = dout + r * channels;
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t e = r * k + j;
        if (dalpha) {
          const T* yj = y + e * channels;
          T s = T(0);
          for (std::int64_t ch = 0; ch < channels; ++ch) s += g[ch] * yj[ch];
          dalpha[e] += s;
        }
        if (dy) {
          T* dyj = dy + e * channels;
          for (std::int64_t ch = 0; ch < channels; ++ch) dyj[ch] += alpha[e] * g[ch];
        }
      }
    }
  }
  if (dbias) {
    std::vector<double> sums(static_cast<std::size_t>(channels));
    column_sums(rows, channels, [&](std::int64_t r, std::int64_t ch) { return double(dout[r * channels + ch]); },
                sums.data());
    for (std::int64_t ch = 0; ch < channels; ++ch) dbias[ch] += static_cast<T>(sums[ch]);
  }
}

template <typename T>
void neighbour_max_forward(const T* y, T* g, std::int64_t rows, std::int64_t k, std::int64_t channels) {
#pragma omp parallel for schedule(static) if(parallel_worth(rows * k * channels))
  for (std::int64_t r = 0; r < rows; ++r) {
    T* out = g + r * channels;
    const T* yr = y + r * k * channels;
    for (std::int64_t ch = 0; ch < channels; ++ch) out[ch] = yr[ch];
    for (std::int64_t j = 1; j < k; ++j)
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        const T v = yr[j * channels + ch];
        out[ch] = v > out[ch] ? v : out[ch];
      }
  }
}

template <typename T>
void neighbour_max_backward(const T* y, const T* g, const T* dg, T* dy, std::int64_t rows, std::int64_t k,
                            std::int64_t channels) {
  // Channels innermost (contiguous, vectorised); the ties are counted and the shares formed per
  // channel exactly as before, and dy only changes where y equals the max.
#pragma omp parallel if(parallel_worth(rows * k * channels))
  {
    std::vector<std::int64_t> ties(static_cast<std::size_t>(channels));
    std::vector<T> share(static_cast<std::size_t>(channels));
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* yr = y + r * k * channels;
      const T* gr = g + r * channels;
      const T* dgr = dg + r * channels;
      T* dyr = dy + r * k * channels;
      std::fill(ties.begin(), ties.end(), 0);
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t ch = 0; ch < channels; ++ch) ties[ch] += yr[j * channels + ch] == gr[ch];
      // TF's _MinOrMaxGrad: (indicator / num_selected) * grad, split equally among exact ties (no
      // tie only when the max is NaN, which then matches no element).
      for (std::int64_t ch = 0; ch < channels; ++ch)
        share[ch] = ties[ch] > 0 ? (T(1) / T(ties[ch])) * dgr[ch] : T(0);
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t ch = 0; ch < channels; ++ch) {
          T& d = dyr[j * channels + ch];
          d = yr[j * channels + ch] == gr[ch] ? d + share[ch] : d;
        }
    }
  }
}

template void attention_softmax_forward<float>(const float*, const float*, float*, std::int64_t, std::int64_t, float);
template void attention_softmax_forward<double>(const double*, const double*, double*, std::int64_t, std::int64_t,
                                                double);
template void attention_softmax_backward<float>(const float*, const float*, const float*, const float*, float*,
                                                float*, std::int64_t, std::int64_t, float);
template void attention_softmax_backward<double>(const double*, const double*, const double*, const double*, double*,
                                                 double*, std::int64_t, std::int64_t, double);
template void attention_aggregate_forward<float>(const float*, const float*, const float*, float*, std::int64_t,
                                                 std::int64_t, std::int64_t);
template void attention_aggregate_forward<double>(const double*, const double*, const double*, double*, std::int64_t,
                                                  std::int64_t, std::int64_t);
template void attention_aggregate_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                                  std::int64_t, std::int64_t, std::int64_t);
template void attention_aggregate_backward<double>(const double*, const double*, const double*, double*, double*,
                                                   double*, std::int64_t, std::int64_t, std::int64_t);
template void neighbour_max_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void neighbour_max_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t);
template void neighbour_max_backward<float>(const float*, const float*, const float*, float*, std::int64_t,
                                            std::int64_t, std::int64_t);
template void neighbour_max_backward<double>(const double*, const double*, const double*, double*, std::int64_t,
                                             std::int64_t, std::int64_t);

}  // namespace ucluster::cpu
