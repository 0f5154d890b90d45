// Emulated CUDA concat (from kernels/cuda/concat.cu) against the CPU body: forward (copies, exact)
// and backward (one add per element into a nonzero gradient, exact: the same single IEEE addition),
// with widths of 1 and above one block, an input without a gradient (nullptr), and one row.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/concat.h"
#include "kernels/cuda/concat.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(13);
emu_check::Checker checker;

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  std::normal_distribution<double> n01(0, 1);
  struct Case { int rows; std::vector<std::int64_t> widths; };
  for (const Case& cs : {Case{1, {3, 1, 5}}, Case{37, {1, 300, 7}}, Case{70, {16, 16}}}) {
    const int count = int(cs.widths.size()), rows = cs.rows;
    std::int64_t total = 0;
    for (auto w : cs.widths) total += w;
    std::vector<V> in(count);
    std::vector<const float*> ptrs;
    for (int i = 0; i < count; ++i) {
      in[i].resize(rows * cs.widths[i]);
      for (auto& v : in[i]) v = float(n01(rng));
      ptrs.push_back(in[i].data());
    }
    const std::string tag = " rows " + std::to_string(rows) + " total " + std::to_string(total);
    V oc(rows * total, NAN), og(rows * total, NAN);
    cpu::concat_forward<float>(ptrs.data(), cs.widths.data(), count, oc.data(), rows, total);
    cuda::concat_forward(ctx, ptrs.data(), cs.widths.data(), count, og.data(), rows, total);
    checker.exact("forward" + tag, og, oc);
    V dout(rows * total);
    for (auto& v : dout) v = float(n01(rng));
    std::vector<V> dc(count), dg(count);
    std::vector<float*> pc, pg;
    for (int i = 0; i < count; ++i) {
      dc[i].resize(rows * cs.widths[i]);
      for (auto& v : dc[i]) v = float(n01(rng));
      dg[i] = dc[i];
      const bool skip = i == 1;  // this input takes no gradient
      pc.push_back(skip ? nullptr : dc[i].data());
      pg.push_back(skip ? nullptr : dg[i].data());
    }
    cpu::concat_backward<float>(dout.data(), pc.data(), cs.widths.data(), count, rows, total);
    cuda::concat_backward(ctx, dout.data(), pg.data(), cs.widths.data(), count, rows, total);
    for (int i = 0; i < count; ++i) checker.exact("backward input " + std::to_string(i) + tag, dg[i], dc[i]);
  }
  return checker.verdict();
}
