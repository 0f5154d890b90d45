// Emulated CUDA leaky ReLU (from kernels/cuda/activation.cu) against the CPU body, forward and
// backward (accumulating into a nonzero gradient), for sizes below, at, just above and well above
// one 256-thread block, with zeros, negative zero and NaN among the inputs.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(3);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  const float slope = 0.2f;
  for (int n : {1, 255, 256, 257, 1000}) {
    V x(n), dy(n), dx0(n);
    for (auto& v : x) v = float(n01(rng));
    for (auto& v : dy) v = float(n01(rng));
    for (auto& v : dx0) v = float(n01(rng));
    if (n > 3) x[1] = 0.0f, x[2] = -0.0f, x[3] = NAN;
    const std::string tag = " n " + std::to_string(n);
    V yc(n), yg(n, NAN);
    cpu::leaky_relu_forward<float>(x.data(), yc.data(), n, slope);
    cuda::leaky_relu_forward(ctx, x.data(), yg.data(), n, slope);
    checker.exact("forward" + tag, yg, yc);  // a select or one multiply: exact
    V dxc = dx0, dxg = dx0;
    cpu::leaky_relu_backward<float>(x.data(), dy.data(), dxc.data(), n, slope);
    cuda::leaky_relu_backward(ctx, x.data(), dy.data(), dxg.data(), n, slope);
    // dx0 + (dy or slope dy): two roundings, which nvcc may fuse into one FMA: 2 * 2 u (|dx0| + |dy|).
    std::vector<double> bound(n);
    for (int i = 0; i < n; ++i) bound[i] = 4 * emu_check::kU * (std::abs(dx0[i]) + std::abs(dy[i]));
    checker.within("backward" + tag, dxg, dxc, bound);
  }
  return checker.verdict();
}
