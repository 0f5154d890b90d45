#include "embed/src/forward.h"
#include "kernels/knn_distance.h"
#include "kernels/relu_branchless.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

// The kNN distances must be rounded after every multiply and add, as TF's (non-FMA) CPU kernels and
// the engine's kernels/cpu/knn.cpp do (spec 8 #9): no contraction into fused multiply-adds here.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace ucluster::embed {

namespace {

typedef float Vec16 __attribute__((vector_size(64)));

inline Vec16 load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a . b for n a multiple of 16: sixteen lane sums, then the lanes in order (a fixed order, so the
// same on every machine).
float dot16(const float* a, const float* b, std::int64_t n) {
  Vec16 acc{};
  for (std::int64_t i = 0; i < n; i += 16) acc += load16(a + i) * load16(b + i);
  float s = 0;
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

// The engine's ReLU (kernels/relu_branchless.h): NaN stays NaN, so a jet that overflows is reported.
inline float relu(float v) { return relu_value(v); }

const ModelTensor& tensor(const ModelContents& c, const std::string& name) {
  const auto it = c.tensors.find(name);
  if (it == c.tensors.end()) throw ModelFileError(ModelFileProblem::Shape, "the model has no tensor '" + name + "'");
  return it->second;
}

const model::LayerSpec& spec(const std::vector<model::LayerSpec>& table, const std::string& name) {
  for (const model::LayerSpec& l : table)
    if (l.name == name) return l;
  throw ModelFileError(ModelFileProblem::Shape, "no layer named '" + name + "'");
}

// Batch norm in inference mode with the bias before it (spec 2.1) as out = in * scale + shift:
// scale = gamma / sqrt(var + eps), shift = beta + (b - mean) * scale. Without batch norm: 1 and b.
void affine(const ModelContents& c, const model::LayerSpec& l, std::int64_t width, std::vector<float>& scale,
            std::vector<float>& shift) {
  scale.assign(static_cast<std::size_t>(width), 0.0f);
  shift.assign(static_cast<std::size_t>(width), 0.0f);
  for (std::int64_t i = 0; i < l.cout; ++i) {
    const double b = l.bias ? tensor(c, l.name + ".b").values[i] : 0.0;
    if (!l.batch_norm) {
      scale[i] = 1.0f;
      shift[i] = static_cast<float>(b);
      continue;
    }
    const double gamma = tensor(c, l.name + ".bn_gamma").values[i], beta = tensor(c, l.name + ".bn_beta").values[i];
    const double mean = tensor(c, l.name + ".bn_mean").values[i], var = tensor(c, l.name + ".bn_var").values[i];
    const double s = gamma / std::sqrt(var + c.batch_norm_epsilon);
    scale[i] = static_cast<float>(s);
    shift[i] = static_cast<float>(beta + (b - mean) * s);
  }
}

DenseLayer dense_layer(const ModelContents& c, const model::LayerSpec& l) {
  DenseLayer d;
  d.w = pack_weights(tensor(c, l.name + ".W").values.data(), l.cin, l.cout);
  affine(c, l, d.w.np, d.scale, d.shift);
  d.relu = l.relu;
  return d;
}

ScalarLayer scalar_layer(const ModelContents& c, const model::LayerSpec& l) {
  ScalarLayer s;
  s.w = tensor(c, l.name + ".W").values;
  s.w.resize(static_cast<std::size_t>(round_up(l.cin, 16)), 0.0f);  // dot16 reads whole vectors
  std::vector<float> scale, shift;
  affine(c, l, 1, scale, shift);
  s.scale = scale[0];
  s.shift = shift[0];
  return s;
}

GapBlock gap_block(const ModelContents& c, const std::vector<model::LayerSpec>& table, const std::string& prefix) {
  GapBlock g;
  g.newfea = dense_layer(c, spec(table, prefix + "_newfea"));
  const model::LayerSpec& edge = spec(table, prefix + "_edge");
  g.edge = pack_weights(tensor(c, edge.name + ".W").values.data(), edge.cin, edge.cout);
  affine(c, edge, g.edge.np, g.edge_scale, g.edge_shift);
  g.selfatt = scalar_layer(c, spec(table, prefix + "_selfatt"));
  g.neibatt = scalar_layer(c, spec(table, prefix + "_neibatt"));
  g.out_bias = tensor(c, prefix + "_out.b").values;
  g.width = edge.cout;
  return g;
}

// The edge part of a GAP block for every point i: y_ij = relu((P_i - P_j) * scale + shift) for its k
// neighbours, c_ij, the softmax of LeakyReLU(a_i + c_ij), o_i and g_i. Compiled for AVX-512, AVX2
// and the baseline, picked at load time; every operation is one IEEE operation (no contraction in
// this file, the lane sums of dot16 in a fixed order), so the three give the same bits.
struct EdgeRows {
  const float* p;
  std::int64_t np, width;
  const std::int32_t* idx;
  std::int64_t k, rows;
  const float *scale, *shift;
  const ScalarLayer& neibatt;
  const float* a;
  float slope;
  const float* out_bias;
  float *y, *alpha, *acc, *best;
  float* o;
  std::int64_t ldo;
  float* g;
  std::int64_t ldg;
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void edge_attention_rows(const EdgeRows& e) {
  const std::int64_t np = e.np, k = e.k;
  for (std::int64_t i = 0; i < e.rows; ++i) {
    const float* pi = e.p + i * np;
    float top = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < k; ++j) {
      const float* pj = e.p + e.idx[i * k + j] * np;
      float* y = e.y + j * np;
      for (std::int64_t c = 0; c < np; ++c) y[c] = relu((pi[c] - pj[c]) * e.scale[c] + e.shift[c]);
      const float cij = relu(dot16(y, e.neibatt.w.data(), np) * e.neibatt.scale + e.neibatt.shift);
      const float z = e.a[i] + cij;
      e.alpha[j] = z > 0.0f ? z : e.slope * z;
      top = j == 0 ? e.alpha[j] : std::max(top, e.alpha[j]);
    }
    // Softmax stabilised as TF's: subtract the maximum, exponentiate, multiply by 1 / sum.
    float sum = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) {
      e.alpha[j] = std::exp(e.alpha[j] - top);
      sum += e.alpha[j];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t j = 0; j < k; ++j) e.alpha[j] *= inv;
    // o_i = relu(sum_j alpha_ij y_ij + b_out), summed over j in order, and g_i = max_j y_ij.
    for (std::int64_t c = 0; c < e.width; ++c) {
      e.acc[c] = 0.0f;
      e.best[c] = e.y[c];
    }
    for (std::int64_t j = 0; j < k; ++j) {
      const float w = e.alpha[j];
      const float* yj = e.y + j * np;
      for (std::int64_t c = 0; c < e.width; ++c) {
        e.acc[c] += w * yj[c];
        e.best[c] = std::max(e.best[c], yj[c]);
      }
    }
    float* oi = e.o + i * e.ldo;
    float* gi = e.g + i * e.ldg;
    for (std::int64_t c = 0; c < e.width; ++c) {
      oi[c] = relu(e.acc[c] + e.out_bias[c]);
      gi[c] = e.best[c];
    }
  }
}

}  // namespace

Network::Network(const ModelContents& c)
    : dims_(c.dims),
      inverse_temperature_(c.inverse_temperature),
      leaky_slope_(static_cast<float>(c.attention_leaky_slope)),
      padding_penalty_(static_cast<float>(c.knn_padding_penalty)),
      gemm_(select_gemm()),
      mu_(tensor(c, "mu").values) {
  const std::vector<model::LayerSpec> table = model::layer_table(dims_);
  gap0_ = gap_block(c, table, "gap0");
  gap1_ = gap_block(c, table, "gap1");
  gapnet01_ = dense_layer(c, spec(table, "gapnet01"));
  gapnet02_ = dense_layer(c, spec(table, "gapnet02"));
  gapnet11_ = dense_layer(c, spec(table, "gapnet11"));
  gapnet12_ = dense_layer(c, spec(table, "gapnet12"));
  agg_ = dense_layer(c, spec(table, "agg"));
  fc1_ = dense_layer(c, spec(table, "fc1"));
  fc2_ = dense_layer(c, spec(table, "fc2"));
  fc3_ = dense_layer(c, spec(table, "fc3"));
}

namespace {
// Columns of the concatenation agg reads (spec 2.4 row 21): net01, net02, net11, net12, g0, g1.
struct CatLayout {
  std::int64_t net01, net02, net11, net12, g0, g1, width;
};
CatLayout cat_layout(const DenseLayer& net01, const DenseLayer& net02, const DenseLayer& net11,
                     const DenseLayer& net12, const GapBlock& gap0, const GapBlock& gap1) {
  CatLayout c{};
  c.net01 = 0;
  c.net02 = c.net01 + net01.w.n;
  c.net11 = c.net02 + net02.w.n;
  c.net12 = c.net11 + net11.w.n;
  c.g0 = c.net12 + net12.w.n;
  c.g1 = c.g0 + gap0.width;
  c.width = c.g1 + gap1.width;
  return c;
}
}  // namespace

JetRunner::JetRunner(const Network& net) : net_(net), k_(net.dims().k) {
  const model::ModelDims& d = net.dims();
  const std::size_t rows = static_cast<std::size_t>(net.max_rows());
  const std::int64_t widest = std::max(net.gap0_.edge.np, net.gap1_.edge.np);
  in0_.assign(rows * (d.num_features + d.gap0_width), 0.0f);
  in1_.assign(rows * (d.num_features + d.gap1_width), 0.0f);
  cat_.assign(rows * static_cast<std::size_t>(net.agg_.w.k), 0.0f);
  s_.assign(rows * widest, 0.0f);
  p_.assign(rows * widest, 0.0f);
  a_.assign(rows, 0.0f);
  y_.assign(static_cast<std::size_t>(k_ * widest), 0.0f);
  alpha_.assign(static_cast<std::size_t>(k_), 0.0f);
  agg_.assign(rows * net.agg_.w.np, 0.0f);
  fc_in_.assign(kRowBlock * net.fc1_.w.k, 0.0f);
  fc1_.assign(kRowBlock * net.fc1_.w.np, 0.0f);
  fc2_.assign(kRowBlock * net.fc2_.w.np, 0.0f);
  fc3_.assign(kRowBlock * net.fc3_.w.np, 0.0f);
  dist_.assign(rows, 0.0f);
  sq_.assign(rows, 0.0f);
  pen_.assign(rows, 0.0f);
  top_dist_.assign(static_cast<std::size_t>(k_), 0.0f);
  top_.assign(static_cast<std::size_t>(k_), 0);
  const std::size_t columns = static_cast<std::size_t>(round_up(net.max_rows(), kColumnBlock));
  features_t_.assign(static_cast<std::size_t>(net.gapnet02_.w.n) * columns, 0.0f);
  gram_.assign(rows * columns, 0.0f);
  acc_.assign(static_cast<std::size_t>(widest), 0.0f);
  best_.assign(static_cast<std::size_t>(widest), 0.0f);
  idx1_.assign(rows * k_, 0);
  idx2_.assign(rows * k_, 0);
}

void JetRunner::dense(const DenseLayer& layer, const float* in, std::int64_t ldi, float* out, std::int64_t ldo) {
  net_.gemm_.kernel(in, ldi, rows_padded_, layer.w.data.data(), layer.w.k, layer.w.np, out, ldo);
  const float* scale = layer.scale.data();
  const float* shift = layer.shift.data();
  for (std::int64_t r = 0; r < rows_padded_; ++r) {
    float* o = out + r * ldo;
    if (layer.relu)
      for (std::int64_t c = 0; c < layer.w.np; ++c) o[c] = relu(o[c] * scale[c] + shift[c]);
    else
      for (std::int64_t c = 0; c < layer.w.np; ++c) o[c] = o[c] * scale[c] + shift[c];
  }
}

// The k nearest of dist_[0, rows_), ascending, ties to the lower index (TF's top_k, spec 2.2), the
// padding row counted as padding_ rows: its copies stand for rows n..99, which come after every
// real row of equal distance. NaN sorts last, as in the engine. The k smallest are kept in order
// by insertion (rows come in index order, so a row goes after every kept row of equal distance).
void JetRunner::select_neighbours(std::int32_t* out) {
  const std::int64_t keep = std::min(k_, rows_);
  std::int64_t kept = 0;
  for (std::int64_t j = 0; j < rows_; ++j) {
    const float d = std::isnan(dist_[j]) ? std::numeric_limits<float>::infinity() : dist_[j];
    if (kept == keep && !(d < top_dist_[kept - 1])) continue;
    std::int64_t p = kept == keep ? kept - 1 : kept++;
    for (; p > 0 && d < top_dist_[p - 1]; --p) {
      top_dist_[p] = top_dist_[p - 1];
      top_[p] = top_[p - 1];
    }
    top_dist_[p] = d;
    top_[p] = static_cast<std::int32_t>(j);
  }
  // Every kept row gives at least one neighbour, so the first k rows in order are enough.
  std::int64_t taken = 0;
  for (std::int64_t p = 0; p < keep && taken < k_; ++p) {
    const std::int32_t j = top_[p];
    const std::int64_t copies = (padding_ > 0 && j == n_real_) ? padding_ : 1;
    for (std::int64_t c = 0; c < copies && taken < k_; ++c) out[taken++] = j;
  }
}

// kNN #1 in (delta eta, delta phi) with the padding penalty (spec 2.2), the arithmetic of
// kernels/cpu/knn.cpp term for term.
void JetRunner::knn_coordinates() {
  const std::int64_t ld = net_.dims().num_features + net_.dims().gap0_width;
  for (std::int64_t j = 0; j < rows_; ++j) {
    const float* p = in0_.data() + j * ld;
    sq_[j] = knn_math::coordinate_square(p);
    pen_[j] = p[2] == 0.0f ? net_.padding_penalty_ : 0.0f;
  }
  for (std::int64_t i = 0; i < rows_; ++i) {
    const float* pi = in0_.data() + i * ld;
    for (std::int64_t j = 0; j < rows_; ++j)
      dist_[j] = knn_math::coordinate_distance(pi, in0_.data() + j * ld, sq_[i], sq_[j], pen_[i], pen_[j]);
    select_neighbours(idx1_.data() + i * k_);
  }
}

// kNN #2 on the learned features, no mask (spec 2.2): |h_i|^2 + (-2 <h_i, h_j>) + |h_j|^2, the
// inner products by the GEMM (h against its transpose; each a sequential sum over the channels, so
// <h_i, h_j> = <h_j, h_i> and identical rows give identical distances, as the padded rows need).
void JetRunner::knn_features(const float* h, std::int64_t ldh, std::int64_t channels) {
  const std::int64_t columns = round_up(rows_, kColumnBlock);
  float* ht = features_t_.data();
  for (std::int64_t c = 0; c < channels; ++c) {
    for (std::int64_t j = 0; j < rows_; ++j) ht[c * columns + j] = h[j * ldh + c];
    for (std::int64_t j = rows_; j < columns; ++j) ht[c * columns + j] = 0.0f;
  }
  net_.gemm_.kernel(h, ldh, rows_padded_, ht, channels, columns, gram_.data(), columns);
  for (std::int64_t j = 0; j < rows_; ++j) sq_[j] = knn_math::feature_square(h + j * ldh, channels);
  for (std::int64_t i = 0; i < rows_; ++i) {
    const float* dot = gram_.data() + i * columns;
    for (std::int64_t j = 0; j < rows_; ++j) dist_[j] = knn_math::feature_distance(sq_[i], dot[j], sq_[j]);
    select_neighbours(idx2_.data() + i * k_);
  }
}

// One GAP block (spec 2.3) on the compressed rows: s, a on the points; for each point its k edge
// features y_ij = relu(bn(W h_i - W h_j + b)) (spec 7's exact rewrite of W (h_i - h_j)), their
// attention coefficients, the softmax, o_i = relu(sum_j alpha_ij y_ij + b_out) and g_i = max_j y_ij.
void JetRunner::gap_block(const GapBlock& block, const float* h, std::int64_t ldh, const std::int32_t* idx, float* o,
                          std::int64_t ldo, float* g, std::int64_t ldg) {
  const std::int64_t width = block.width, np = block.edge.np;
  dense(block.newfea, h, ldh, s_.data(), np);
  for (std::int64_t i = 0; i < rows_; ++i)
    a_[i] = relu(dot16(s_.data() + i * np, block.selfatt.w.data(), np) * block.selfatt.scale + block.selfatt.shift);
  net_.gemm_.kernel(h, ldh, rows_padded_, block.edge.data.data(), block.edge.k, np, p_.data(), np);
  EdgeRows rows{p_.data(), np, width, idx, k_, rows_, block.edge_scale.data(), block.edge_shift.data(),
                block.neibatt, a_.data(), net_.leaky_slope_, block.out_bias.data(), y_.data(), alpha_.data(),
                acc_.data(), best_.data(), o, ldo, g, ldg};
  edge_attention_rows(rows);
}

void JetRunner::run(const float* features, int n_real, JetResult& out) {
  const model::ModelDims& d = net_.dims();
  const std::int64_t f = d.num_features, ld0 = f + d.gap0_width, ld1 = f + d.gap1_width;
  n_real_ = n_real;
  padding_ = d.num_points - n_real;
  rows_ = n_real + (padding_ > 0 ? 1 : 0);
  rows_padded_ = round_up(rows_, kRowBlock);
  // The input rows, the padding row (zeros) and the GEMM's extra rows (zeros).
  for (std::int64_t r = 0; r < rows_padded_; ++r)
    for (std::int64_t c = 0; c < f; ++c) {
      const float v = r < n_real ? features[r * f + c] : 0.0f;
      in0_[r * ld0 + c] = v;
      in1_[r * ld1 + c] = v;
    }

  const CatLayout cat = cat_layout(net_.gapnet01_, net_.gapnet02_, net_.gapnet11_, net_.gapnet12_, net_.gap0_,
                                   net_.gap1_);
  float* cat0 = cat_.data();
  const std::int64_t ldc = cat.width;
  knn_coordinates();
  gap_block(net_.gap0_, in0_.data(), ld0, idx1_.data(), in0_.data() + f, ld0, cat0 + cat.g0, ldc);
  dense(net_.gapnet01_, in0_.data(), ld0, cat0 + cat.net01, ldc);
  dense(net_.gapnet02_, cat0 + cat.net01, ldc, cat0 + cat.net02, ldc);
  knn_features(cat0 + cat.net02, ldc, net_.gapnet02_.w.n);
  // The second block attends over net02 but concatenates the raw input x (spec 2.3 notes).
  gap_block(net_.gap1_, cat0 + cat.net02, ldc, idx2_.data(), in1_.data() + f, ld1, cat0 + cat.g1, ldc);
  dense(net_.gapnet11_, in1_.data(), ld1, cat0 + cat.net11, ldc);
  dense(net_.gapnet12_, cat0 + cat.net11, ldc, cat0 + cat.net12, ldc);
  const std::int64_t lda = net_.agg_.w.np;
  dense(net_.agg_, cat0, ldc, agg_.data(), lda);

  // Average pool over all 100 points, padding included (spec 8 #12): the padding row counts
  // padding_ times. Summed in double as the engine's mean_pool.
  const std::int64_t latent = d.latent;
  std::fill(fc_in_.begin(), fc_in_.end(), 0.0f);
  for (std::int64_t c = 0; c < latent; ++c) {
    double s = 0.0;
    for (std::int64_t r = 0; r < n_real; ++r) s += double(agg_[r * lda + c]);
    if (padding_ > 0) s += double(padding_) * double(agg_[n_real * lda + c]);
    out.z[c] = static_cast<float>(s / double(d.num_points));
    fc_in_[c] = out.z[c];
  }
  rows_padded_ = kRowBlock;  // the head runs on one row (z), in one row block
  dense(net_.fc1_, fc_in_.data(), net_.fc1_.w.k, fc1_.data(), net_.fc1_.w.np);
  dense(net_.fc2_, fc1_.data(), net_.fc1_.w.np, fc2_.data(), net_.fc2_.w.np);
  dense(net_.fc3_, fc2_.data(), net_.fc2_.w.np, fc3_.data(), net_.fc3_.w.np);
  for (std::int64_t c = 0; c < d.num_classes; ++c) out.logits[c] = fc3_[c];

  // Squared distances to the centroids in double, rounded; the argmin over the rounded values with
  // ties to the lower index (kernels/cpu/kmeans_loss.cpp).
  out.cluster = 0;
  for (std::int64_t j = 0; j < d.num_clusters; ++j) {
    double s = 0.0;
    for (std::int64_t c = 0; c < latent; ++c) {
      const double diff = double(out.z[c]) - double(net_.mu_[j * latent + c]);
      s += diff * diff;
    }
    out.distances[j] = static_cast<float>(s);
    if (out.distances[j] < out.distances[out.cluster]) out.cluster = static_cast<std::int32_t>(j);
  }
}

}  // namespace ucluster::embed
