// Emulated CUDA kNN (from kernels/cuda/knn.cu: one block per jet, per-thread sorted lists in shared
// memory) against the CPU body (partial sort). Both round every multiply and add in the same order,
// so the neighbour indices must agree exactly. Coordinates on a coarse grid and duplicated points
// (equal distances: ties go to the lower index), padded points (feature 2 exactly 0, the penalty), a
// NaN point (sorts last), a row stride above the 2 coordinates, N = 1, N not a multiple of 32,
// N above one 256-thread block (threads loop over rows), k = 1 and k = N.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/knn.h"
#include "kernels/cuda/knn.h"

using namespace ucluster;
using V = std::vector<float>;
using I = std::vector<std::int32_t>;
std::mt19937_64 rng(41);
emu_check::Checker checker;

V grid_points(int count, int dims) {
  std::uniform_int_distribution<int> g(-4, 4);
  V v(count * dims);
  for (auto& x : v) x = 0.125f * float(g(rng));
  return v;
}

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  for (auto [B, N, F, k] : {std::tuple{1, 1, 4, 1}, std::tuple{2, 33, 4, 33}, std::tuple{2, 45, 3, 7},
                            std::tuple{1, 300, 4, 16}}) {
    const std::string tag = " B " + std::to_string(B) + " N " + std::to_string(N) + " k " + std::to_string(k);
    // coordinates: [B, N, F], eta/phi on a grid, feature 2 nonzero except on padded points
    V x = grid_points(B * N, F);
    for (int p = 0; p < B * N; ++p) {
      const int i = p % N;
      x[p * F + 2] = i >= N - N / 5 ? 0.0f : 1.0f + 0.5f * float(i % 3);  // the last fifth is padding
      if (i % 6 == 5) x[p * F + 0] = x[(p - 1) * F + 0], x[p * F + 1] = x[(p - 1) * F + 1];  // a duplicate
    }
    if (N > 10) x[(N + 3) % (B * N) * F + 1] = NAN;  // one NaN point
    I ic(B * N * k, -1), ig(B * N * k, -2);
    cpu::knn_coordinates<float>(x.data(), ic.data(), B, N, F, k);
    cuda::knn_coordinates(ctx, x.data(), ig.data(), B, N, F, k);
    checker.exact("coordinates" + tag, ig, ic);
    // features: [B, N, C]
    for (int C : {1, 6}) {
      V h = grid_points(B * N, C);
      for (int p = 0; p < B * N; ++p)
        if (p % 4 == 3)
          for (int c = 0; c < C; ++c) h[p * C + c] = h[(p - 1) * C + c];
      I fc(B * N * k, -1), fg(B * N * k, -2);
      cpu::knn_features<float>(h.data(), fc.data(), B, N, C, k);
      cuda::knn_features(ctx, h.data(), fg.data(), B, N, C, k);
      checker.exact("features C " + std::to_string(C) + tag, fg, fc);
    }
  }
  return checker.verdict();
}
