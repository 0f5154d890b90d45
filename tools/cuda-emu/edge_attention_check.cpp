// Runs the emulated CUDA body of the edge_attention family (kernels/cuda/edge_attention.cu and
// edge_attention_backward.cu, turned into C++ by transform.py) against the CPU body on raw pointers
// (tools/cuda-emu/run), on packed rows of jets with random real counts (0, 1, fewer than k, exactly
// P: no padding row), the padding rows repeated in the neighbour lists as the kNN ops repeat them,
// with the row weights (weighted statistics) and without (every row once).
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "kernels/cpu/edge_attention.h"
#include "kernels/cuda/edge_attention.h"
#include "engine/context.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(7);
double unif(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
double nrm() { return std::normal_distribution<double>(0, 1)(rng); }
int fails = 0;

void cmp(const char* what, const V& a, const V& b, double rel, bool exact = false) {
  double mean_abs = 0; for (float x : b) mean_abs += std::abs(x); mean_abs /= std::max<size_t>(1, b.size());
  int bad = 0; double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    const bool ok = exact ? (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) : d <= rel * (std::abs(b[i]) + mean_abs) + 1e-30;
    if (!ok) { if (bad < 3) std::printf("   %s[%zu]: emu %.9g cpu %.9g\n", what, i, a[i], b[i]); ++bad; }
    worst = std::max(worst, d / (std::abs(b[i]) + mean_abs + 1e-30));
  }
  std::printf("%-40s %s (%d bad of %zu, worst rel %.3g)\n", what, bad ? "FAIL" : "ok", bad, a.size(), worst);
  fails += bad > 0;
}

void run(int B, int Pslots, int k, int C, bool training, bool weighted) {
  const emu_check::Layout lay(emu_check::random_real_counts(rng, B, Pslots, k), Pslots);
  const std::int64_t R = lay.rows();
  std::printf("== B=%d P=%d R=%lld k=%d C=%d %s %s\n", B, Pslots, (long long)R, k, C, training ? "training" : "inference",
              weighted ? "weighted" : "unweighted");
  ContextOptions o; o.device = "cpu"; o.log = [](const std::string&) {};
  Context ctx(o);
  const double grid = 1.0 / 64;
  V P(R * C), bias(C), gamma(C), beta(C), mean(C), var(C);
  for (auto& x : P) x = std::nearbyint(nrm() / grid) * grid;
  for (auto& x : bias) x = std::nearbyint(0.25 * nrm() / grid) * grid;
  for (auto& x : gamma) x = unif(0.5, 1.5);
  // Neighbour lists within each jet (absolute rows): random, self, repeats, a common neighbour, and the
  // padding row filling the tail of some lists (and all of its own) as the kNN ops do.
  std::vector<std::int32_t> idx(R * k);
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int32_t first = lay.offsets[lay.row_jet[r]], real = lay.real[lay.row_jet[r]];
    const int n = lay.offsets[lay.row_jet[r] + 1] - first, i = int(r - first);
    std::int32_t* row = idx.data() + r * k;
    for (int j = 0; j < k; ++j) row[j] = first + std::uniform_int_distribution<int>(0, n - 1)(rng);
    if (i % 4 == 0) row[0] = first + i;
    if (k >= 3 && i % 3 == 0) row[2] = row[1];
    if (i % 5 == 1) row[k - 1] = first;
    if (real < Pslots && (i % 2 == 0 || lay.padding(r)))
      for (int j = std::min(k - 1, i % 3); j < k; ++j) row[j] = first + real;
  }
  EdgeLayerArgs<float> a;
  a.projected = P.data(); a.idx = idx.data(); a.bias = bias.data(); a.gamma = gamma.data(); a.beta = beta.data();
  a.mean = mean.data(); a.var = var.data(); a.eps = 1e-3; a.jets = B; a.rows = R; a.k = k; a.channels = C;
  a.offsets = lay.offsets.data(); a.weight = weighted ? lay.weight.data() : nullptr; a.max_jet_rows = lay.max_jet_rows;
  // statistics
  V m_c(C), v_c(C), m_e(C, NAN), v_e(C, NAN);
  std::vector<std::int64_t> calls_c, calls_e;
  ReplicaSum rc = [&](double* x, std::int64_t n) { calls_c.push_back(n); for (int i = 0; i < n; ++i) x[i] *= 2; };
  ReplicaSum re = [&](double* x, std::int64_t n) { calls_e.push_back(n); for (int i = 0; i < n; ++i) x[i] *= 2; };
  cpu::edge_batch_statistics<float>(a, m_c.data(), v_c.data(), {});
  cuda::edge_batch_statistics(ctx, a, m_e.data(), v_e.data(), {});
  cmp("stats mean", m_e, m_c, 1e-7); cmp("stats var", v_e, v_c, 1e-7);
  V m_s(C), v_s(C);
  cuda::edge_batch_statistics(ctx, a, m_s.data(), v_s.data(), re);
  cmp("stats mean doubled-sync == none", m_s, m_e, 0, true); cmp("stats var doubled-sync == none", v_s, v_e, 0, true);
  if (training) { mean = m_c; var = v_c; } else { for (auto& x : mean) x = unif(-0.3, 0.3); for (auto& x : var) x = unif(0.5, 3); }
  for (int c = 0; c < C; ++c) {
    const double inv = edge_math::inv_std(var[c], 1e-3);
    const double h = (std::floor(mean[c] / grid) + 0.5 + std::uniform_int_distribution<int>(-16, 16)(rng)) * grid;
    beta[c] = gamma[c] * inv * (mean[c] - h);
  }
  const std::int64_t E = R * k;
  V y_c(E * C), y_e(E * C, NAN);
  cpu::edge_layer_forward<float>(a, y_c.data()); cuda::edge_layer_forward(ctx, a, y_e.data());
  cmp("y", y_e, y_c, 0, true);
  V w(C), wb{0.3f}, s_c(E), s_e(E, NAN);
  for (auto& x : w) x = nrm() / std::sqrt(C);
  cpu::edge_score_forward<float>(a, w.data(), wb.data(), s_c.data()); cuda::edge_score_forward(ctx, a, w.data(), wb.data(), s_e.data());
  cmp("score", s_e, s_c, 1e-5);
  V alpha(E); for (auto& x : alpha) x = unif(0.01, 1);
  V ob(C); for (auto& x : ob) x = nrm();
  V o_c(R * C), g_c(R * C), o_e(R * C, NAN), g_e(R * C, NAN);
  cpu::edge_aggregate_forward<float>(a, alpha.data(), ob.data(), o_c.data(), g_c.data());
  cuda::edge_aggregate_forward(ctx, a, alpha.data(), ob.data(), o_e.data(), g_e.data());
  cmp("o", o_e, o_c, 1e-5); cmp("g", g_e, g_c, 0, true);
  // backward
  auto randv = [](size_t n) { V v(n); for (auto& x : v) x = nrm(); return v; };
  for (int sync = 0; sync < 2; ++sync) {
    const V ds = randv(E), dp0 = randv(R * C), db0 = randv(C), dga0 = randv(C), dbe0 = randv(C), dw0 = randv(C), dwb0 = randv(1);
    V dp_c = dp0, db_c = db0, dga_c = dga0, dbe_c = dbe0, dw_c = dw0, dwb_c = dwb0;
    V dp_e = dp0, db_e = db0, dga_e = dga0, dbe_e = dbe0, dw_e = dw0, dwb_e = dwb0;
    EdgeLayerGradArgs<float> gc{dp_c.data(), db_c.data(), dga_c.data(), dbe_c.data(), training};
    EdgeLayerGradArgs<float> ge{dp_e.data(), db_e.data(), dga_e.data(), dbe_e.data(), training};
    calls_c.clear(); calls_e.clear();
    cpu::edge_score_backward<float>(a, gc, w.data(), ds.data(), dw_c.data(), dwb_c.data(), sync ? rc : ReplicaSum());
    cuda::edge_score_backward(ctx, a, ge, w.data(), ds.data(), dw_e.data(), dwb_e.data(), sync ? re : ReplicaSum());
    std::printf("   sync calls cpu %zu emu %zu %s\n", calls_c.size(), calls_e.size(), calls_c == calls_e ? "same" : "DIFFER");
    fails += calls_c != calls_e;
    cmp("score dprojected", dp_e, dp_c, 1e-5); cmp("score dbias", db_e, db_c, 1e-5); cmp("score dgamma", dga_e, dga_c, 1e-5);
    cmp("score dbeta", dbe_e, dbe_c, 1e-5); cmp("score dw", dw_e, dw_c, 1e-5); cmp("score dw_bias", dwb_e, dwb_c, 1e-5);
    for (int variant = 0; variant < 3; ++variant) {
      const bool with_dout = variant != 2, with_dg = variant != 1;
      const V dout = randv(R * C), dg = randv(R * C), dal0 = randv(E), dob0 = randv(C);
      V dp_c = dp0, db_c = db0, dga_c = dga0, dbe_c = dbe0, dal_c = dal0, dob_c = dob0;
      V dp_e = dp0, db_e = db0, dga_e = dga0, dbe_e = dbe0, dal_e = dal0, dob_e = dob0;
      EdgeLayerGradArgs<float> gc{dp_c.data(), db_c.data(), dga_c.data(), dbe_c.data(), training};
      EdgeLayerGradArgs<float> ge{dp_e.data(), variant == 1 ? nullptr : db_e.data(), dga_e.data(), dbe_e.data(), training};
      if (variant == 1) gc.dbias = nullptr;
      calls_c.clear(); calls_e.clear();
      cpu::edge_aggregate_backward<float>(a, gc, alpha.data(), g_c.data(), with_dout ? dout.data() : nullptr, with_dg ? dg.data() : nullptr, dal_c.data(), dob_c.data(), sync ? rc : ReplicaSum());
      cuda::edge_aggregate_backward(ctx, a, ge, alpha.data(), g_e.data(), with_dout ? dout.data() : nullptr, with_dg ? dg.data() : nullptr, dal_e.data(), dob_e.data(), sync ? re : ReplicaSum());
      fails += calls_c != calls_e;
      std::printf("   aggregate variant %d (dout %d dg %d) sync %d calls %s\n", variant, with_dout, with_dg, sync, calls_c == calls_e ? "same" : "DIFFER");
      cmp("agg dprojected", dp_e, dp_c, 1e-5); cmp("agg dbias", db_e, db_c, 1e-5); cmp("agg dgamma", dga_e, dga_c, 1e-5);
      cmp("agg dbeta", dbe_e, dbe_c, 1e-5); cmp("agg dalpha", dal_e, dal_c, 1e-5); cmp("agg dout_bias", dob_e, dob_c, 1e-5);
    }
  }
}

int main() {
  run(5, 20, 5, 16, true, true);
  run(4, 17, 4, 3, false, true);
  run(4, 12, 3, 40, true, true);
  run(4, 12, 3, 40, true, false);
  run(4, 9, 1, 5, true, true);
  run(4, 10, 4, 300, true, true);
  std::printf("%s\n", fails ? "SOME FAILED" : "ALL OK");
  return fails != 0;
}
