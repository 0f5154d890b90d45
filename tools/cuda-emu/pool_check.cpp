// Emulated CUDA pooling (from kernels/cuda/pool.cu) against the CPU body, on packed rows of jets
// with random real counts (0 real rows: only the padding row; P real rows: no padding row).
// Mean pool: forward (weighted rows summed in double, one rounding to float) and backward (weight dy
// / P in double, rounded once, one add per element into a nonzero gradient), for batch 1, B * C
// below and above one 128-thread block, P = 1, and a P that does not divide evenly.
// Max pool: forward values and argmax bit for bit (the first row of a tie; the inputs are on a
// coarse grid so that ties are common, and padding rows are raised in some channels so that they
// win), and the backward's single add at each argmax bit for bit, on the same shapes and on B * C
// above one 256-thread block of the backward.
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
  for (auto [B, P, C] : {std::tuple{1, 7, 3}, std::tuple{4, 1, 50}, std::tuple{9, 33, 40}}) {
    const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, 1), P);
    const std::int64_t R = L.rows();
    V x(R * C), dy(B * C), dx0(R * C);
    for (auto& v : x) v = float(3 + n01(rng));
    for (auto& v : dy) v = float(n01(rng));
    for (auto& v : dx0) v = float(n01(rng));
    const std::string tag = " B " + std::to_string(B) + " P " + std::to_string(P) + " R " + std::to_string(R) +
                            " C " + std::to_string(C);
    V yc(B * C), yg(B * C, NAN);
    cpu::mean_pool_forward<float>(x.data(), L.view(), L.weight.data(), yc.data(), C);
    cuda::mean_pool_forward(ctx, x.data(), L.view(), L.weight.data(), yg.data(), C);
    // Products w x exact in double, their double sum and quotient rounded once to float:
    // 2 u |y| + 2 R_b 2^-53 sum w |x| / P.
    std::vector<double> bound(B * C);
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) {
        double s = 0;
        const std::int64_t rows_b = L.offsets[b + 1] - L.offsets[b];
        for (std::int64_t r = L.offsets[b]; r < L.offsets[b + 1]; ++r) s += L.weight[r] * std::abs(x[r * C + c]);
        bound[b * C + c] = 2 * u * std::abs(yc[b * C + c]) + 2 * rows_b * ud * s / P;
      }
    checker.within("forward" + tag, yg, yc, bound);
    V dxc = dx0, dxg = dx0;
    cpu::mean_pool_backward<float>(L.view(), L.weight.data(), dy.data(), dxc.data(), C);
    cuda::mean_pool_backward(ctx, L.view(), L.weight.data(), dy.data(), dxg.data(), C);
    // dx0 + w dy / P: two roundings in each body: 2 * 2 u (|dx0| + |w dy / P|).
    std::vector<double> bound_b(R * C);
    for (std::int64_t i = 0; i < R * C; ++i)
      bound_b[i] = 4 * u * (std::abs(dx0[i]) + L.weight[i / C] * std::abs(dy[L.row_jet[i / C] * C + i % C]) / P);
    checker.within("backward" + tag, dxg, dxc, bound_b);
  }
  std::uniform_int_distribution<int> grid(-4, 4), coin(0, 2);
  for (auto [B, P, C] : {std::tuple{1, 7, 3}, std::tuple{4, 1, 50}, std::tuple{9, 33, 40}, std::tuple{40, 12, 9}}) {
    const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, 1), P);
    const std::int64_t R = L.rows();
    V x(R * C), dy(B * C), dx0(R * C);
    for (auto& v : x) v = 0.5f * float(grid(rng));  // 9 values: many ties
    for (std::int64_t r = 0; r < R; ++r)
      if (L.padding(r))
        for (int c = 0; c < C; ++c)
          if (const int k = coin(rng); k < 2) x[r * C + c] = k == 0 ? 2.0f : 2.5f;  // ties with the grid's top, or wins
    for (auto& v : dy) v = float(n01(rng));
    for (auto& v : dx0) v = float(n01(rng));
    const std::string tag = " B " + std::to_string(B) + " P " + std::to_string(P) + " R " + std::to_string(R) +
                            " C " + std::to_string(C);
    V yc(B * C), yg(B * C, NAN);
    std::vector<std::int32_t> ac(B * C), ag(B * C, -1);
    cpu::max_pool_forward<float>(x.data(), L.view(), yc.data(), ac.data(), C);
    cuda::max_pool_forward(ctx, x.data(), L.view(), yg.data(), ag.data(), C);
    checker.exact("max forward" + tag, yg, yc);
    checker.exact("max argmax" + tag, ag, ac);
    // The CPU argmax itself: the first of the jet's rows holding the maximum (the contract both follow).
    int wrong = 0, padding_wins = 0;
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) {
        std::int64_t first = L.offsets[b];
        for (std::int64_t r = L.offsets[b]; r < L.offsets[b + 1]; ++r)
          if (x[r * C + c] > x[first * C + c]) first = r;
        wrong += ac[b * C + c] != first || yc[b * C + c] != x[first * C + c];
        padding_wins += L.padding(first) && first > L.offsets[b];
      }
    checker.exact("max argmax is the first maximum" + tag, std::vector<int>{wrong}, std::vector<int>{0});
    if (B > 1 && P > 1 && padding_wins == 0) {
      std::printf("max: no padding row won a channel%s\n", tag.c_str());
      ++checker.fails;
    }
    V dxc = dx0, dxg = dx0;
    cpu::max_pool_backward<float>(ac.data(), dy.data(), dxc.data(), B, C);
    cuda::max_pool_backward(ctx, ac.data(), dy.data(), dxg.data(), B, C);
    checker.exact("max backward" + tag, dxg, dxc);
  }
  return checker.verdict();
}
