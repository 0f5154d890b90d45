// Emulated CUDA batch norm (bn_emu.cpp, from kernels/cuda/batch_norm.cu) against the CPU body, with
// and without the fused ReLU; then the training mode with row weights (packed rows of jets with
// random real counts, the weights repeated k times as for the edge tensors [R, k, C]), also with a
// sync call (its buffers must carry the weighted row count), and against the reference's dense
// rows: the weighted statistics of the packed rows must equal the plain ones of the dense rows, and
// the packed dx of a padding row the sum of the dense dx of the padded points it stands for.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cuda/batch_norm.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(7);
emu_check::Checker checker;

void cmp(const char* what, bool relu, const V& a, const V& b, double rel) {
  checker.compare(std::string(what) + (relu ? " relu 1" : " relu 0"), a, b, rel);
}

// The weighted training forward and backward on packed rows: x [R * repeat, C], the row weights of a
// random layout, each repeated `repeat` times.
void weighted(Context& ctx, int B, int P, int repeat, int C, bool relu) {
  const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, 2), P);
  const std::int64_t R = L.rows(), rows = R * repeat;
  const std::string tag = " B " + std::to_string(B) + " R " + std::to_string(R) + " repeat " +
                          std::to_string(repeat) + " C " + std::to_string(C) + (relu ? " relu 1" : " relu 0");
  std::normal_distribution<double> n01(0, 1);
  V x(rows * C), gamma(C), beta(C), dy(rows * C);
  for (auto& v : x) v = float(3 + 2 * n01(rng));
  for (int c = 0; c < C; ++c) gamma[c] = float(1 + 0.3 * n01(rng)), beta[c] = float(0.3 * n01(rng));
  for (auto& v : dy) v = float(n01(rng));
  const RowWeights<float> w{L.weight.data(), repeat};
  double m_expected = 0;
  for (std::int64_t r = 0; r < rows; ++r) m_expected += w.of(r);
  for (bool sync : {false, true}) {
    // A sync that doubles every sum (two identical replicas): same statistics; it records the counts.
    std::vector<double> counts;
    ReplicaSum doubling = [&](double* buf, std::int64_t n) {
      if (n % C == 1) counts.push_back(buf[n - 1]);
      for (std::int64_t i = 0; i < n; ++i) buf[i] *= 2;
    };
    const ReplicaSum none;
    const ReplicaSum& s = sync ? doubling : none;
    V yc(rows * C), yg(rows * C), mc(C), mg(C), vc(C), vg(C), ic(C), ig(C);
    cpu::batch_norm_train_forward<float>(x.data(), gamma.data(), beta.data(), yc.data(), mc.data(), vc.data(),
                                         ic.data(), rows, C, 1e-3, {}, relu, w);
    cuda::batch_norm_train_forward(ctx, x.data(), gamma.data(), beta.data(), yg.data(), mg.data(), vg.data(),
                                   ig.data(), rows, C, 1e-3, s, relu, w);
    const std::string st = tag + (sync ? " sync" : "");
    checker.compare("weighted y" + st, yg, yc, 1e-6);
    checker.compare("weighted mean" + st, mg, mc, 1e-6);
    checker.compare("weighted var" + st, vg, vc, 1e-6);
    V dxc(rows * C, 0.5f), dxg(rows * C, 0.5f), dgc(C, 0), dgg(C, 0), dbc(C, 0), dbg(C, 0);
    const float* relu_c = relu ? yc.data() : nullptr;
    cpu::batch_norm_train_backward<float>(x.data(), gamma.data(), mc.data(), ic.data(), dy.data(),
                                          {dxc.data(), dgc.data(), dbc.data(), relu_c}, rows, C, {}, w);
    cuda::batch_norm_train_backward(ctx, x.data(), gamma.data(), mc.data(), ic.data(), dy.data(),
                                    {dxg.data(), dgg.data(), dbg.data(), relu_c}, rows, C, s, w);
    checker.compare("weighted dx" + st, dxg, dxc, 1e-5);
    checker.compare("weighted dgamma" + st, dgg, dgc, 1e-5);
    checker.compare("weighted dbeta" + st, dbg, dbc, 1e-5);
    if (sync) {
      const bool ok = counts.size() == 2 && counts[0] == m_expected && counts[1] == m_expected;
      std::printf("%-36s %s\n", ("weighted sync counts == M" + tag).c_str(), ok ? "ok" : "FAIL");
      checker.fails += !ok;
    }
  }
  // The reference's dense rows: each padding row (and its x, dy) copied to its weight's points, the
  // padded points' dy summing to the padding row's.
  std::vector<std::int64_t> source;
  for (std::int64_t r = 0; r < rows; ++r)
    for (int copy = 0; copy < int(w.of(r)); ++copy) source.push_back(r);
  const std::int64_t dense_rows = std::int64_t(source.size());
  V xd(dense_rows * C), dyd(dense_rows * C);
  for (std::int64_t d = 0; d < dense_rows; ++d)
    for (int c = 0; c < C; ++c) {
      xd[d * C + c] = x[source[d] * C + c];
      dyd[d * C + c] = float(dy[source[d] * C + c] / w.of(source[d]));
      dy[source[d] * C + c] = 0;  // the packed dy: the sum of its points' dy below
    }
  for (std::int64_t d = 0; d < dense_rows; ++d)
    for (int c = 0; c < C; ++c) dy[source[d] * C + c] += dyd[d * C + c];
  V yp(rows * C), mp(C), vp(C), ip(C), ydn(dense_rows * C), mdn(C), vdn(C), idn(C);
  cuda::batch_norm_train_forward(ctx, x.data(), gamma.data(), beta.data(), yp.data(), mp.data(), vp.data(), ip.data(),
                                 rows, C, 1e-3, {}, relu, w);
  cuda::batch_norm_train_forward(ctx, xd.data(), gamma.data(), beta.data(), ydn.data(), mdn.data(), vdn.data(),
                                 idn.data(), dense_rows, C, 1e-3, {}, relu);
  checker.compare("weighted mean == dense" + tag, mp, mdn, 1e-6);
  checker.compare("weighted var == dense" + tag, vp, vdn, 1e-6);
  V dxp(rows * C, 0), dxd(dense_rows * C, 0), dgp(C, 0), dgd(C, 0), dbp(C, 0), dbd(C, 0);
  cuda::batch_norm_train_backward(ctx, x.data(), gamma.data(), mp.data(), ip.data(), dy.data(),
                                  {dxp.data(), dgp.data(), dbp.data(), relu ? yp.data() : nullptr}, rows, C, {}, w);
  cuda::batch_norm_train_backward(ctx, xd.data(), gamma.data(), mdn.data(), idn.data(), dyd.data(),
                                  {dxd.data(), dgd.data(), dbd.data(), relu ? ydn.data() : nullptr}, dense_rows, C,
                                  {});
  V dx_summed(rows * C, 0);
  for (std::int64_t d = 0; d < dense_rows; ++d)
    for (int c = 0; c < C; ++c) dx_summed[source[d] * C + c] += dxd[d * C + c];
  checker.compare("weighted dx == summed dense dx" + tag, dxp, dx_summed, 1e-4);
  checker.compare("weighted dgamma == dense" + tag, dgp, dgd, 1e-5);
  checker.compare("weighted dbeta == dense" + tag, dbp, dbd, 1e-5);
}

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  for (auto [rows, C] : {std::pair{300, 5}, std::pair{70, 40}}) {
    std::normal_distribution<double> n01(0, 1);
    V x(rows * C), gamma(C), beta(C), dy(rows * C), mm(C), mv(C);
    for (auto& v : x) v = float(3 + 2 * n01(rng));
    for (int c = 0; c < C; ++c) {
      gamma[c] = float(1 + 0.3 * n01(rng));
      beta[c] = float(0.3 * n01(rng));
      mm[c] = float(3 + 0.5 * n01(rng));
      mv[c] = float(4 + n01(rng) * 0.5);
    }
    for (auto& v : dy) v = float(n01(rng));
    for (bool relu : {false, true}) {
      V yc(rows * C), yg(rows * C), mc(C), mg(C), vc(C), vg(C), ic(C), ig(C);
      cpu::batch_norm_train_forward<float>(x.data(), gamma.data(), beta.data(), yc.data(), mc.data(), vc.data(),
                                           ic.data(), rows, C, 1e-3, {}, relu);
      cuda::batch_norm_train_forward(ctx, x.data(), gamma.data(), beta.data(), yg.data(), mg.data(), vg.data(),
                                     ig.data(), rows, C, 1e-3, {}, relu);
      cmp("train y", relu, yg, yc, 1e-6);
      cmp("train mean", relu, mg, mc, 1e-6);
      cmp("train inv_std", relu, ig, ic, 1e-6);
      int zeros = 0;
      for (float v : yc) zeros += v == 0.0f;
      std::printf("   relu zeros %d of %zu\n", zeros, yc.size());
      V dxc(rows * C, 0.5f), dxg(rows * C, 0.5f), dgc(C, 0), dgg(C, 0), dbc(C, 0), dbg(C, 0);
      const float* relu_c = relu ? yc.data() : nullptr;
      cpu::batch_norm_train_backward<float>(x.data(), gamma.data(), mc.data(), ic.data(), dy.data(),
                                            {dxc.data(), dgc.data(), dbc.data(), relu_c}, rows, C, {});
      cuda::batch_norm_train_backward(ctx, x.data(), gamma.data(), mc.data(), ic.data(), dy.data(),
                                      {dxg.data(), dgg.data(), dbg.data(), relu_c}, rows, C, {});
      cmp("train dx", relu, dxg, dxc, 1e-5);
      cmp("train dgamma", relu, dgg, dgc, 1e-5);
      cmp("train dbeta", relu, dbg, dbc, 1e-5);
      V ync(rows * C), yng(rows * C);
      cpu::batch_norm_inference_forward<float>(x.data(), gamma.data(), beta.data(), mm.data(), mv.data(), ync.data(),
                                               rows, C, 1e-3, relu);
      cuda::batch_norm_inference_forward(ctx, x.data(), gamma.data(), beta.data(), mm.data(), mv.data(), yng.data(),
                                         rows, C, 1e-3, relu);
      cmp("inference y", relu, yng, ync, 1e-6);
      V dxic(rows * C, 0), dxig(rows * C, 0), dgic(C, 0), dgig(C, 0), dbic(C, 0), dbig(C, 0);
      const float* relu_ic = relu ? ync.data() : nullptr;
      cpu::batch_norm_inference_backward<float>(x.data(), gamma.data(), mm.data(), mv.data(), dy.data(),
                                                {dxic.data(), dgic.data(), dbic.data(), relu_ic}, rows, C, 1e-3);
      cuda::batch_norm_inference_backward(ctx, x.data(), gamma.data(), mm.data(), mv.data(), dy.data(),
                                          {dxig.data(), dgig.data(), dbig.data(), relu_ic}, rows, C, 1e-3);
      cmp("inference dx", relu, dxig, dxic, 1e-5);
      cmp("inference dgamma", relu, dgig, dgic, 1e-5);
      cmp("inference dbeta", relu, dbig, dbic, 1e-5);
    }
  }
  for (bool relu : {false, true}) {
    weighted(ctx, 7, 20, 1, 5, relu);
    weighted(ctx, 5, 30, 4, 40, relu);
  }
  return checker.verdict();
}
