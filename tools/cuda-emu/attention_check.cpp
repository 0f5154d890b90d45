// Emulated CUDA attention of the GAP layer (from kernels/cuda/attention.cu; the bias gradient is
// kernels/cuda/dense.cu's bias_grad, emulated with it) against the CPU body: the leaky-ReLU softmax
// over k, the weighted aggregation, the neighbour max with exact ties (and a NaN), forward and
// backward into nonzero gradients, with optional outputs left out (nullptr). Shapes: k = 1, rows
// above one 256-thread block and above one 256-row reduction slice, channels above a 32-column tile.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"

using namespace ucluster;
using V = std::vector<float>;
using B = std::vector<double>;
std::mt19937_64 rng(29);
emu_check::Checker checker;
const double u = emu_check::kU;

V randv(size_t n, double scale = 1) {
  std::normal_distribution<double> n01(0, scale);
  V v(n);
  for (auto& x : v) x = float(n01(rng));
  return v;
}

void run(int R, int k, int C) {
  const std::string tag = " R " + std::to_string(R) + " k " + std::to_string(k) + " C " + std::to_string(C);
  Context ctx(emu_check::quiet_cpu_options());
  const float slope = 0.2f;
  // --- softmax over k of leaky(a_r + c_rj)
  const V a = randv(R), c = randv(R * k);
  V al_c(R * k), al_g(R * k, NAN);
  cpu::attention_softmax_forward<float>(a.data(), c.data(), al_c.data(), R, k, slope);
  cuda::attention_softmax_forward(ctx, a.data(), c.data(), al_g.data(), R, k, slope);
  // z = leaky(a + c) carries 2 u |z| (two roundings), which exp turns into a relative error
  // 2 u |z - m|; exp, the sum of k terms and the scaling add (k + 4) u: twice that for two bodies.
  B b_al(R * k);
  for (int r = 0; r < R; ++r) {
    double zmax = 0;
    for (int j = 0; j < k; ++j) zmax = std::max(zmax, 2.0 * (std::abs(a[r]) + std::abs(c[r * k + j])));
    for (int j = 0; j < k; ++j) b_al[r * k + j] = 2 * al_c[r * k + j] * (2 * u * zmax + (k + 4) * u);
  }
  checker.within("softmax forward" + tag, al_g, al_c, b_al);
  const V g = randv(R * k), da0 = randv(R), dc0 = randv(R * k);
  // dl_j = (g_j - sum g alpha) alpha_j: with T_j = |alpha_j| (|g_j| + sum |g alpha|), dc_j carries
  // (k + 4) u (|dc0_j| + T_j) and da, a further sum over k, (2 k + 4) u (|da0| + sum T_j); twice that.
  B b_dc(R * k), b_da(R);
  for (int r = 0; r < R; ++r) {
    double sdot = 0, st = 0;
    for (int j = 0; j < k; ++j) sdot += std::abs(g[r * k + j] * al_c[r * k + j]);
    for (int j = 0; j < k; ++j) {
      const double t = std::abs(al_c[r * k + j]) * (std::abs(g[r * k + j]) + sdot);
      b_dc[r * k + j] = 2 * (k + 4) * u * (std::abs(dc0[r * k + j]) + t);
      st += t;
    }
    b_da[r] = 2 * (2 * k + 4) * u * (std::abs(da0[r]) + st);
  }
  for (int variant = 0; variant < 3; ++variant) {  // both, da only, dc only
    V dac = da0, dag = da0, dcc = dc0, dcg = dc0;
    float* pdac = variant == 2 ? nullptr : dac.data();
    float* pdag = variant == 2 ? nullptr : dag.data();
    float* pdcc = variant == 1 ? nullptr : dcc.data();
    float* pdcg = variant == 1 ? nullptr : dcg.data();
    cpu::attention_softmax_backward<float>(a.data(), c.data(), al_c.data(), g.data(), pdac, pdcc, R, k, slope);
    cuda::attention_softmax_backward(ctx, a.data(), c.data(), al_c.data(), g.data(), pdag, pdcg, R, k, slope);
    const std::string v = " v" + std::to_string(variant);
    checker.within("softmax backward da" + v + tag, dag, dac, b_da);
    checker.within("softmax backward dc" + v + tag, dcg, dcc, b_dc);
  }
  // --- aggregation o_r = sum_j alpha_rj y_rj (+ bias)
  const V y = randv(R * k * C), bias = randv(C);
  B b_o(R * C), b_o0(R * C);
  for (int r = 0; r < R; ++r)
    for (int ch = 0; ch < C; ++ch) {
      double s = 0;
      for (int j = 0; j < k; ++j) s += std::abs(al_c[r * k + j] * y[(r * k + j) * C + ch]);
      b_o0[r * C + ch] = 2 * (k + 1) * u * s;  // a sum of k products: 2 (k + 1) u S
      b_o[r * C + ch] = 2 * (k + 2) * u * (s + std::abs(bias[ch]));
    }
  for (bool with_bias : {true, false}) {
    V oc(R * C, NAN), og(R * C, NAN);
    const float* pb = with_bias ? bias.data() : nullptr;
    cpu::attention_aggregate_forward<float>(al_c.data(), y.data(), pb, oc.data(), R, k, C);
    cuda::attention_aggregate_forward(ctx, al_c.data(), y.data(), pb, og.data(), R, k, C);
    checker.within(std::string(with_bias ? "aggregate forward" : "aggregate forward no bias") + tag, og, oc,
                   with_bias ? b_o : b_o0);
  }
  const V dout = randv(R * C), dal0 = randv(R * k), dy0 = randv(R * k * C), db0 = randv(C);
  // dalpha: C products summed, 2 (C + 2) u (|dalpha0| + S); dy: one product and one add, 4 u (...);
  // dbias: column sums in double, one rounding, one add: 4 u (|dbias0| + sum |dout|).
  B b_dal(R * k), b_dy(R * k * C), b_db(C);
  for (int e = 0; e < R * k; ++e) {
    double s = 0;
    for (int ch = 0; ch < C; ++ch) s += std::abs(dout[(e / k) * C + ch] * y[e * C + ch]);
    b_dal[e] = 2 * (C + 2) * u * (std::abs(dal0[e]) + s);
    for (int ch = 0; ch < C; ++ch)
      b_dy[e * C + ch] = 4 * u * (std::abs(dy0[e * C + ch]) + std::abs(al_c[e] * dout[(e / k) * C + ch]));
  }
  for (int ch = 0; ch < C; ++ch) {
    double s = 0;
    for (int r = 0; r < R; ++r) s += std::abs(dout[r * C + ch]);
    b_db[ch] = 4 * u * (std::abs(db0[ch]) + s);
  }
  for (int variant = 0; variant < 2; ++variant) {  // all three; dy alone
    V dalc = dal0, dalg = dal0, dyc = dy0, dyg = dy0, dbc = db0, dbg = db0;
    const bool all = variant == 0;
    cpu::attention_aggregate_backward<float>(al_c.data(), y.data(), dout.data(), all ? dalc.data() : nullptr,
                                             dyc.data(), all ? dbc.data() : nullptr, R, k, C);
    cuda::attention_aggregate_backward(ctx, al_c.data(), y.data(), dout.data(), all ? dalg.data() : nullptr,
                                       dyg.data(), all ? dbg.data() : nullptr, R, k, C);
    const std::string v = " v" + std::to_string(variant);
    checker.within("aggregate backward dalpha" + v + tag, dalg, dalc, b_dal);
    checker.within("aggregate backward dy" + v + tag, dyg, dyc, b_dy);
    checker.within("aggregate backward dbias" + v + tag, dbg, dbc, b_db);
  }
  // --- neighbour max over k, on a coarse grid so that exact ties are common; one NaN
  V ym(R * k * C);
  std::uniform_int_distribution<int> grid(-3, 3);
  for (auto& x : ym) x = 0.25f * float(grid(rng));
  ym[(R * k - 1) * C] = NAN;  // the last row's first channel: NaN at j = k - 1
  V gc(R * C, NAN), gg(R * C, NAN);
  cpu::neighbour_max_forward<float>(ym.data(), gc.data(), R, k, C);
  cuda::neighbour_max_forward(ctx, ym.data(), gg.data(), R, k, C);
  checker.exact("max forward" + tag, gg, gc);
  int ties = 0;
  for (int r = 0; r < R; ++r)
    for (int ch = 0; ch < C; ++ch) {
      int t = 0;
      for (int j = 0; j < k; ++j) t += ym[(r * k + j) * C + ch] == gc[r * C + ch];
      ties += t > 1;
    }
  std::printf("   max ties: %d of %d (row, channel)\n", ties, R * C);
  const V dg = randv(R * C), dym0 = randv(R * k * C);
  // dy += (1 / ties) dg: three roundings (nvcc may fuse the last two): 6 u (|dy0| + |dg|).
  B b_dym(R * k * C);
  for (int e = 0; e < R * k * C; ++e)
    b_dym[e] = 6 * u * (std::abs(dym0[e]) + std::abs(dg[(e / (k * C)) * C + e % C]));
  V dyc = dym0, dyg = dym0;
  cpu::neighbour_max_backward<float>(ym.data(), gc.data(), dg.data(), dyc.data(), R, k, C);
  cuda::neighbour_max_backward(ctx, ym.data(), gc.data(), dg.data(), dyg.data(), R, k, C);
  checker.within("max backward" + tag, dyg, dyc, b_dym);
}

int main() {
  run(1, 1, 3);
  run(7, 16, 40);
  run(300, 5, 3);
  return checker.verdict();
}
