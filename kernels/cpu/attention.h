// The attention part of the GAP layer (spec 2.3): softmax of the attention coefficients over the k
// neighbours, the attention-weighted sum of the edge features, and the element-wise max over k.
// Rows r = (b, i) run over B*N points; k neighbours; A channels.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// alpha[r,j] = softmax_j(LeakyReLU_slope(a[r] + c[r,j])), max-subtracted; a [rows], c, alpha [rows, k].
template <typename T>
void attention_softmax_forward(const T* a, const T* c, T* alpha, std::int64_t rows, std::int64_t k, T slope);
// Accumulates da[r] += sum_j dz[r,j] and dc[r,j] += dz[r,j], dz = LeakyReLU'(z) * softmax'(dalpha).
// da or dc may be nullptr.
template <typename T>
void attention_softmax_backward(const T* a, const T* c, const T* alpha, const T* dalpha, T* da, T* dc,
                                std::int64_t rows, std::int64_t k, T slope);

// o[r,:] = sum_j alpha[r,j] y[r,j,:] + bias; alpha [rows, k], y [rows, k, A], bias [A] or nullptr.
template <typename T>
void attention_aggregate_forward(const T* alpha, const T* y, const T* bias, T* o, std::int64_t rows, std::int64_t k,
                                 std::int64_t channels);
// Accumulates dalpha[r,j] += do[r,:].y[r,j,:], dy[r,j,:] += alpha[r,j] do[r,:], dbias += sum_r do[r,:].
// Any of dalpha, dy, dbias may be nullptr.
template <typename T>
void attention_aggregate_backward(const T* alpha, const T* y, const T* dout, T* dalpha, T* dy, T* dbias,
                                  std::int64_t rows, std::int64_t k, std::int64_t channels);

// g[r,a] = max_j y[r,j,a]; y [rows, k, A], g [rows, A].
template <typename T>
void neighbour_max_forward(const T* y, T* g, std::int64_t rows, std::int64_t k, std::int64_t channels);
// Accumulates dy[r,j,a] += dg[r,a] / n_ties for every j with y[r,j,a] == g[r,a] (TF's reduce_max
// gradient, spec 8 #16).
template <typename T>
void neighbour_max_backward(const T* y, const T* g, const T* dg, T* dy, std::int64_t rows, std::int64_t k,
                            std::int64_t channels);

}  // namespace ucluster::cpu
