// Emulated CUDA kNN (from kernels/cuda/knn.cu: one block per jet of packed rows, per-thread sorted
// lists in shared memory) against the CPU body, on packed layouts of jets with random real counts
// (0, 1, fewer than k, exactly P: no padding row). Both round every multiply and add in the same
// order, so the neighbour indices must agree exactly. Coordinates on a coarse grid and duplicated
// points (equal distances: ties go to the lower row), real points flagged as padding (feature 2
// exactly 0, the penalty), a NaN point (sorts last), a row stride above the 2 coordinates, P = 1,
// jets of more rows than one 256-thread block (threads loop over rows), k = 1 and k = P.
//
// Also the meaning of the padding row: the packed lists, unpacked (the padding row's appearances
// become the padded points n, n + 1, ...; every padded point takes the padding row's list), must
// equal the lists of the reference's dense jets, P rows each with all-zero padded points, computed
// by the same CUDA kernel on the dense layout.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/knn.h"
#include "kernels/cuda/knn.h"

using namespace ucluster;
using V = std::vector<float>;
using I = std::vector<std::int32_t>;
std::mt19937_64 rng(41);
emu_check::Checker checker;

V grid_points(std::int64_t count, int dims) {
  std::uniform_int_distribution<int> g(-4, 4);
  V v(count * dims);
  for (auto& x : v) x = 0.125f * float(g(rng));
  return v;
}

// The dense [B, P, F] form of packed rows: the padding row (all zero) copied to every padded point.
V dense_of(const V& x, const emu_check::Layout& L, int F) {
  V d(L.jets() * L.slots * F, 0.0f);
  for (std::int64_t b = 0; b < L.jets(); ++b)
    for (std::int64_t i = 0; i < L.slots; ++i) {
      const std::int64_t r = L.offsets[b] + std::min<std::int64_t>(i, L.offsets[b + 1] - L.offsets[b] - 1);
      for (int f = 0; f < F; ++f) d[(b * L.slots + i) * F + f] = x[r * F + f];
    }
  return d;
}

// Dense lists [B, P, k] of absolute rows as jet-local indices.
I local(I idx, std::int64_t P, int k) {
  for (std::size_t e = 0; e < idx.size(); ++e) idx[e] -= std::int32_t(e / (P * k) * P);
  return idx;
}

// Packed lists [R, k] as the reference's [B, P, k] lists of jet-local indices (engine/jet_rows.h's
// unpack_neighbours).
I unpack(const I& idx, const emu_check::Layout& L, int k) {
  I out(L.jets() * L.slots * k);
  for (std::int64_t b = 0; b < L.jets(); ++b) {
    const std::int64_t base = L.offsets[b], n = L.real[b];
    for (std::int64_t i = 0; i < L.slots; ++i) {
      const std::int64_t r = base + std::min(i, n);
      std::int32_t next_padded = std::int32_t(n);
      for (int q = 0; q < k; ++q) {
        const std::int32_t j = std::int32_t(idx[r * k + q] - base);
        out[(b * L.slots + i) * k + q] = j < n ? j : next_padded++;
      }
    }
  }
  return out;
}

void run(Context& ctx, int B, int P, int k, int F, int C) {
  const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, k), P);
  const emu_check::Layout dense(std::vector<std::int32_t>(B, P), P);
  const std::int64_t R = L.rows();
  const std::string tag = " B " + std::to_string(B) + " P " + std::to_string(P) + " R " + std::to_string(R) +
                          " k " + std::to_string(k);
  // coordinates: [R, F], eta/phi on a grid, feature 2 nonzero on real points (a few flagged as
  // padding), the padding rows all zero
  V x = grid_points(R, F);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t r = L.offsets[b]; r < L.offsets[b + 1]; ++r) {
      const std::int64_t i = r - L.offsets[b];
      if (i == L.real[b]) {
        for (int f = 0; f < F; ++f) x[r * F + f] = 0.0f;
        continue;
      }
      x[r * F + 2] = i % 7 == 6 ? 0.0f : 1.0f + 0.5f * float(i % 3);
      if (i % 6 == 5) x[r * F + 0] = x[(r - 1) * F + 0], x[r * F + 1] = x[(r - 1) * F + 1];  // a duplicate
    }
  for (std::int64_t r = 3; r < R; r += 37)
    if (!L.padding(r)) {  // a NaN real point
      x[r * F + 1] = NAN;
      break;
    }
  I ic(R * k, -1), ig(R * k, -2);
  cpu::knn_coordinates<float>(x.data(), L.view(), ic.data(), F, k);
  cuda::knn_coordinates(ctx, x.data(), L.view(), ig.data(), F, k);
  checker.exact("coordinates" + tag, ig, ic);
  V xd = dense_of(x, L, F);
  I id(B * P * k, -3);
  cuda::knn_coordinates(ctx, xd.data(), dense.view(), id.data(), F, k);
  checker.exact("coordinates unpacked == dense" + tag, unpack(ig, L, k), local(id, P, k));
  // features: [R, C], the padding rows all zero
  V h = grid_points(R, C);
  for (std::int64_t r = 0; r < R; ++r) {
    if (L.padding(r))
      for (int c = 0; c < C; ++c) h[r * C + c] = 0.0f;
    else if (r % 4 == 3 && r > 0 && L.row_jet[r - 1] == L.row_jet[r])
      for (int c = 0; c < C; ++c) h[r * C + c] = h[(r - 1) * C + c];
  }
  I fc(R * k, -1), fg(R * k, -2);
  cpu::knn_features<float>(h.data(), L.view(), fc.data(), C, k);
  cuda::knn_features(ctx, h.data(), L.view(), fg.data(), C, k);
  checker.exact("features C " + std::to_string(C) + tag, fg, fc);
  V hd = dense_of(h, L, C);
  I fd(B * P * k, -3);
  cuda::knn_features(ctx, hd.data(), dense.view(), fd.data(), C, k);
  checker.exact("features unpacked == dense" + tag, unpack(fg, L, k), local(fd, P, k));
}

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  run(ctx, 1, 1, 1, 4, 1);
  run(ctx, 6, 33, 33, 4, 6);
  run(ctx, 9, 45, 7, 3, 1);
  run(ctx, 7, 20, 10, 4, 6);
  run(ctx, 3, 300, 16, 4, 6);
  return checker.verdict();
}
