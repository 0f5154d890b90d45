// Deep k-means loss on the GPU (spec 3.2), same arithmetic as the CPU body (double inside). K and D
// are small (3 and 3 in UCluster), so every thread recomputes the distances it needs instead of
// keeping per-row arrays.
//
// The work is spread over the jets: one thread per jet b writes its per-jet terms (forward: the row
// loss L_b; backward: the K*D contributions to dL/dmu) into a double scratch matrix [B, cols], and a
// two-stage column reduction sums it in a fixed order (reduce_columns below). Same inputs, same bits;
// no atomics and no host synchronisation.
#include <optional>

#include "engine/context.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kmeans_loss.h"

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

// Deterministic column sums of a row-major [rows, cols] double matrix in two stages:
// (1) block (x = chunk of kChunkRows rows, y = tile of kTileCols columns) with kRowLanes row lanes,
//     each lane adding rows lane, lane + kRowLanes, ... of the chunk in order, the lanes then combined
//     in a fixed tree;
// (2) one thread per column adding the chunk partials in chunk order.
// The order depends only on rows and cols, never on the launch or the scheduling.
constexpr std::int64_t kChunkRows = 256;
constexpr int kTileCols = 32;
constexpr int kRowLanes = 8;  // power of two (tree over the lanes)
constexpr int kFinishThreads = 128;
constexpr std::int64_t kMaxColTiles = 65535;  // gridDim.y limit

std::int64_t chunks_for(std::int64_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

// partial[chunk * cols + c] = sum of terms[r * cols + c] over the chunk's rows.
__global__ void column_partials_kernel(const double* terms, double* partial, std::int64_t rows, std::int64_t cols) {
  __shared__ double lanes[kRowLanes][kTileCols];
  const std::int64_t c = std::int64_t(blockIdx.y) * kTileCols + threadIdx.x;
  const std::int64_t r0 = std::int64_t(blockIdx.x) * kChunkRows;
  const std::int64_t r1 = r0 + kChunkRows < rows ? r0 + kChunkRows : rows;
  double s = 0.0;
  if (c < cols)
    for (std::int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) s += terms[r * cols + c];
  lanes[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (threadIdx.y < half) lanes[threadIdx.y][threadIdx.x] += lanes[threadIdx.y + half][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && c < cols) partial[std::int64_t(blockIdx.x) * cols + c] = lanes[0][threadIdx.x];
}

// v = float(sum over chunks / divisor); out[c] = v, or out[c] += v when accumulating (gradients).
__global__ void column_finish_kernel(const double* partial, std::int64_t chunks, std::int64_t cols, double divisor,
                                     bool accumulate, float* out) {
  const std::int64_t c = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  double s = 0.0;
  for (std::int64_t k = 0; k < chunks; ++k) s += partial[k * cols + c];
  const float v = static_cast<float>(s / divisor);
  out[c] = accumulate ? out[c] + v : v;
}

// Column sums of terms [rows, cols] into out (see above); partial holds chunks_for(rows) * cols doubles.
// rows == 0 gives sums of 0 (no partials kernel: an empty grid is an invalid launch).
void reduce_columns(Context& ctx, const double* terms, double* partial, std::int64_t rows, std::int64_t cols,
                    double divisor, bool accumulate, float* out, const char* op) {
  if (cols == 0) return;
  const std::int64_t chunks = chunks_for(rows), tiles = (cols + kTileCols - 1) / kTileCols;
  UCLUSTER_CHECK(tiles <= kMaxColTiles, op, ": ", cols, " columns exceed the reduction grid");
  if (chunks > 0) {
    const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(tiles));
    column_partials_kernel<<<grid, dim3(kTileCols, kRowLanes), 0, stream(ctx)>>>(terms, partial, rows, cols);
    check_launch(op);
  }
  column_finish_kernel<<<grid_for(cols, kFinishThreads), kFinishThreads, 0, stream(ctx)>>>(partial, chunks, cols,
                                                                                            divisor, accumulate, out);
  check_launch(op);
}

// Double scratch on the context's device: the per-jet terms [rows, cols] followed by the chunk
// partials. Freed into the caching allocator on return; later users are ordered after the
// reduction by the context's single stream.
class Scratch {
 public:
  Scratch(Context& ctx, std::int64_t rows, std::int64_t cols) {
    const std::int64_t n = rows * cols + chunks_for(rows) * cols;
    buffer_ = ctx.empty(Shape{n > 0 ? n : 1}, DType::F64, Device::cuda(ctx.cuda()->device));
    terms_ = buffer_.data<double>();
    partial_ = terms_ + rows * cols;
  }
  double* terms() const { return terms_; }
  double* partial() const { return partial_; }

 private:
  Tensor buffer_;
  double* terms_ = nullptr;
  double* partial_ = nullptr;
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
//   dmu_terms[b, j * D + c] = -g_bj 2 (z_bc - mu_jc), summed over b by reduce_columns.
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
  reduce_columns(ctx, scratch.terms(), scratch.partial(), batch, 1, double(batch), false, loss, op);
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
  if (want_dmu) reduce_columns(ctx, scratch->terms(), scratch->partial(), batch, cols, 1.0, true, dmu, op);
}

void kmeans_assign(Context& ctx, const float* dist, std::int32_t* assign, std::int64_t batch,
                   std::int64_t clusters) {
  if (batch == 0) return;
  kmeans_assign_kernel<<<grid_for(batch, 128), 128, 0, stream(ctx)>>>(dist, assign, batch, clusters);
  check_launch("kmeans_assign");
}

}  // namespace ucluster::cuda
