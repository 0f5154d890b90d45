// Emulated CUDA edge features (from kernels/cuda/edge.cu, whose backward builds inverse neighbour
// lists in shared memory, kernels/cuda/neighbour_lists.cuh) against the CPU body, on packed rows of
// jets with random row counts (a jet of one row, jets without a padding row): the index check,
// e = x_i - x_j forward (absolute rows; one subtraction: exact) and the backward into a nonzero dx,
// with jets where a row is its own neighbour, repeated neighbours (as the padding row's), rows
// nobody picks and one hub picked by every row; batch 1, k = 1, and n C above one 256-thread block.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/edge.h"
#include "kernels/cuda/edge.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(31);
emu_check::Checker checker;

void run(int B, int P, int k, int C) {
  const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, k), P);
  const std::int64_t R = L.rows();
  const std::string tag = " B " + std::to_string(B) + " P " + std::to_string(P) + " R " + std::to_string(R) +
                          " k " + std::to_string(k) + " C " + std::to_string(C);
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  V x(R * C), de(R * k * C), dx0(R * C);
  for (auto* v : {&x, &de, &dx0})
    for (auto& e : *v) e = float(n01(rng));
  std::vector<std::int32_t> idx(R * k);
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int32_t first = L.offsets[L.row_jet[r]];
    const int n = L.offsets[L.row_jet[r] + 1] - first, i = int(r - first);
    std::uniform_int_distribution<int> pick(0, std::max(0, n / 2 - 1));  // the upper half is never picked ...
    for (int j = 0; j < k; ++j) {
      int v = pick(rng);
      if (j == 0) v = i;                      // ... except as its own neighbour
      if (j == k - 1 && k > 1) v = n / 3;     // a hub every row picks
      if (j == 1 && k > 2 && i % 2) v = i;    // itself again
      idx[r * k + j] = first + v;
    }
  }
  // index check: valid, then a negative and a too-large entry
  const std::int64_t count = std::int64_t(idx.size());
  bool same = cuda::any_bad_index(ctx, idx.data(), count, R) == (cpu::first_bad_index(idx.data(), count, R) >= 0);
  auto bad = idx;
  bad[count / 2] = -1;
  same = same && cuda::any_bad_index(ctx, bad.data(), count, R) && cpu::first_bad_index(bad.data(), count, R) >= 0;
  bad[count / 2] = idx[count / 2];
  bad[count - 1] = std::int32_t(R);
  same = same && cuda::any_bad_index(ctx, bad.data(), count, R) && cpu::first_bad_index(bad.data(), count, R) >= 0;
  std::printf("%-36s %s\n", ("index check" + tag).c_str(), same ? "ok" : "FAIL");
  checker.fails += !same;
  V ec(R * k * C, NAN), eg(R * k * C, NAN);
  cpu::edge_diff_forward<float>(x.data(), idx.data(), ec.data(), R, k, C);
  cuda::edge_diff_forward(ctx, x.data(), idx.data(), eg.data(), R, k, C);
  checker.exact("forward" + tag, eg, ec);
  // dx_i = dx0_i + sum_j de_ij - sum over incoming edges de: m terms in all (k own + the incoming),
  // two float sums and two adds: 2 (m + 2) u (|dx0| + sum |terms|).
  std::vector<double> bound(R * C);
  for (std::int64_t i = 0; i < R; ++i)
    for (int c = 0; c < C; ++c) {
      double s = std::abs(dx0[i * C + c]);
      int m = 0;
      for (std::int64_t e = 0; e < R * k; ++e) {
        const double t = std::abs(de[e * C + c]);
        if (e / k == i) s += t, ++m;
        if (idx[e] == i) s += t, ++m;
      }
      bound[i * C + c] = 2 * (m + 2) * emu_check::kU * s;
    }
  V dxc = dx0, dxg = dx0;
  cpu::edge_diff_backward<float>(L.view(), idx.data(), de.data(), dxc.data(), k, C);
  cuda::edge_diff_backward(ctx, L.view(), idx.data(), de.data(), dxg.data(), k, C);
  checker.within("backward" + tag, dxg, dxc, bound);
}

int main() {
  run(1, 5, 1, 3);
  run(6, 20, 4, 9);
  run(5, 40, 7, 9);  // n C = 360: threads loop over more than one block's worth
  return checker.verdict();
}
