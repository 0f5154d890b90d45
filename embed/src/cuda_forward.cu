// The forward pass kernel of the CUDA session (cuda_forward.h): JetRunner::run (forward.cpp) for one
// jet per thread block. Every multiply and add outside the dense layers goes through __fmul_rn /
// __fadd_rn / __fsub_rn so that nvcc cannot contract them into fused multiply-adds (spec 8 #9: the
// kNN distances are rounded after every operation; the rest follows forward.cpp, compiled without
// contraction). tools/cuda-emu compiles this file as C++ with UCLUSTER_CUDA_EMU (emu_common.h).
#ifdef UCLUSTER_CUDA_EMU
#include "emu_common.h"
#else
#include <cuda_runtime.h>
#endif

#include <cmath>
#include <stdexcept>
#include <string>

#include "embed/src/cuda_forward.h"

namespace ucluster::embed::cuda {

// --- Packing the Network (host) ---------------------------------------------------------------------

namespace {

int append(std::vector<float>& data, const std::vector<float>& v) {
  const int at = static_cast<int>(data.size());
  data.insert(data.end(), v.begin(), v.end());
  return at;
}

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("the CUDA forward pass has another shape than the model: " + what);
}

DenseParams dense_params(std::vector<float>& data, const PackedWeights& w, const std::vector<float>& scale,
                         const std::vector<float>& shift, bool relu, std::int64_t k, std::int64_t np,
                         const char* name) {
  expect(w.k == k && w.np == np, name);
  return {append(data, w.data), append(data, scale), append(data, shift), int(k), int(np), relu ? 1 : 0};
}

DenseParams dense_params(std::vector<float>& data, const DenseLayer& l, std::int64_t k, std::int64_t np,
                         const char* name) {
  return dense_params(data, l.w, l.scale, l.shift, l.relu, k, np, name);
}

GapParams gap_params(std::vector<float>& data, const GapBlock& g, std::int64_t cin, std::int64_t width,
                     const char* name) {
  expect(g.width == width && std::int64_t(g.selfatt.w.size()) == width && std::int64_t(g.neibatt.w.size()) == width &&
             std::int64_t(g.out_bias.size()) == width,
         name);
  GapParams p{};
  p.newfea = dense_params(data, g.newfea, cin, width, name);
  p.edge = dense_params(data, g.edge, g.edge_scale, g.edge_shift, true, cin, width, name);
  p.selfatt_w = append(data, g.selfatt.w);
  p.neibatt_w = append(data, g.neibatt.w);
  p.out_bias = append(data, g.out_bias);
  p.selfatt_scale = g.selfatt.scale;
  p.selfatt_shift = g.selfatt.shift;
  p.neibatt_scale = g.neibatt.scale;
  p.neibatt_shift = g.neibatt.shift;
  return p;
}

}  // namespace

PackedNetwork pack_network(const Network& net) {
  const model::ModelDims& d = net.dims();
  expect(d.num_points == kPoints && d.num_features == kFeatures && d.k == kK && d.gap0_width == kWidth0 &&
             d.gap1_width == kWidth1 && d.latent == kLatent && d.num_classes == kClasses &&
             d.num_clusters == kClusters,
         "dims");
  const Network::Layers l = net.layers();
  PackedNetwork out;
  std::vector<float>& data = out.data;
  ForwardParams& p = out.params;
  p.gap0 = gap_params(data, l.gap0, kFeatures, kWidth0, "gap0");
  p.gap1 = gap_params(data, l.gap1, kCatNet11 - kCatNet02, kWidth1, "gap1");
  p.net01 = dense_params(data, l.gapnet01, kLd0, kCatNet02 - kCatNet01, "gapnet01");
  p.net02 = dense_params(data, l.gapnet02, kCatNet02 - kCatNet01, kCatNet11 - kCatNet02, "gapnet02");
  p.net11 = dense_params(data, l.gapnet11, kLd1, kCatNet12 - kCatNet11, "gapnet11");
  p.net12 = dense_params(data, l.gapnet12, kCatNet12 - kCatNet11, kCatG0 - kCatNet12, "gapnet12");
  p.agg = dense_params(data, l.agg, kCatWidth, kAggLd, "agg");
  p.fc1 = dense_params(data, l.fc1, kLatent, kFc1, "fc1");
  p.fc2 = dense_params(data, l.fc2, kFc1, kFc2, "fc2");
  p.fc3 = dense_params(data, l.fc3, kFc2, kFc3Ld, "fc3");
  expect(net.centroids().size() == std::size_t(kClusters * kLatent), "mu");
  p.mu = append(data, net.centroids());
  p.leaky_slope = l.leaky_slope;
  p.padding_penalty = l.padding_penalty;
  return out;
}

// --- The kernel ---------------------------------------------------------------------------------

namespace {

constexpr double kPi = 3.14159265358979323846;

// The engine's ReLU (kernels/edge_attention_math.h, relu_branchless.h): -0 for a negative v and NaN
// stays NaN, so a jet that overflows is reported as on the CPU, not hidden as a zero.
__device__ __forceinline__ float relu(float v) { return v > 0.0f ? v : __fmul_rn(0.0f, v); }
__device__ __forceinline__ float larger(float best, float v) { return best < v ? v : best; }  // std::max

// out[r][c] = act(in[r] . W[:, c] * scale[c] + shift[c]) for r < rows, c < np, as JetRunner::dense:
// one fused multiply-add chain over k in order per element (gemm_kernel.inc), then the affine
// rounded per operation. Without the epilogue: the raw product (the GAP block's P = h W_edge).
__device__ void dense(const float* P, const DenseParams& l, const float* in, int ldi, int rows, float* out, int ldo,
                      bool epilogue = true) {
  const float* w = P + l.w;
  for (int t = threadIdx.x; t < rows * l.np; t += blockDim.x) {
    const int r = t / l.np, c = t - r * l.np;
    const float* a = in + r * ldi;
    float acc = 0.0f;
    for (int k = 0; k < l.k; ++k) acc = __fmaf_rn(a[k], w[k * l.np + c], acc);
    if (epilogue) {
      acc = __fadd_rn(__fmul_rn(acc, P[l.scale + c]), P[l.shift + c]);
      if (l.relu) acc = relu(acc);
    }
    out[r * ldo + c] = acc;
  }
  __syncthreads();
}

// forward.cpp's dot16: sixteen lane sums, then the lanes in order; n a multiple of 16. value(i) is
// the first operand's element i (the edge features are recomputed, not stored).
template <class Value>
__device__ float dot16(Value value, const float* b, int n) {
  float lane[16];
  for (int l = 0; l < 16; ++l) lane[l] = 0.0f;
  for (int i = 0; i < n; i += 16)
    for (int l = 0; l < 16; ++l) lane[l] = __fadd_rn(lane[l], __fmul_rn(value(i + l), b[i + l]));
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s = __fadd_rn(s, lane[l]);
  return s;
}

// JetRunner::select_neighbours for one query row: the k nearest of dist(j), j < rows, ascending, ties
// to the lower index, NaN last; the padding row (index n) counts as `padding` rows, whose copies come
// after every real row of equal distance (padding-compression.md, "The compressed form").
template <class Dist>
__device__ void select_neighbours(Dist dist, int rows, int n, int padding, int* out) {
  float best[kK];
  int who[kK];
  const int keep = rows < kK ? rows : kK;  // every entry gives at least one neighbour
  int m = 0;
  for (int j = 0; j < rows; ++j) {
    float d = dist(j);
    if (d != d) d = INFINITY;
    if (m == keep && !(d < best[keep - 1])) continue;  // not before the last kept (ties: lower j first)
    int p = m < keep ? m++ : keep - 1;
    for (; p > 0 && best[p - 1] > d; --p) {
      best[p] = best[p - 1];
      who[p] = who[p - 1];
    }
    best[p] = d;
    who[p] = j;
  }
  int taken = 0;
  for (int p = 0; p < keep && taken < kK; ++p) {
    const int copies = (padding > 0 && who[p] == n) ? padding : 1;
    for (int c = 0; c < copies && taken < kK; ++c) out[taken++] = who[p];
  }
}

// One GAP block (spec 2.3) on the compressed rows, as JetRunner::gap_block: s and a on the points,
// y_ij = relu(bn(P_i - P_j)) with P = h W_edge (recomputed where needed, never stored), c_ij, the
// softmax over the k neighbours, o_i = relu(sum_j alpha_ij y_ij + b_out), g_i = max_j y_ij.
// sp: [rows][width] scratch; a: [rows], alpha: [rows][k] shared.
__device__ void gap_block(const float* P, const GapParams& gp, int width, float slope, const float* h, int ldh,
                          const int* idx, int rows, float* sp, float* a, float* alpha, float* o, int ldo, float* g,
                          int ldg) {
  dense(P, gp.newfea, h, ldh, rows, sp, width);  // s
  for (int i = threadIdx.x; i < rows; i += blockDim.x) {
    const float* si = sp + i * width;
    const float dot = dot16([&](int c) { return si[c]; }, P + gp.selfatt_w, width);
    a[i] = relu(__fadd_rn(__fmul_rn(dot, gp.selfatt_scale), gp.selfatt_shift));
  }
  __syncthreads();
  dense(P, gp.edge, h, ldh, rows, sp, width, false);  // P overwrites s, which is no longer needed
  const float* scale = P + gp.edge.scale;
  const float* shift = P + gp.edge.shift;
  auto y = [&](int i, int j, int c) {
    const float d = __fsub_rn(sp[i * width + c], sp[idx[i * kK + j] * width + c]);
    return relu(__fadd_rn(__fmul_rn(d, scale[c]), shift[c]));
  };
  // The attention logits LeakyReLU(a_i + c_ij), one thread per edge.
  for (int t = threadIdx.x; t < rows * kK; t += blockDim.x) {
    const int i = t / kK, j = t - i * kK;
    const float dot = dot16([&](int c) { return y(i, j, c); }, P + gp.neibatt_w, width);
    const float c = relu(__fadd_rn(__fmul_rn(dot, gp.neibatt_scale), gp.neibatt_shift));
    const float z = __fadd_rn(a[i], c);
    alpha[t] = z > 0.0f ? z : __fmul_rn(slope, z);
  }
  __syncthreads();
  // The softmax as TF's (and forward.cpp's): subtract the maximum, exponentiate, multiply by 1 / sum.
  // exp in double, rounded once: the correctly rounded float, which CUDA's expf (up to 2 ulp off)
  // is not. The CPU session's glibc expf (0.502 ulp) differs from it on 0.009 % of the floats in
  // [-104, 0], so the two sessions can differ there by an ulp of alpha (tools/cuda-emu shows it).
  for (int i = threadIdx.x; i < rows; i += blockDim.x) {
    float* al = alpha + i * kK;
    float top = al[0];
    for (int j = 1; j < kK; ++j) top = larger(top, al[j]);
    float sum = 0.0f;
    for (int j = 0; j < kK; ++j) {
      al[j] = static_cast<float>(exp(static_cast<double>(__fsub_rn(al[j], top))));
      sum = __fadd_rn(sum, al[j]);
    }
    const float inv = __fdiv_rn(1.0f, sum);
    for (int j = 0; j < kK; ++j) al[j] = __fmul_rn(al[j], inv);
  }
  __syncthreads();
  for (int t = threadIdx.x; t < rows * width; t += blockDim.x) {
    const int i = t / width, c = t - i * width;
    float acc = 0.0f, best = y(i, 0, c);
    for (int j = 0; j < kK; ++j) {
      const float v = y(i, j, c);
      acc = __fadd_rn(acc, __fmul_rn(alpha[i * kK + j], v));
      best = larger(best, v);
    }
    o[i * ldo + c] = relu(__fadd_rn(acc, P[gp.out_bias + c]));
    g[i * ldg + c] = best;
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads)
    jet_forward(ForwardParams p, const float* __restrict__ P, const float* __restrict__ features,
                const int* __restrict__ counts, float* __restrict__ scratch, JetResult* __restrict__ out,
                int* __restrict__ knn) {
  __shared__ float in0[kPoints * kLd0];  // concat(x, o0)
  __shared__ int idx1[kPoints * kK], idx2[kPoints * kK];
  __shared__ float sq[kPoints], pen[kPoints], a[kPoints], alpha[kPoints * kK];
  __shared__ float z[kLatent], fc1[kFc1], fc2[kFc2], fc3[kFc3Ld];
  float* in1 = scratch + blockIdx.x * kScratchPerBlock + kScratchIn1;  // concat(x, o1)
  float* cat = scratch + blockIdx.x * kScratchPerBlock + kScratchCat;
  float* sp = scratch + blockIdx.x * kScratchPerBlock + kScratchSp;
  float* agg = scratch + blockIdx.x * kScratchPerBlock + kScratchAgg;
  const int jets = counts[0];
  for (int jet = blockIdx.x; jet < jets; jet += gridDim.x) {
    // The compressed rows (padding-compression.md): n real rows and, when n < 100, one padding row
    // (zeros) standing for the 100 - n padded rows.
    const int n = counts[1 + jet], padding = kPoints - n, rows = n + (padding > 0 ? 1 : 0);
    const float* x = features + std::int64_t(jet) * kPoints * kFeatures;
    for (int t = threadIdx.x; t < rows * kFeatures; t += blockDim.x) {
      const int r = t / kFeatures, c = t - r * kFeatures;
      const float v = r < n ? x[t] : 0.0f;
      in0[r * kLd0 + c] = v;
      in1[r * kLd1 + c] = v;
    }
    __syncthreads();

    // kNN #1 in (delta eta, delta phi) with the padding penalty (spec 2.2), JetRunner::knn_coordinates
    // term for term.
    for (int j = threadIdx.x; j < rows; j += blockDim.x) {
      const float* pj = in0 + j * kLd0;
      sq[j] = __fadd_rn(__fmul_rn(pj[0], pj[0]), __fmul_rn(pj[1], pj[1]));
      pen[j] = pj[2] == 0.0f ? p.padding_penalty : 0.0f;
    }
    __syncthreads();
    const float two_pi = float(2.0 * kPi), four_pi = float(4.0 * kPi), four_pi_sq = float(4.0 * (kPi * kPi));
    for (int i = threadIdx.x; i < rows; i += blockDim.x) {
      const float* pi = in0 + i * kLd0;
      auto dist = [&](int j) {
        const float* pj = in0 + j * kLd0;
        const float inner = __fmul_rn(-2.0f, __fadd_rn(__fmul_rn(pi[0], pj[0]), __fmul_rn(pi[1], pj[1])));
        float d = __fadd_rn(__fadd_rn(sq[i], inner), sq[j]);
        const float dphi = fabsf(__fsub_rn(pj[1], pi[1]));
        const float corr = dphi >= two_pi ? __fsub_rn(four_pi_sq, __fmul_rn(four_pi, dphi)) : __fsub_rn(dphi, dphi);
        d = __fadd_rn(d, corr);
        d = __fadd_rn(d, pen[i]);
        return __fadd_rn(d, pen[j]);
      };
      select_neighbours(dist, rows, n, padding, idx1 + i * kK);
    }
    __syncthreads();

    gap_block(P, p.gap0, kWidth0, p.leaky_slope, in0, kLd0, idx1, rows, sp, a, alpha, in0 + kFeatures, kLd0,
              cat + kCatG0, kCatWidth);
    dense(P, p.net01, in0, kLd0, rows, cat + kCatNet01, kCatWidth);
    dense(P, p.net02, cat + kCatNet01, kCatWidth, rows, cat + kCatNet02, kCatWidth);

    // kNN #2 on net02, no mask (spec 2.2), as JetRunner::knn_features: |h_i|^2 + (-2 <h_i, h_j>) +
    // |h_j|^2, each sum sequential over the channels; the inner product a fused multiply-add chain,
    // as the CPU's GEMM computes it.
    const float* h = cat + kCatNet02;
    const int channels = kCatNet11 - kCatNet02;
    for (int j = threadIdx.x; j < rows; j += blockDim.x) {
      float s = 0.0f;
      for (int c = 0; c < channels; ++c) s = __fadd_rn(s, __fmul_rn(h[j * kCatWidth + c], h[j * kCatWidth + c]));
      sq[j] = s;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < rows; i += blockDim.x) {
      auto dist = [&](int j) {
        float s = 0.0f;
        for (int c = 0; c < channels; ++c) s = __fmaf_rn(h[i * kCatWidth + c], h[j * kCatWidth + c], s);
        return __fadd_rn(__fadd_rn(sq[i], __fmul_rn(-2.0f, s)), sq[j]);
      };
      select_neighbours(dist, rows, n, padding, idx2 + i * kK);
    }
    __syncthreads();

    // The second block attends over net02 but concatenates the raw input x (spec 2.3 notes).
    gap_block(P, p.gap1, kWidth1, p.leaky_slope, h, kCatWidth, idx2, rows, sp, a, alpha, in1 + kFeatures, kLd1,
              cat + kCatG1, kCatWidth);
    dense(P, p.net11, in1, kLd1, rows, cat + kCatNet11, kCatWidth);
    dense(P, p.net12, cat + kCatNet11, kCatWidth, rows, cat + kCatNet12, kCatWidth);
    dense(P, p.agg, cat, kCatWidth, rows, agg, kAggLd);

    // Average pool over all 100 points, padding included (spec 8 #12): the padding row counts
    // `padding` times; in double as forward.cpp.
    if (threadIdx.x < kLatent) {
      const int c = threadIdx.x;
      double s = 0.0;
      for (int r = 0; r < n; ++r) s = __dadd_rn(s, double(agg[r * kAggLd + c]));
      if (padding > 0) s = __dadd_rn(s, __dmul_rn(double(padding), double(agg[n * kAggLd + c])));
      z[c] = float(s / double(kPoints));
    }
    __syncthreads();
    dense(P, p.fc1, z, kLatent, 1, fc1, kFc1);
    dense(P, p.fc2, fc1, kFc1, 1, fc2, kFc2);
    dense(P, p.fc3, fc2, kFc2, 1, fc3, kFc3Ld);

    // Squared distances to the centroids in double, rounded; the argmin with ties to the lower index.
    if (threadIdx.x == 0) {
      JetResult& r = out[jet];
      for (int c = 0; c < kLatent; ++c) r.z[c] = z[c];
      for (int c = 0; c < kClasses; ++c) r.logits[c] = fc3[c];
      r.cluster = 0;
      for (int j = 0; j < kClusters; ++j) {
        double s = 0.0;
        for (int c = 0; c < kLatent; ++c) {
          const double diff = __dsub_rn(double(z[c]), double(P[p.mu + j * kLatent + c]));
          s = __dadd_rn(s, __dmul_rn(diff, diff));
        }
        r.distances[j] = float(s);
        if (r.distances[j] < r.distances[r.cluster]) r.cluster = j;
      }
    }
    if (knn)
      for (int t = threadIdx.x; t < rows * kK; t += blockDim.x) {
        knn[(std::int64_t(jet) * 2 + 0) * kPoints * kK + t] = idx1[t];
        knn[(std::int64_t(jet) * 2 + 1) * kPoints * kK + t] = idx2[t];
      }
    __syncthreads();  // the shared tensors are the next jet's
  }
}

}  // namespace

int launch_forward(const ForwardParams& p, const float* params, const float* features, const int* counts,
                   float* scratch, int blocks, JetResult* out, int* knn, void* stream) {
  jet_forward<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p, params, features, counts, scratch, out,
                                                                          knn);
  return static_cast<int>(cudaGetLastError());
}

int resident_blocks_per_multiprocessor() {
  int blocks = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, jet_forward, kThreads, 0) != cudaSuccess || blocks < 1)
    return 1;
  return blocks;
}

}  // namespace ucluster::embed::cuda
