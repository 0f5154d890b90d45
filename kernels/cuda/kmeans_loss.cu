// Deep k-means loss on the GPU (spec 3.2), same arithmetic as the CPU body (double inside). K and D
// are small (3 and 3 in UCluster), so every thread recomputes the distances it needs instead of
// keeping per-row arrays.
//
// The work is spread over the jets: one thread per jet b writes its per-jet terms (forward: the row
// loss L_b; backward: the K*D contributions to dL/dmu) into a double scratch matrix [B, cols], and a
// two-stage column reduction (kernels/cuda/reduce.cuh) sums it in a fixed order. Same inputs, same bits;
// no atomics and no host synchronisation.
#include <optional>

#include "engine/context.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kmeans_loss.h"
#include "kernels/cuda/reduce.cuh"

namespace ucluster::cuda {

namespace {
constexpr int kJetThreads = 128;  // per-jet kernels: one thread per jet, grid-stride

__device__ double sq_distance(const float* zb, const float* muj, std::int64_t dim) {
  double s = 0.0;
  for (std::int64_t c = 0; c < dim; ++c) {
    const double diff = double(zb[c]) - double(muj[c]);
    s += diff * diff;
  }
  return s;
}

// Per-jet constants of the soft assignment: w_j = exp(-alpha (d_j - shift)) / sum, mean_d = sum_j w_j d_j.
// shift is the row min of d (row max for alpha < 0), as in cpu/kmeans_loss.cpp.
struct RowSoftmax {
  double shift, sum, mean_d;
};

__device__ RowSoftmax row_softmax(const float* zb, const float* mu, std::int64_t clusters, std::int64_t dim,
                                  double alpha) {
  RowSoftmax r;
  r.shift = sq_distance(zb, mu, dim);
  for (std::int64_t j = 1; j < clusters; ++j) {
    const double d = sq_distance(zb, mu + j * dim, dim);
    r.shift = alpha >= 0.0 ? fmin(r.shift, d) : fmax(r.shift, d);
  }
  r.sum = 0.0;
  double weighted = 0.0;
  for (std::int64_t j = 0; j < clusters; ++j) {
    const double d = sq_distance(zb, mu + j * dim, dim);
    const double e = exp(-alpha * (d - r.shift));
    r.sum += e;
    weighted += e * d;
  }
  r.mean_d = weighted / r.sum;
  return r;
}

// g_bj = scale w_bj [1 - alpha (d_bj - mean_d)] (spec 3.2); 0 when the weight underflowed.
__device__ double cluster_grad(double d, const RowSoftmax& r, double alpha, double scale) {
  const double w = exp(-alpha * (d - r.shift)) / r.sum;
  return w == 0.0 ? 0.0 : scale * w * (1.0 - alpha * (d - r.mean_d));
}

// Double scratch on the context's device: the per-jet terms [rows, cols], the partials of their
// column sums and the sums [cols]. Freed into the caching allocator on return; later users are
// ordered after the reduction by the context's single stream.
class Scratch {
 public:
  Scratch(Context& ctx, std::int64_t rows, std::int64_t cols) : rows_(rows), cols_(cols) {
    const std::int64_t n = rows * cols + column_partials_size<1>(rows, cols) + cols;
    buffer_ = ctx.empty(Shape{n > 0 ? n : 1}, DType::F64, Device::cuda(ctx.cuda()->device));
    terms_ = buffer_.data<double>();
  }
  double* terms() const { return terms_; }

  // out[c] = float(sum over rows of terms[r, c] / divisor), or out[c] += that when accumulating.
  void reduce(Context& ctx, double divisor, bool accumulate, float* out, const char* op) const {
    if (cols_ == 0) return;
    double* partial = terms_ + rows_ * cols_;
    double* sums = partial + column_partials_size<1>(rows_, cols_);
    column_sums<1>(ctx, MatrixTerms<double>{terms_, cols_}, rows_, cols_, partial, sums, op);
    store_sums(ctx, sums, cols_, divisor, accumulate, out, op);
  }

 private:
  std::int64_t rows_, cols_;
  Tensor buffer_;
  double* terms_ = nullptr;
};

// One thread per jet: row_loss[b] = L_b = sum_j w_bj d_bj, and the distances when wanted.
__global__ void kmeans_forward_rows_kernel(const float* z, const float* mu, double* row_loss, float* dist,
                                           std::int64_t batch, std::int64_t clusters, std::int64_t dim,
                                           double alpha) {
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* zb = z + b * dim;
    row_loss[b] = row_softmax(zb, mu, clusters, dim, alpha).mean_d;
    if (dist)
      for (std::int64_t j = 0; j < clusters; ++j)
        dist[b * clusters + j] = static_cast<float>(sq_distance(zb, mu + j * dim, dim));
  }
}

// One thread per jet, both gradients from one row softmax (each optional):
//   dz_bc += sum_j g_bj 2 (z_bc - mu_jc);
//   dmu_terms[b, j * D + c] = -g_bj 2 (z_bc - mu_jc), summed over b by Scratch::reduce.
__global__ void kmeans_backward_rows_kernel(const float* z, const float* mu, const float* dloss, float* dz,
                                            double* dmu_terms, std::int64_t batch, std::int64_t clusters,
                                            std::int64_t dim, double alpha) {
  const double scale = double(dloss[0]) / double(batch);
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* zb = z + b * dim;
    const RowSoftmax r = row_softmax(zb, mu, clusters, dim, alpha);
    if (dz)
      for (std::int64_t c = 0; c < dim; ++c) {
        double acc = 0.0;
        for (std::int64_t j = 0; j < clusters; ++j) {
          const float* muj = mu + j * dim;
          acc += cluster_grad(sq_distance(zb, muj, dim), r, alpha, scale) * 2.0 * (double(zb[c]) - double(muj[c]));
        }
        dz[b * dim + c] += static_cast<float>(acc);
      }
    if (dmu_terms) {
      double* tb = dmu_terms + b * clusters * dim;
      for (std::int64_t j = 0; j < clusters; ++j) {
        const float* muj = mu + j * dim;
        const double g = cluster_grad(sq_distance(zb, muj, dim), r, alpha, scale);
        for (std::int64_t c = 0; c < dim; ++c) tb[j * dim + c] = -g * 2.0 * (double(zb[c]) - double(muj[c]));
      }
    }
  }
}

__global__ void kmeans_assign_kernel(const float* dist, std::int32_t* assign, std::int64_t batch,
                                     std::int64_t clusters) {
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < batch;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const float* db = dist + b * clusters;
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < clusters; ++j)
      if (db[j] < db[best]) best = j;  // strict: ties keep the lower index
    assign[b] = static_cast<std::int32_t>(best);
  }
}
}  // namespace

void kmeans_loss_forward(Context& ctx, const float* z, const float* mu, float* loss, float* dist,
                         std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha) {
  const char* op = "kmeans_loss";
  Scratch scratch(ctx, batch, 1);
  if (batch > 0) {
    kmeans_forward_rows_kernel<<<grid_for(batch, kJetThreads), kJetThreads, 0, stream(ctx)>>>(
        z, mu, scratch.terms(), dist, batch, clusters, dim, alpha);
    check_launch(op);
  }
  // loss = (sum_b L_b) / B, as cpu/kmeans_loss.cpp (0/0 = NaN for an empty batch, as there).
  scratch.reduce(ctx, double(batch), false, loss, op);
}

void kmeans_loss_backward(Context& ctx, const float* z, const float* mu, const float* dloss, float* dz, float* dmu,
                          std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha) {
  const char* op = "kmeans_loss backward";
  const std::int64_t cols = clusters * dim;
  const bool want_dmu = dmu && cols > 0;
  if (!dz && !want_dmu) return;
  std::optional<Scratch> scratch;  // only for dmu; dz alone needs none
  if (want_dmu) scratch.emplace(ctx, batch, cols);
  if (batch > 0) {
    kmeans_backward_rows_kernel<<<grid_for(batch, kJetThreads), kJetThreads, 0, stream(ctx)>>>(
        z, mu, dloss, dz, want_dmu ? scratch->terms() : nullptr, batch, clusters, dim, alpha);
    check_launch(op);
  }
  // dmu_jc += float(sum_b terms[b, jc]).
  if (want_dmu) scratch->reduce(ctx, 1.0, true, dmu, op);
}

void kmeans_assign(Context& ctx, const float* dist, std::int32_t* assign, std::int64_t batch,
                   std::int64_t clusters) {
  if (batch == 0) return;
  kmeans_assign_kernel<<<grid_for(batch, 128), 128, 0, stream(ctx)>>>(dist, assign, batch, clusters);
  check_launch("kmeans_assign");
}

}  // namespace ucluster::cuda
