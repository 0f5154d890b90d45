// Emulated CUDA deep k-means loss (from kernels/cuda/kmeans_loss.cu, whose batch sums go through
// kernels/cuda/reduce.cuh) against the CPU body: the loss, the distances, dz and dmu accumulated into
// nonzero gradients, and the hard assignment, for batches below, at and above one reduction slice.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "check_common.h"
#include "engine/context.h"
#include "kernels/cpu/kmeans_loss.h"
#include "kernels/cuda/kmeans_loss.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(11);
emu_check::Checker checker;

void cmp(const char* what, int batch, const V& a, const V& b, double rel) {
  checker.compare(std::string(what) + " B " + std::to_string(batch), a, b, rel);
}

int main() {
  Context ctx(emu_check::quiet_cpu_options());
  const int K = 3, D = 3;
  const double alpha = 10.0;
  std::uniform_real_distribution<double> u03(0, 3), small(-0.01, 0.01);
  for (int B : {1, 256, 600}) {
    V z(B * D), mu(K * D), dz0(B * D), dmu0(K * D);
    for (auto& v : z) v = float(u03(rng));
    for (auto& v : mu) v = float(u03(rng));
    for (auto& v : dz0) v = float(small(rng));
    for (auto& v : dmu0) v = float(small(rng));
    const V dloss{0.7f};
    V loss_c(1), loss_g(1), dist_c(B * K), dist_g(B * K);
    cpu::kmeans_loss_forward<float>(z.data(), mu.data(), loss_c.data(), dist_c.data(), B, K, D, alpha);
    cuda::kmeans_loss_forward(ctx, z.data(), mu.data(), loss_g.data(), dist_g.data(), B, K, D, alpha);
    cmp("loss", B, loss_g, loss_c, 1e-6);
    cmp("distances", B, dist_g, dist_c, 1e-6);
    V dz_c = dz0, dz_g = dz0, dmu_c = dmu0, dmu_g = dmu0;
    cpu::kmeans_loss_backward<float>(z.data(), mu.data(), dloss.data(), dz_c.data(), dmu_c.data(), B, K, D, alpha);
    cuda::kmeans_loss_backward(ctx, z.data(), mu.data(), dloss.data(), dz_g.data(), dmu_g.data(), B, K, D, alpha);
    cmp("dz", B, dz_g, dz_c, 1e-5);
    cmp("dmu", B, dmu_g, dmu_c, 1e-5);
    std::vector<std::int32_t> a_c(B), a_g(B);
    cpu::kmeans_assign<float>(dist_c.data(), a_c.data(), B, K);
    cuda::kmeans_assign(ctx, dist_c.data(), a_g.data(), B, K);
    const V a_c_float(a_c.begin(), a_c.end()), a_g_float(a_g.begin(), a_g.end());
    cmp("assignment", B, a_g_float, a_c_float, 0.0);
  }
  return checker.verdict();
}
