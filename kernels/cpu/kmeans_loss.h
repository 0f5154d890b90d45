// CPU body of the deep k-means loss (spec 3.2): z [B, D], mu [K, D], dist [B, K], assign [B].
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// loss[0] = (1/B) sum_b sum_j w_bj d_bj; dist (may be nullptr) receives d_bj.
template <typename T>
void kmeans_loss_forward(const T* z, const T* mu, T* loss, T* dist, std::int64_t batch, std::int64_t clusters,
                         std::int64_t dim, double alpha);

// Accumulates dz += dloss[0] dL/dz, dmu += dloss[0] dL/dmu; dz or dmu may be nullptr.
template <typename T>
void kmeans_loss_backward(const T* z, const T* mu, const T* dloss, T* dz, T* dmu, std::int64_t batch,
                          std::int64_t clusters, std::int64_t dim, double alpha);

// assign[b] = argmin_j dist[b, j], ties to the lower index.
template <typename T>
void kmeans_assign(const T* dist, std::int32_t* assign, std::int64_t batch, std::int64_t clusters);

}  // namespace ucluster::cpu
