// Emulated CUDA per-point focal loss (from kernels/cuda/point_focal_loss.cu: the FL of every row,
// one thread per jet for the per-class maxima and tie weights, a one-block 256-thread tree for the
// loss, one thread per row for the gradient) against the CPU body (sequential sums), both
// reductions (per_point, max_points), on packed rows of jets with random real counts (0 real rows:
// only the padding row; P real rows: no padding row). Checked: the loss, the scratch the backward
// reuses (per-row FL, and for max_points the per-(jet, class) maxima and tie weights) bit for bit,
// and dlogits accumulated into a nonzero gradient with dloss != 1. The data has ties (real rows
// copying an earlier real row of their jet, or their jet's padding row: tied rows share the max's
// gradient by the points they stand for), absent classes, rows whose p_t rounds to 1 (the clamp of
// 1 - q) or is tiny; batch 1, P = 1, rows and jets above one 128-thread (rows) and 64-thread (jets)
// block and above the loss's 256 threads; an integer and a non-integer gamma.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/point_focal_loss.h"
#include "kernels/cuda/point_focal_loss.h"

using namespace ucluster;
using V = std::vector<float>;
using Dv = std::vector<double>;
std::mt19937_64 rng(47);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n02(0, 2);
  const double u = emu_check::kU, ud = emu_check::kUd;
  for (auto [B, P, K] : {std::tuple{1, 7, 3}, std::tuple{5, 1, 2}, std::tuple{70, 9, 4}, std::tuple{20, 40, 5}}) {
    const emu_check::Layout L(emu_check::random_real_counts(rng, B, P, 1), P);
    const std::int64_t R = L.rows();
    V logits(R * K), dl0(R * K);
    std::vector<std::int32_t> target(R);
    std::uniform_int_distribution<int> cls(0, K - 1), pick(0, 5);
    for (auto& v : logits) v = float(n02(rng));
    for (auto& v : dl0) v = float(0.01 * n02(rng));
    for (std::int64_t r = 0; r < R; ++r) {
      const std::int64_t first = L.offsets[L.row_jet[r]];
      float* l = &logits[r * K];
      target[r] = L.padding(r) ? 0 : cls(rng);
      if (L.padding(r)) continue;
      switch (pick(rng)) {
        case 0:  // p_t == 1 in double: the clamp of 1 - q
          for (int c = 0; c < K; ++c) l[c] = c == target[r] ? 60.0f : -60.0f;
          break;
        case 1:  // p_t tiny
          for (int c = 0; c < K; ++c) l[c] = c == target[r] ? -15.0f : 15.0f;
          break;
        case 2:  // a copy of an earlier real row of the jet: a tie when it is its class's max
          if (r > first) {
            const std::int64_t src = first + std::uniform_int_distribution<std::int64_t>(0, r - first - 1)(rng);
            for (int c = 0; c < K; ++c) l[c] = logits[src * K + c];
            target[r] = target[src];
          }
          break;
        default:
          break;
      }
    }
    // Some real rows copy their jet's padding row (written after the loop above: rows come first).
    for (std::int64_t r = 0; r < R; ++r) {
      const std::int32_t b = L.row_jet[r];
      const std::int64_t pad = L.offsets[b] + L.real[b];
      if (L.padding(r) || L.real[b] == L.slots || pick(rng) != 0) continue;
      for (int c = 0; c < K; ++c) logits[r * K + c] = logits[pad * K + c];
      target[r] = 0;
    }
    for (double gamma : {2.0, 1.5})
      for (bool max_points : {false, true}) {
        const cpu::PointFocalArgs a{K, gamma, gamma == 2.0 ? 0.25 : 10.0, max_points};
        const std::string tag = std::string(max_points ? " max_points" : " per_point") + " B " + std::to_string(B) +
                                " P " + std::to_string(P) + " R " + std::to_string(R) + " K " + std::to_string(K) +
                                " gamma " + std::to_string(gamma).substr(0, 3);
        // Scratch NaN-filled: a value read before it is written shows.
        Dv fl_c(R, NAN), fl_g(R, NAN), max_c(B * K, NAN), max_g(B * K, NAN), tw_c(B * K, NAN), tw_g(B * K, NAN);
        V lc(1), lg(1, NAN);
        cpu::point_focal_loss_forward<float>(logits.data(), target.data(), L.view(), L.weight.data(), a, fl_c.data(),
                                             max_c.data(), tw_c.data(), lc.data());
        cuda::point_focal_loss_forward(ctx, logits.data(), target.data(), L.view(), L.weight.data(), a, fl_g.data(),
                                       max_g.data(), tw_g.data(), lg.data());
        checker.exact("fl" + tag, fl_g, fl_c);
        // The same double terms summed in two orders (n 2^-53 of the sum of their magnitudes S each), then
        // one rounding to float each: 2 u |loss| + 2 n 2^-53 S / divisor.
        double S = 0;
        std::int64_t n = 0;
        if (max_points) {
          checker.exact("class max" + tag, max_g, max_c);
          checker.exact("tie weight" + tag, tw_g, tw_c);
          for (double m : max_c) S += std::abs(m);
          n = B * K;
          S /= double(B * K);
          // The data must exercise the tie rule: some (jet, class) max held by rows standing for more
          // than one point in all (two real rows, or a real row and the padding row) where P > 1.
          int multi = 0;
          for (int b = 0; b < B; ++b)
            for (int c = 0; c < K; ++c) {
              int holders = 0;
              for (std::int64_t r = L.offsets[b]; r < L.offsets[b + 1]; ++r)
                holders += target[r] == c && fl_c[r] == max_c[b * K + c];
              multi += holders > 1;
            }
          if (B > 5 && multi == 0) {
            std::printf("no tie between rows in the data%s\n", tag.c_str());
            ++checker.fails;
          }
        } else {
          for (std::int64_t r = 0; r < R; ++r) S += L.weight[r] * std::abs(fl_c[r]);
          n = R;
          S /= double(B * P);
        }
        checker.within("loss" + tag, lg, lc, {2 * u * std::abs(lc[0]) + 2 * n * ud * S + 1e-45});
        const V dloss{0.7f};
        Dv fl_c2(R, NAN), fl_g2(R, NAN), max_c2(B * K, NAN), max_g2(B * K, NAN), tw_c2(B * K, NAN), tw_g2(B * K, NAN);
        V dc = dl0, dg = dl0;
        cpu::point_focal_loss_backward<float>(logits.data(), target.data(), L.view(), L.weight.data(), a, dloss.data(),
                                              fl_c2.data(), max_c2.data(), tw_c2.data(), dc.data());
        cuda::point_focal_loss_backward(ctx, logits.data(), target.data(), L.view(), L.weight.data(), a, dloss.data(),
                                        fl_g2.data(), max_g2.data(), tw_g2.data(), dg.data());
        // The same double term, rounded to float, then one add: 2 * 2 u (|dl0| + |term|).
        std::vector<double> bound(R * K);
        for (std::int64_t i = 0; i < R * K; ++i) bound[i] = 4 * u * (2 * std::abs(dl0[i]) + std::abs(dc[i])) + 1e-45;
        checker.within("dlogits" + tag, dg, dc, bound);
        // Some gradient reached the logits (a scale of 0 would pass the comparison).
        double moved = 0;
        for (std::int64_t i = 0; i < R * K; ++i) moved = std::max(moved, double(std::abs(dc[i] - dl0[i])));
        if (!(moved > 1e-6)) {
          std::printf("no gradient%s\n", tag.c_str());
          ++checker.fails;
        }
      }
  }
  return checker.verdict();
}
