// Shared helpers of the CUDA-vs-CPU parity suite.
//
// Every parity test runs one op on the CPU (float32, the numerical reference) and on the GPU with
// the same inputs and compares element by element against a STATED bound. The bounds follow from
// float32 rounding, with eps32 = 2^-23 (the spacing of floats at 1, twice the unit roundoff u):
//
//  * A sum of n float32 terms, in any order and with or without fused multiply-adds, is within
//    gamma_n * sum|terms| of the exact value, gamma_n = n u / (1 - n u) (Higham, Accuracy and
//    Stability of Numerical Algorithms, 2nd ed., eq. 3.5). Two such results (CPU: OpenBLAS, GPU:
//    cuBLAS) are therefore within 2 gamma_n sum|terms| <= (n + 1) eps32 sum|terms| of each other
//    for n eps32 < 1e-2. Tests compute sum|terms| per element by running the CPU op in float64 on
//    |inputs| (`magnitude`), so the bound is rigorous, not a fitted constant.
//  * Ops that compute in double and round once to float32 (batch norm, pooling, the losses) agree
//    to within one rounding of the result plus the double-precision discrepancy of two summation
//    orders; the latter is at most n eps64 sum|terms| <= 1e-11 sum|terms| for n <= 4.5e4 terms.
//    Where such a result is then accumulated into a float32 gradient (g += fl(s)), the two
//    roundings give |gpu - cpu| <= (2 eps32 + 1e-11) (|g0| + sum|terms|).
//  * Pure data movement (concat, gathers, kNN indices) and single correctly rounded operations with
//    no possible contraction into a fused multiply-add are compared bit for bit.
//
// Every bound also gets an absolute floor of FLT_MIN = 2^-126: below it float32 rounding is absolute
// (subnormals, e.g. softmax weights of far-away logits), and no tested quantity matters there.
//
// A wrong index, a missing term or a race gives errors of the order of the result itself, 1e5 to
// 1e7 times these bounds, so the bounds cannot hide a real bug. NaN or Inf never passes.
//
// Every test skips itself with GTEST_SKIP() << "no CUDA device: ..." when no device is usable, so
// the suite passes on GPU-less CI and says it was skipped.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/jet_rows.h"

namespace ucluster::parity {

constexpr double kEps32 = 0x1.0p-23;  // spacing of float32 at 1
constexpr double kEps64 = 0x1.0p-52;
// Double-precision discrepancy of two summation orders over up to 4.5e4 terms (see above).
constexpr double kDoubleOrderSlack = 1e-11;
// Absolute floor added to every bound: FLT_MIN (see above).
constexpr double kFloorAbsolute = 0x1.0p-126;

// Skips the current test when this process sees no usable CUDA device.
#define UCLUSTER_REQUIRE_CUDA()                                                        \
  do {                                                                                 \
    std::string why_not_;                                                              \
    if (::ucluster::cuda_runtime::device_count(&why_not_) == 0)                        \
      GTEST_SKIP() << "no CUDA device: " << why_not_ << " (CUDA-vs-CPU parity not run)"; \
  } while (0)

// Harness self-checks on a machine without a GPU (they say nothing about the CUDA kernels):
//   UCLUSTER_PARITY_ON_CPU=1    the CPU float32 path stands in for the GPU: every comparison is
//                               CPU vs CPU; checks shapes, poisoning, bound code and test logic.
//   UCLUSTER_PARITY_ON_CPU=f64  the CPU float64 path, rounded to float32, stands in for the GPU:
//                               an almost correctly rounded "backend" that must pass every bound,
//                               which checks the bounds are not too tight (bit-for-bit checks become
//                               1-ulp checks in this mode, as float64 arithmetic rounds once).
enum class StandIn { None, Cpu32, Cpu64 };
inline StandIn stand_in() {
  const char* v = std::getenv("UCLUSTER_PARITY_ON_CPU");
  const std::string s = v ? v : "";
  return s == "1" ? StandIn::Cpu32 : s == "f64" ? StandIn::Cpu64 : StandIn::None;
}

// Float tensor contents as float32 (a float64 stand-in result is rounded, see above).
inline std::vector<float> as_floats(Context& ctx, const Tensor& t) {
  if (t.dtype() == DType::F32) return ctx.to_vector<float>(t);
  const std::vector<double> d = ctx.to_vector<double>(t);
  return std::vector<float>(d.begin(), d.end());
}

// Fixture: a context on cuda:0 (CPU tensors live in it too), seeded per test.
class CudaParity : public ::testing::Test {
 protected:
  void SetUp() override {
    mode_ = stand_in();
    if (mode_ == StandIn::None) UCLUSTER_REQUIRE_CUDA();
    ContextOptions o;
    o.device = mode_ == StandIn::None ? "cuda" : "cpu";
    o.seed = 20240611;
    o.log = [](const std::string&) {};
    ctx_ = std::make_unique<Context>(o);
  }
  void TearDown() override { ctx_.reset(); }

  Context& ctx() { return *ctx_; }
  Device gpu_device() const { return ctx_->device(); }
  // dtype of the "GPU" side's float tensors: float32, or float64 for the f64 stand-in.
  DType gpu_float() const { return mode_ == StandIn::Cpu64 ? DType::F64 : DType::F32; }

  // Uniform float32 in [lo, hi) on the CPU.
  Tensor rand(const Shape& shape, double lo = -1.0, double hi = 1.0) {
    Tensor t = ctx().empty(shape, DType::F32, Device::cpu());
    float* p = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(ctx().rng().uniform(lo, hi));
    return t;
  }
  // Standard-normal float32 times `scale`, on the CPU (for inputs with realistic spread).
  Tensor randn(const Shape& shape, double scale = 1.0) {
    Tensor t = ctx().empty(shape, DType::F32, Device::cpu());
    float* p = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(scale * ctx().rng().normal());
    return t;
  }
  // Jets like the HLS4ML inputs (spec 1.3/1.4), float32 [B, N, F >= 3]: features 0, 1 =
  // (delta-eta, delta-phi), feature 2 = log(pT/pT_jet) < 0 for real particles; padded particles
  // (index >= real[b % real.size()]) are all-zero rows.
  Tensor jets(std::int64_t B, std::int64_t N, std::int64_t F, const std::vector<std::int64_t>& real) {
    Tensor x = randn({B, N, F}, 0.3);
    float* p = x.data<float>();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < N; ++i) {
        float* row = p + (b * N + i) * F;
        if (i >= real[b % real.size()]) {
          for (std::int64_t f = 0; f < F; ++f) row[f] = 0.0f;
        } else {
          row[2] = -std::abs(row[2]) - 0.01f;
        }
      }
    return x;
  }
  // Packed-row layouts (engine/jet_rows.h) of B jets with real[b % real.size()] real points out of
  // `slots`: for the CPU side (float32 weights) and for the GPU side (its float dtype and device).
  static std::vector<std::int32_t> real_counts(std::int64_t B, const std::vector<std::int64_t>& real) {
    std::vector<std::int32_t> r(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) r[b] = static_cast<std::int32_t>(real[b % real.size()]);
    return r;
  }
  JetRows cpu_rows(std::int64_t B, std::int64_t slots, const std::vector<std::int64_t>& real) {
    return make_jet_rows(ctx(), real_counts(B, real), slots, DType::F32, Device::cpu());
  }
  JetRows gpu_rows(std::int64_t B, std::int64_t slots, const std::vector<std::int64_t>& real) {
    return make_jet_rows(ctx(), real_counts(B, real), slots, gpu_float(), gpu_device());
  }
  // The GPU side's layout of the same jets as a CPU layout.
  JetRows gpu_rows_of(const JetRows& cpu) {
    return make_jet_rows(ctx(), cpu.host_real, cpu.slots, gpu_float(), gpu_device());
  }
  Tensor zeros_cpu(const Shape& shape, DType dtype = DType::F32) { return ctx().zeros(shape, dtype, Device::cpu()); }
  Tensor zeros_gpu(const Shape& shape, DType dtype = DType::F32) {
    return ctx().zeros(shape, dtype == DType::F32 ? gpu_float() : dtype, gpu_device());
  }
  // Output buffers are poisoned with NaN so an element the kernel forgets to write fails the test.
  Tensor poisoned_gpu(const Shape& shape) { return to_gpu(poisoned_cpu(shape)); }
  Tensor poisoned_cpu(const Shape& shape) {
    Tensor host = ctx().empty(shape, DType::F32, Device::cpu());
    float* p = host.data<float>();
    for (std::int64_t i = 0; i < host.numel(); ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
    return host;
  }
  // The same values on the GPU (float64 on the CPU for the f64 stand-in; other dtypes unchanged).
  Tensor to_gpu(const Tensor& t) {
    if (t.dtype() != DType::F32 || gpu_float() == DType::F32) return ctx().to(t, gpu_device());
    const std::vector<float> v = ctx().to_vector<float>(t);
    return ctx().from_vector<double>(t.shape(), std::vector<double>(v.begin(), v.end()), Device::cpu());
  }
  Tensor to_cpu(const Tensor& t) { return ctx().to(t, Device::cpu()); }
  // Independent copy on the CPU (Context::to always copies).
  Tensor clone_cpu(const Tensor& t) { return ctx().to(t, Device::cpu()); }

  // |t| as a float64 CPU tensor, for `magnitude` computations with the CPU op in double.
  Tensor abs64(const Tensor& t) {
    const std::vector<float> v = ctx().to_vector<float>(t);
    std::vector<double> a(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) a[i] = std::abs(double(v[i]));
    return ctx().from_vector<double>(t.shape(), a, Device::cpu());
  }
  std::vector<double> values(const Tensor& t) {
    if (t.dtype() == DType::F64) return ctx().to_vector<double>(t);
    const std::vector<float> v = ctx().to_vector<float>(t);
    return std::vector<double>(v.begin(), v.end());
  }

  StandIn mode_ = StandIn::None;
  std::unique_ptr<Context> ctx_;
};

// Fixture for comparisons only float32 can pass (bit-for-bit results, exact kNN sets): the float64
// stand-in skips them, saying why.
class Float32Parity : public CudaParity {
 protected:
  explicit Float32Parity(const char* why) : why_(why) {}
  void SetUp() override {
    CudaParity::SetUp();
    if (mode_ == StandIn::Cpu64) GTEST_SKIP() << why_ << "; f64 stand-in not applicable";
  }

 private:
  const char* why_;
};

// bound[i] = factor * kEps32 * magnitude[i] (+ slack * magnitude[i]).
inline std::vector<double> scaled(const std::vector<double>& magnitude, double factor, double slack = 0.0) {
  std::vector<double> b(magnitude.size());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = (factor * kEps32 + slack) * magnitude[i];
  return b;
}

// For a value computed in double and rounded once to float32 on each backend:
// bound[i] = 2 eps32 |cpu[i]| + kDoubleOrderSlack * magnitude[i] (see the header comment).
inline std::vector<double> rounded_once(const std::vector<double>& cpu, const std::vector<double>& magnitude) {
  std::vector<double> b(cpu.size());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 2 * kEps32 * std::abs(cpu[i]) + kDoubleOrderSlack * magnitude[i];
  return b;
}

// For a double-precision sum rounded to float32 and accumulated into a float32 gradient:
// bound[i] = (2 eps32 + kDoubleOrderSlack) * magnitude[i], magnitude = |g0| + sum|terms|.
inline std::vector<double> accumulated(const std::vector<double>& magnitude) {
  return scaled(magnitude, 2.0, kDoubleOrderSlack);
}

// For g += fl(t) with t computed in double (the losses): |t| <= |cpu| + |g0| to first order, so
// the two roundings of accumulated() are within 2 eps32 (2 |g0| + |cpu|); plus extra[i] for the
// double-precision discrepancy of the op (stated by each test).
inline std::vector<double> accumulated_into(const std::vector<double>& g0, const std::vector<double>& cpu,
                                            const std::vector<double>& extra) {
  std::vector<double> b(cpu.size());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 2 * kEps32 * (2 * std::abs(g0[i]) + std::abs(cpu[i])) + extra[i];
  return b;
}

// Element-wise a + b (combining bound terms).
inline std::vector<double> plus(std::vector<double> a, const std::vector<double>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

// |values| element-wise.
inline std::vector<double> absv(std::vector<double> v) {
  for (double& x : v) x = std::abs(x);
  return v;
}

struct Comparison {
  std::int64_t violations = 0;
  double worst_ratio = 0.0;  // max |gpu - cpu| / (bound + kFloorAbsolute); inf for a non-finite mismatch
  std::string worst;
};

// Compares gpu against cpu (both float32 tensors of the same shape, any device) element-wise with
// |gpu - cpu| <= bound[i]. Non-finite values fail unless both sides hold the same bits.
inline Comparison compare(Context& ctx, const Tensor& gpu, const Tensor& cpu, const std::vector<double>& bound) {
  const std::vector<float> g = as_floats(ctx, gpu);
  const std::vector<float> c = as_floats(ctx, cpu);
  Comparison r;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::abs(double(g[i]) - double(c[i]));
    const double b = bound[i] + kFloorAbsolute;
    const bool finite = std::isfinite(g[i]) && std::isfinite(c[i]);
    const bool ok = finite ? d <= b : std::memcmp(&g[i], &c[i], sizeof(float)) == 0;
    const double ratio = !finite ? (ok ? 0.0 : std::numeric_limits<double>::infinity()) : d / b;
    if (!ok) ++r.violations;
    if (ratio > r.worst_ratio || (!ok && r.worst.empty())) {
      r.worst_ratio = std::max(r.worst_ratio, ratio);
      std::ostringstream os;
      os.precision(9);
      os << "element " << i << ": gpu " << g[i] << ", cpu " << c[i] << ", |diff| " << d << ", bound " << b;
      r.worst = os.str();
    }
  }
  return r;
}

// Records how close a comparison came to its bound as a test property (worst |gpu - cpu| / bound),
// so the XML/JSON reports of a GPU run show the margins, not only pass/fail.
// Property names are reduced to letters, digits and '_' (they become XML attribute names).
inline void record(const std::string& key, const std::string& value) {
  std::string k;
  for (char ch : key) k += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  ::testing::Test::RecordProperty(k, value);
}

inline void record_margin(const std::string& what, const Comparison& c) {
  std::ostringstream v;
  v.precision(3);
  v << c.worst_ratio;
  record("margin_" + what, v.str());
}

// EXPECT-style: all elements within bound; the message names the quantity and the worst element.
#define UCLUSTER_EXPECT_PARITY(ctx, what, gpu, cpu, bound)                                                 \
  do {                                                                                                     \
    ASSERT_EQ((gpu).shape(), (cpu).shape()) << what;                                                      \
    const ::ucluster::parity::Comparison cmp_ = ::ucluster::parity::compare((ctx), (gpu), (cpu), (bound)); \
    std::ostringstream what_;                                                                              \
    what_ << what;                                                                                         \
    ::ucluster::parity::record_margin(what_.str(), cmp_);                                                  \
    EXPECT_EQ(cmp_.violations, 0) << what_.str() << ": " << cmp_.violations << " of " << (cpu).numel()     \
                                  << " elements outside the bound; worst " << cmp_.worst;                  \
  } while (0)

// Bitwise equality of two tensors' contents (any dtype, any devices). With the f64 stand-in, a
// float64 tensor is rounded to float32 and compared with the float32 one to within 1 ulp.
inline bool same_bits(Context& ctx, const Tensor& a, const Tensor& b, std::string* first_difference = nullptr) {
  if (a.shape() == b.shape() && a.dtype() != b.dtype() && stand_in() == StandIn::Cpu64) {
    const std::vector<float> fa = as_floats(ctx, a), fb = as_floats(ctx, b);
    for (std::size_t i = 0; i < fa.size(); ++i)
      if (fa[i] != fb[i] && std::nextafter(fa[i], fb[i]) != fb[i]) {
        if (first_difference) *first_difference = "element " + std::to_string(i) + " differs by more than 1 ulp";
        return false;
      }
    return true;
  }
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
    if (first_difference) *first_difference = "shape/dtype " + a.describe() + " vs " + b.describe();
    return false;
  }
  const Tensor ha = a.device().is_cpu() ? a : ctx.to(a, Device::cpu());
  const Tensor hb = b.device().is_cpu() ? b : ctx.to(b, Device::cpu());
  const auto* pa = static_cast<const unsigned char*>(ha.raw_data());
  const auto* pb = static_cast<const unsigned char*>(hb.raw_data());
  if (std::memcmp(pa, pb, ha.bytes()) == 0) return true;
  if (first_difference) {
    const std::size_t width = dtype_size(a.dtype());
    for (std::size_t i = 0; i < ha.bytes(); i += width)
      if (std::memcmp(pa + i, pb + i, width) != 0) {
        *first_difference = "first differing element " + std::to_string(i / width);
        break;
      }
  }
  return false;
}

#define UCLUSTER_EXPECT_SAME_BITS(ctx, what, a, b)                                    \
  do {                                                                                \
    std::string diff_;                                                                \
    EXPECT_TRUE(::ucluster::parity::same_bits((ctx), (a), (b), &diff_)) << what << ": " << diff_; \
  } while (0)

}  // namespace ucluster::parity
