// Emulated CUDA Adam update (from kernels/cuda/adam.cu) against the CPU body. The kernel spells
// every operation as an explicitly rounded intrinsic in the CPU body's order, so parameters and both
// moments must agree bit for bit (that is the kernel's contract), over a few steps, for sizes below,
// at and above one 256-thread block, with zero gradients and zero second moments among the inputs.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/adam.h"
#include "kernels/cuda/adam.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(5);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  for (int n : {1, 256, 300}) {
    V p(n), m(n), v(n);
    for (auto& x : p) x = float(n01(rng));
    for (int i = 0; i < n; ++i) {
      m[i] = i % 3 == 0 ? 0.0f : float(0.01 * n01(rng));
      v[i] = i % 3 == 0 ? 0.0f : float(1e-4 * std::abs(n01(rng)));
    }
    V pc = p, mc = m, vc = v, pg = p, mg = m, vg = v;
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-7;
    for (int step = 1; step <= 3; ++step) {
      V g(n);
      for (int i = 0; i < n; ++i) g[i] = i % 7 == 0 ? 0.0f : float(0.1 * n01(rng));
      const double lr_t = 1e-3 * std::sqrt(1 - std::pow(beta2, step)) / (1 - std::pow(beta1, step));
      cpu::adam_update<float>(pc.data(), g.data(), mc.data(), vc.data(), n, lr_t, beta1, beta2, eps);
      cuda::adam_update(ctx, pg.data(), g.data(), mg.data(), vg.data(), n, lr_t, beta1, beta2, eps);
    }
    const std::string tag = " n " + std::to_string(n) + " (3 steps)";
    checker.exact("params" + tag, pg, pc);
    checker.exact("m" + tag, mg, mc);
    checker.exact("v" + tag, vg, vc);
  }
  return checker.verdict();
}
