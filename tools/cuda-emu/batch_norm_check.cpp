// Emulated CUDA batch norm (bn_emu.cpp, from kernels/cuda/batch_norm.cu) against the CPU body, with
// and without the fused ReLU.
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
  return checker.verdict();
}
