// kernels/cpu/gemm: the BLAS wrapper and its tiled form (what gemm() runs with a BLAS that is not
// OpenBLAS's OpenMP build, e.g. Debian's pthread OpenBLAS): every transpose combination, row strides
// larger than the matrices, alpha/beta, shapes that leave partial tiles; and the tiled result's
// independence of the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "tests/kernels/thread_counts.h"

namespace ucluster::test {
namespace {

struct Case {
  std::int64_t m, n, k;
  bool ta, tb;
};

// Stored operands with row strides 3 larger than needed, so a tile offset that ignores the stride
// reads the wrong rows.
struct Operands {
  std::int64_t lda, ldb, ldc;
  std::vector<float> a, b, c;
};

Operands make_operands(const Case& t, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::int64_t a_rows = t.ta ? t.k : t.m, a_cols = t.ta ? t.m : t.k;
  const std::int64_t b_rows = t.tb ? t.n : t.k, b_cols = t.tb ? t.k : t.n;
  Operands o{a_cols + 3, b_cols + 3, t.n + 3, {}, {}, {}};
  o.a.resize(static_cast<std::size_t>(a_rows * o.lda));
  o.b.resize(static_cast<std::size_t>(b_rows * o.ldb));
  o.c.resize(static_cast<std::size_t>(t.m * o.ldc));
  for (auto* v : {&o.a, &o.b, &o.c})
    for (float& x : *v) x = u(rng);
  return o;
}

// C = alpha op(A) op(B) + beta C in double, element by element.
std::vector<double> reference(const Case& t, const Operands& o, double alpha, double beta) {
  std::vector<double> c(o.c.begin(), o.c.end());
  for (std::int64_t i = 0; i < t.m; ++i)
    for (std::int64_t j = 0; j < t.n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < t.k; ++p) {
        const double a = t.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p];
        const double b = t.tb ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j];
        s += a * b;
      }
      c[i * o.ldc + j] = alpha * s + beta * c[i * o.ldc + j];
    }
  return c;
}

std::vector<float> run_tiled(const Case& t, Operands o, float alpha, float beta) {
  cpu::gemm_tiled<float>(t.ta, t.tb, t.m, t.n, t.k, alpha, o.a.data(), o.lda, o.b.data(), o.ldb, beta, o.c.data(),
                         o.ldc);
  return o.c;
}

const std::vector<Case> kCases = {
    {600, 300, 37, false, false}, {600, 300, 37, true, false}, {600, 300, 37, false, true},
    {600, 300, 37, true, true},   {257, 513, 9, false, true},  {1, 700, 128, true, false},
    {300, 1, 64, false, false},   {256, 256, 0, false, false},
};

TEST(Gemm, TiledMatchesDoubleReferenceForEveryTransposeAndPartialTiles) {
  for (const Case& t : kCases) {
    const Operands o = make_operands(t, 7);
    const std::vector<double> want = reference(t, o, 0.5, 0.25);
    const std::vector<float> got = run_tiled(t, o, 0.5f, 0.25f);
    // float32 dot products of k terms of magnitude <= 1: |error| <= k u + a few ulps of the sum;
    // 4 (k + 2) 2^-24 bounds it with margin. Elements outside the n columns (the stride padding)
    // must be untouched.
    const double tol = 4.0 * double(t.k + 2) * std::ldexp(1.0, -24);
    for (std::int64_t i = 0; i < t.m; ++i)
      for (std::int64_t j = 0; j < o.ldc; ++j) {
        const std::size_t e = static_cast<std::size_t>(i * o.ldc + j);
        if (j < t.n) ASSERT_NEAR(got[e], want[e], tol) << t.m << "x" << t.n << "x" << t.k << " ta " << t.ta << " tb " << t.tb;
        else ASSERT_EQ(got[e], o.c[e]) << "stride padding written at row " << i;
      }
  }
}

TEST(Gemm, WrapperMatchesDoubleReference) {
  for (const Case& t : kCases) {
    Operands o = make_operands(t, 9);
    const std::vector<double> want = reference(t, o, 1.0, 1.0);
    cpu::gemm<float>(t.ta, t.tb, t.m, t.n, t.k, 1.0f, o.a.data(), o.lda, o.b.data(), o.ldb, 1.0f, o.c.data(), o.ldc);
    const double tol = 4.0 * double(t.k + 2) * std::ldexp(1.0, -24);
    for (std::int64_t i = 0; i < t.m; ++i)
      for (std::int64_t j = 0; j < t.n; ++j) ASSERT_NEAR(o.c[i * o.ldc + j], want[i * o.ldc + j], tol);
  }
}

TEST(Gemm, TiledResultDoesNotDependOnTheThreadCount) {
  const Case t{1000, 600, 50, false, true};
  const Operands o = make_operands(t, 3);
  auto compute = [&](Context&) { return run_tiled(t, o, 1.0f, 0.0f); };
  EXPECT_EQ(with_threads<std::vector<float>>(1, compute), with_threads<std::vector<float>>(2, compute));
}

}  // namespace
}  // namespace ucluster::test
