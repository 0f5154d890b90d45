// Shared helpers for the GoogleTest suite: random tensors and the double-precision
// finite-difference gradient check used by every op's test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"

namespace ucluster::test {

// A CPU context with a fixed seed and no device notice.
inline ContextOptions cpu_options(std::uint64_t seed = 7) {
  ContextOptions o;
  o.device = "cpu";
  o.seed = seed;
  return o;
}

// A CUDA context, or nullptr (the test then skips, saying so) on a machine or build without a GPU.
inline std::unique_ptr<Context> cuda_context() {
  ContextOptions o = cpu_options();
  o.device = "cuda";
  try {
    return std::make_unique<Context>(o);
  } catch (const Error&) {
    return nullptr;
  }
}

// The message of the ucluster::Error that f throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Uniform random tensor in [lo, hi) on the CPU.
inline Tensor random_tensor(Context& ctx, const Shape& shape, DType dtype = DType::F64, double lo = -1.0,
                            double hi = 1.0) {
  Tensor t = ctx.empty(shape, dtype, Device::cpu());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double v = ctx.rng().uniform(lo, hi);
    if (dtype == DType::F64) t.data<double>()[i] = v;
    else t.data<float>()[i] = static_cast<float>(v);
  }
  return t;
}

inline std::vector<double> values(Context& ctx, const Tensor& t) {
  if (t.dtype() == DType::F64) return ctx.to_vector<double>(t);
  if (t.dtype() == DType::I32) {
    auto i = ctx.to_vector<std::int32_t>(t);
    return std::vector<double>(i.begin(), i.end());
  }
  auto f = ctx.to_vector<float>(t);
  return std::vector<double>(f.begin(), f.end());
}

// Jets of 100 particle slots on the CPU: min_particles .. min_particles + spread - 1 real particles with
// features uniform in [-2, 2), then zero padding (float32 [batch, 100, 8]).
inline Tensor random_jets(Context& ctx, std::int64_t batch, Rng& rng, std::int64_t min_particles,
                          std::uint64_t spread) {
  Tensor t = ctx.zeros({batch, 100, 8}, DType::F32, Device::cpu());
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t n = min_particles + static_cast<std::int64_t>(rng.below(spread));
    for (std::int64_t i = 0; i < n; ++i)
      for (int f = 0; f < 8; ++f) t.data<float>()[(b * 100 + i) * 8 + f] = static_cast<float>(rng.uniform(-2, 2));
  }
  return t;
}

struct GradCheckReport {
  double max_error = 0.0;  // max over inputs and elements of |analytic - numeric| / max(1, |numeric|)
  std::string worst;       // "input 2, element 17: analytic ..., numeric ..."
};

// Checks the gradient of every differentiable input of `f` by central differences in double
// precision. The scalar checked is L = sum(out * R) with a fixed random R, so every output
// element contributes. Inputs must be float64 CPU tensors; `differentiable[i]` says which ones
// get a gradient (integer inputs such as indices are passed through as constants).
inline GradCheckReport gradcheck(Context& ctx, const std::vector<Tensor>& inputs,
                                 const std::vector<bool>& differentiable,
                                 const std::function<Var(Tape&, const std::vector<Var>&)>& f,
                                 double step = 1e-6) {
  auto run = [&](bool with_grad, std::vector<Var>& vars) {
    vars.clear();
    for (std::size_t i = 0; i < inputs.size(); ++i) vars.push_back(make_var(inputs[i], with_grad && differentiable[i]));
  };
  // Analytic gradient.
  Tape tape(ctx);
  std::vector<Var> vars;
  run(true, vars);
  Var out = f(tape, vars);
  Tensor weights = random_tensor(ctx, out->value.shape(), DType::F64);
  const std::vector<double> w = values(ctx, weights);
  tape.backward(out, weights);

  auto loss_at = [&]() {
    Tape t(ctx, false);
    std::vector<Var> v;
    run(false, v);
    const std::vector<double> o = values(ctx, f(t, v)->value);
    double s = 0.0;
    for (std::size_t i = 0; i < o.size(); ++i) s += o[i] * w[i];
    return s;
  };

  GradCheckReport report;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    EXPECT_TRUE(vars[i]->grad.defined()) << "input " << i << " received no gradient";
    if (!vars[i]->grad.defined()) continue;
    const std::vector<double> analytic = values(ctx, vars[i]->grad);
    double* x = inputs[i].data<double>();
    for (std::int64_t e = 0; e < inputs[i].numel(); ++e) {
      const double saved = x[e];
      x[e] = saved + step;
      const double up = loss_at();
      x[e] = saved - step;
      const double down = loss_at();
      x[e] = saved;
      const double numeric = (up - down) / (2 * step);
      const double err = std::abs(analytic[e] - numeric) / std::max(1.0, std::abs(numeric));
      if (err > report.max_error) {
        report.max_error = err;
        report.worst = "input " + std::to_string(i) + ", element " + std::to_string(e) + ": analytic " +
                       std::to_string(analytic[e]) + ", numeric " + std::to_string(numeric);
      }
    }
  }
  return report;
}

// Tolerance for gradcheck in double precision: central differences with step 1e-6 have a
// truncation error ~1e-12 and a rounding error ~1e-16/1e-6 = 1e-10 relative to the loss scale;
// 1e-6 leaves three orders of magnitude of room and still catches any wrong term.
constexpr double kGradCheckTolerance = 1e-6;

}  // namespace ucluster::test
