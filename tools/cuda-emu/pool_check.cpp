// Emulated CUDA mean pooling (from kernels/cuda/pool.cu) against the CPU body: forward (points
// summed in double, one rounding to float) and backward (one division and one add per element into a
// nonzero gradient), for batch 1, B * C below and above one 128-thread block, one point per jet, and
// a points count that does not divide evenly.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(19);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  const double u = emu_check::kU, ud = emu_check::kUd;
  for (auto [B, N, C] : {std::tuple{1, 7, 3}, std::tuple{3, 1, 50}, std::tuple{5, 33, 40}}) {
    V x(B * N * C), dy(B * C), dx0(B * N * C);
    for (auto& v : x) v = float(3 + n01(rng));
    for (auto& v : dy) v = float(n01(rng));
    for (auto& v : dx0) v = float(n01(rng));
    const std::string tag = " B " + std::to_string(B) + " N " + std::to_string(N) + " C " + std::to_string(C);
    V yc(B * C), yg(B * C, NAN);
    cpu::mean_pool_forward<float>(x.data(), yc.data(), B, N, C);
    cuda::mean_pool_forward(ctx, x.data(), yg.data(), B, N, C);
    // double sum and quotient, rounded once to float: 2 u |y| + 2 N 2^-53 sum |x| / N.
    std::vector<double> bound(B * C);
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) {
        double s = 0;
        for (int n = 0; n < N; ++n) s += std::abs(x[(b * N + n) * C + c]);
        bound[b * C + c] = 2 * u * std::abs(yc[b * C + c]) + 2 * N * ud * s / N;
      }
    checker.within("forward" + tag, yg, yc, bound);
    V dxc = dx0, dxg = dx0;
    cpu::mean_pool_backward<float>(dy.data(), dxc.data(), B, N, C);
    cuda::mean_pool_backward(ctx, dy.data(), dxg.data(), B, N, C);
    // dx0 + dy / N: two roundings in each body: 2 * 2 u (|dx0| + |dy / N|).
    std::vector<double> bound_b(B * N * C);
    for (int i = 0; i < B * N * C; ++i) bound_b[i] = 4 * u * (std::abs(dx0[i]) + std::abs(dy[i / (N * C) * C + i % C]) / N);
    checker.within("backward" + tag, dxg, dxc, bound_b);
  }
  return checker.verdict();
}
