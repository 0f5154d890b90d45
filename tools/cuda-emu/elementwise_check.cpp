// Emulated CUDA scaled sums (from kernels/cuda/elementwise.cu) against the CPU body: add_scaled with
// and without b (nullptr) and accumulate_scaled into a nonzero y, for sizes below, at and above one
// 256-thread block.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(17);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  const float alpha = 0.7f, beta = -1.3f;
  const double u = emu_check::kU;
  for (int n : {1, 256, 777}) {
    V a(n), b(n), y0(n);
    for (auto& v : a) v = float(n01(rng));
    for (auto& v : b) v = float(n01(rng));
    for (auto& v : y0) v = float(n01(rng));
    const std::string tag = " n " + std::to_string(n);
    // alpha a + beta b: two products and a sum, three roundings in each body (nvcc may fuse one
    // product into an FMA): 2 * 3 u (|alpha a| + |beta b|). alpha a alone: one rounding, exact.
    std::vector<double> bound(n), bound_acc(n);
    for (int i = 0; i < n; ++i) {
      bound[i] = 6 * u * (std::abs(alpha * a[i]) + std::abs(beta * b[i]));
      bound_acc[i] = 4 * u * (std::abs(y0[i]) + std::abs(alpha * a[i]));
    }
    V oc(n), og(n, NAN);
    cpu::add_scaled<float>(a.data(), b.data(), oc.data(), n, alpha, beta);
    cuda::add_scaled(ctx, a.data(), b.data(), og.data(), n, alpha, beta);
    checker.within("add_scaled" + tag, og, oc, bound);
    cpu::add_scaled<float>(a.data(), nullptr, oc.data(), n, alpha, beta);
    cuda::add_scaled(ctx, a.data(), nullptr, og.data(), n, alpha, beta);
    checker.exact("add_scaled b = null" + tag, og, oc);
    V yc = y0, yg = y0;
    cpu::accumulate_scaled<float>(a.data(), yc.data(), n, alpha);
    cuda::accumulate_scaled(ctx, a.data(), yg.data(), n, alpha);
    checker.within("accumulate_scaled" + tag, yg, yc, bound_acc);
  }
  return checker.verdict();
}
