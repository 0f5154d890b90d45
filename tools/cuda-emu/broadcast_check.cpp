// Emulated CUDA broadcast of one row per jet to its packed rows (from kernels/cuda/broadcast.cu)
// against the CPU body, on jets with random real counts (0 real rows: only the padding row; P real
// rows: no padding row): the forward is a copy and the backward sums each jet's rows in row order in
// double, rounded once, then one add into a nonzero gradient, so both must agree bit for bit. Batch 1,
// R * C below and above one 256-thread block (forward), B * C below and above one 128-thread block
// (backward), P = 1.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/broadcast.h"
#include "kernels/cuda/broadcast.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(23);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  for (auto [B, P, C] : {std::tuple{1, 7, 3}, std::tuple{5, 1, 40}, std::tuple{9, 33, 40}, std::tuple{70, 10, 3}}) {
    const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, 1), P);
    const std::int64_t R = L.rows();
    V x(B * C), dy(R * C), dx0(B * C);
    for (auto& v : x) v = float(n01(rng));
    for (auto& v : dy) v = float(n01(rng));
    for (auto& v : dx0) v = float(n01(rng));
    const std::string tag = " B " + std::to_string(B) + " P " + std::to_string(P) + " R " + std::to_string(R) +
                            " C " + std::to_string(C);
    V yc(R * C, NAN), yg(R * C, NAN);
    cpu::broadcast_rows_forward<float>(x.data(), L.view(), yc.data(), C);
    cuda::broadcast_rows_forward(ctx, x.data(), L.view(), yg.data(), C);
    checker.exact("forward" + tag, yg, yc);
    // The CPU body itself: every row its jet's row.
    V want(R * C);
    for (std::int64_t r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) want[r * C + c] = x[L.row_jet[r] * C + c];
    checker.exact("forward is the jet's row" + tag, yc, want);
    V dxc = dx0, dxg = dx0;
    cpu::broadcast_rows_backward<float>(L.view(), dy.data(), dxc.data(), C);
    cuda::broadcast_rows_backward(ctx, L.view(), dy.data(), dxg.data(), C);
    checker.exact("backward" + tag, dxg, dxc);
    // ... and the unweighted sum of the jet's rows (a padding row once): float(double sum) added.
    V want_dx = dx0;
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) {
        double s = 0;
        for (std::int64_t r = L.offsets[b]; r < L.offsets[b + 1]; ++r) s += dy[r * C + c];
        want_dx[b * C + c] += float(s);
      }
    checker.exact("backward is the unweighted sum" + tag, dxc, want_dx);
  }
  return checker.verdict();
}
