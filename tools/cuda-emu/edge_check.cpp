// Emulated CUDA edge features (from kernels/cuda/edge.cu, whose backward builds inverse neighbour
// lists in shared memory, kernels/cuda/neighbour_lists.cuh) against the CPU body: the index check,
// e = x_i - x_j forward (one subtraction: exact) and the backward into a nonzero dx, with jets where a
// point is its own neighbour, repeated neighbours, points nobody picks and one hub picked by every
// point; batch 1, k = 1, and N C above one 256-thread block.
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

void run(int B, int N, int k, int C) {
  const std::string tag = " B " + std::to_string(B) + " N " + std::to_string(N) + " k " + std::to_string(k) +
                          " C " + std::to_string(C);
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  V x(B * N * C), de(B * N * k * C), dx0(B * N * C);
  for (auto* v : {&x, &de, &dx0})
    for (auto& e : *v) e = float(n01(rng));
  std::vector<std::int32_t> idx(B * N * k);
  std::uniform_int_distribution<int> pick(0, std::max(0, N / 2 - 1));  // the upper half is never picked ...
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < k; ++j) {
        int v = pick(rng);
        if (j == 0) v = i;                      // ... except as its own neighbour
        if (j == k - 1 && k > 1) v = N / 3;     // a hub every point picks
        if (j == 1 && k > 2 && i % 2) v = idx[(b * N + i) * k];  // neighbour 0 (itself) again
        idx[(b * N + i) * k + j] = v;
      }
  // index check: valid, then a negative and a too-large entry
  const std::int64_t count = std::int64_t(idx.size());
  bool same = cuda::any_bad_index(ctx, idx.data(), count, N) == (cpu::first_bad_index(idx.data(), count, N) >= 0);
  auto bad = idx;
  bad[count / 2] = -1;
  same = same && cuda::any_bad_index(ctx, bad.data(), count, N) && cpu::first_bad_index(bad.data(), count, N) >= 0;
  bad[count / 2] = idx[count / 2];
  bad[count - 1] = N;
  same = same && cuda::any_bad_index(ctx, bad.data(), count, N) && cpu::first_bad_index(bad.data(), count, N) >= 0;
  std::printf("%-36s %s\n", ("index check" + tag).c_str(), same ? "ok" : "FAIL");
  checker.fails += !same;
  V ec(B * N * k * C, NAN), eg(B * N * k * C, NAN);
  cpu::edge_diff_forward<float>(x.data(), idx.data(), ec.data(), B, N, k, C);
  cuda::edge_diff_forward(ctx, x.data(), idx.data(), eg.data(), B, N, k, C);
  checker.exact("forward" + tag, eg, ec);
  // dx_i = dx0_i + sum_j de_ij - sum over incoming edges de: m terms in all (k own + the incoming),
  // two float sums and two adds: 2 (m + 2) u (|dx0| + sum |terms|).
  std::vector<double> bound(B * N * C);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < N; ++i)
      for (int c = 0; c < C; ++c) {
        double s = std::abs(dx0[(b * N + i) * C + c]);
        int m = 0;
        for (int e = 0; e < N * k; ++e) {
          const double t = std::abs(de[(std::int64_t(b) * N * k + e) * C + c]);
          if (e / k == i) s += t, ++m;
          if (idx[b * N * k + e] == i) s += t, ++m;
        }
        bound[(b * N + i) * C + c] = 2 * (m + 2) * emu_check::kU * s;
      }
  V dxc = dx0, dxg = dx0;
  cpu::edge_diff_backward<float>(idx.data(), de.data(), dxc.data(), B, N, k, C);
  cuda::edge_diff_backward(ctx, idx.data(), de.data(), dxg.data(), B, N, k, C);
  checker.within("backward" + tag, dxg, dxc, bound);
}

int main() {
  run(1, 5, 1, 3);
  run(3, 20, 4, 9);
  run(2, 40, 7, 9);  // N C = 360: threads loop over more than one block's worth
  return checker.verdict();
}
