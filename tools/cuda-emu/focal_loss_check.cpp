// Emulated CUDA focal loss (from kernels/cuda/focal_loss.cu: the batch mean is one 256-thread block
// with a tree) against the CPU body (a sequential sum): the loss and dlogits accumulated into a
// nonzero gradient, for batch 1, a batch above one block (the strided rows and the tree), two
// gammas (integer and not), and rows whose p_t rounds to 1 (the clamped 1 - q) or is tiny.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/focal_loss.h"
#include "kernels/cuda/focal_loss.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(37);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 2);
  const double u = emu_check::kU, ud = emu_check::kUd;
  for (auto [B, K] : {std::pair{1, 5}, std::pair{129, 2}, std::pair{300, 3}}) {
    V logits(B * K), dl0(B * K);
    std::vector<std::int32_t> target(B);
    for (auto& v : logits) v = float(n01(rng));
    for (auto& v : dl0) v = float(0.1 * n01(rng));
    for (int b = 0; b < B; ++b) {
      target[b] = std::uniform_int_distribution<int>(0, K - 1)(rng);
      if (b % 5 == 1)  // p_t == 1 in double: the clamp of 1 - q
        for (int c = 0; c < K; ++c) logits[b * K + c] = c == target[b] ? 60.0f : -60.0f;
      if (b % 7 == 2)  // p_t tiny
        for (int c = 0; c < K; ++c) logits[b * K + c] = c == target[b] ? -15.0f : 15.0f;
    }
    for (double gamma : {2.0, 1.5}) {
      const double alpha = 0.25;
      const std::string tag = " B " + std::to_string(B) + " K " + std::to_string(K) + " gamma " +
                              std::to_string(gamma).substr(0, 3);
      V lc(1), lg(1, NAN);
      cpu::focal_loss_forward<float>(logits.data(), target.data(), lc.data(), B, K, gamma, alpha);
      cuda::focal_loss_forward(ctx, logits.data(), target.data(), lg.data(), B, K, gamma, alpha);
      // The same per-row terms (double, >= 0) summed in two orders (2 B 2^-53 of the sum), then one
      // rounding to float each: (2 u + 2 B 2^-53) |loss|.
      checker.within("loss" + tag, lg, lc, {(2 * u + 2 * B * ud) * std::abs(lc[0])});
      const V dloss{0.7f};
      V dc = dl0, dg = dl0;
      cpu::focal_loss_backward<float>(logits.data(), target.data(), dloss.data(), dc.data(), B, K, gamma, alpha);
      cuda::focal_loss_backward(ctx, logits.data(), target.data(), dloss.data(), dg.data(), B, K, gamma, alpha);
      // The same double term, rounded to float, then one add: 2 * 2 u (|dl0| + |term|).
      std::vector<double> bound(B * K);
      for (int i = 0; i < B * K; ++i) bound[i] = 4 * u * (2 * std::abs(dl0[i]) + std::abs(dc[i])) + 1e-45;
      checker.within("dlogits" + tag, dg, dc, bound);
    }
  }
  return checker.verdict();
}
