// Emulated CUDA dense layer (from kernels/cuda/dense.cu; its cublasSgemm calls run on cublas_emu.h's
// reference GEMM, which honours cuBLAS's column-major, transpose and leading-dimension rules) against
// the CPU body (OpenBLAS): forward with and without bias, backward into nonzero gradients with every
// output and with dx alone. Non-square shapes (rows != cin != cout) so that a swapped GEMM argument
// or leading dimension shows; rows 1, below and above one 256-row reduction slice of the bias
// gradient, cout above one 32-column tile.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "cublas_emu.h"
#include "engine/context.h"
#include "kernels/cpu/dense.h"
#include "kernels/cuda/dense.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(23);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  const double u = emu_check::kU;
  for (auto [R, I, O] : {std::tuple{1, 5, 3}, std::tuple{37, 6, 11}, std::tuple{300, 7, 40}}) {
    V x(R * I), w(I * O), bias(O), dy(R * O), dx0(R * I), dw0(I * O), db0(O);
    for (auto* v : {&x, &w, &bias, &dy, &dx0, &dw0, &db0})
      for (auto& e : *v) e = float(n01(rng));
    const std::string tag = " " + std::to_string(R) + "x" + std::to_string(I) + "->" + std::to_string(O);
    // y = x w + bias: a dot product of I terms plus the bias in each body: 2 (I + 2) u (sum |x w| + |bias|).
    std::vector<double> by(R * O), by0(R * O);
    for (int r = 0; r < R; ++r)
      for (int o = 0; o < O; ++o) {
        double s = 0;
        for (int i = 0; i < I; ++i) s += std::abs(x[r * I + i] * w[i * O + o]);
        by0[r * O + o] = 2 * (I + 1) * u * s;
        by[r * O + o] = 2 * (I + 2) * u * (s + std::abs(bias[o]));
      }
    for (bool with_bias : {true, false}) {
      V yc(R * O, NAN), yg(R * O, NAN);
      const float* b = with_bias ? bias.data() : nullptr;
      cpu::dense_forward<float>(x.data(), w.data(), b, yc.data(), R, I, O);
      cuda::dense_forward(ctx, x.data(), w.data(), b, yg.data(), R, I, O);
      checker.within(std::string(with_bias ? "forward" : "forward no bias") + tag, yg, yc, with_bias ? by : by0);
    }
    // dx = dx0 + dy w^T (O terms), dw = dw0 + x^T dy (R terms), dbias = dbias0 + column sums of dy
    // (in double, rounded once, then one add): 2 (n + 2) u (|initial| + sum |terms|), and 4 u (...) for dbias.
    std::vector<double> bdx(R * I), bdw(I * O), bdb(O);
    for (int r = 0; r < R; ++r)
      for (int i = 0; i < I; ++i) {
        double s = 0;
        for (int o = 0; o < O; ++o) s += std::abs(dy[r * O + o] * w[i * O + o]);
        bdx[r * I + i] = 2 * (O + 2) * u * (std::abs(dx0[r * I + i]) + s);
      }
    for (int i = 0; i < I; ++i)
      for (int o = 0; o < O; ++o) {
        double s = 0;
        for (int r = 0; r < R; ++r) s += std::abs(x[r * I + i] * dy[r * O + o]);
        bdw[i * O + o] = 2 * (R + 2) * u * (std::abs(dw0[i * O + o]) + s);
      }
    for (int o = 0; o < O; ++o) {
      double s = 0;
      for (int r = 0; r < R; ++r) s += std::abs(dy[r * O + o]);
      bdb[o] = 4 * u * (std::abs(db0[o]) + s);
    }
    V dxc = dx0, dxg = dx0, dwc = dw0, dwg = dw0, dbc = db0, dbg = db0;
    cpu::dense_backward<float>(x.data(), w.data(), dy.data(), dxc.data(), dwc.data(), dbc.data(), R, I, O);
    cuda::dense_backward(ctx, x.data(), w.data(), dy.data(), dxg.data(), dwg.data(), dbg.data(), R, I, O);
    checker.within("backward dx" + tag, dxg, dxc, bdx);
    checker.within("backward dw" + tag, dwg, dwc, bdw);
    checker.within("backward dbias" + tag, dbg, dbc, bdb);
    V dxc2 = dx0, dxg2 = dx0;
    cpu::dense_backward<float>(x.data(), w.data(), dy.data(), dxc2.data(), nullptr, nullptr, R, I, O);
    cuda::dense_backward(ctx, x.data(), w.data(), dy.data(), dxg2.data(), nullptr, nullptr, R, I, O);
    checker.within("backward dx only" + tag, dxg2, dxc2, bdx);
  }
  std::printf("   emulated cublasSgemm calls: %ld\n", emu_cublas_calls);
  return checker.verdict();
}
