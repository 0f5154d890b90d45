// Emulated CUDA deep k-means loss (from kernels/cuda/kmeans_loss.cu, whose batch sums go through
// kernels/cuda/reduce.cuh) against the CPU body: the loss, the distances, dz and dmu accumulated into
// nonzero gradients, and the hard assignment, for batches below, at and above one reduction slice.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "engine/context.h"
#include "kernels/cpu/kmeans_loss.h"
#include "kernels/cuda/kmeans_loss.h"

using namespace ucluster;
using V = std::vector<float>;
std::mt19937_64 rng(11);
int fails = 0;

void cmp(const char* what, int batch, const V& a, const V& b, double rel) {
  double scale = 0;
  for (float x : b) scale = std::max(scale, double(std::abs(x)));
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    if (!(d <= rel * scale + 1e-30)) ++bad;
    worst = std::max(worst, d / (scale + 1e-30));
  }
  std::printf("%-20s B %4d %s (%d bad of %zu, worst rel %.3g)\n", what, batch, bad ? "FAIL" : "ok", bad, a.size(),
              worst);
  fails += bad > 0;
}

int main() {
  ContextOptions o;
  o.device = "cpu";
  o.log = [](const std::string&) {};
  Context ctx(o);
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
    const bool same = a_c == a_g;
    std::printf("%-20s B %4d %s\n", "assignment", B, same ? "ok" : "FAIL");
    fails += !same;
  }
  std::printf(fails ? "FAILURES: %d\n" : "ALL OK\n", fails);
  return fails ? 1 : 0;
}
