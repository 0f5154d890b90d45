// For the kernel tests that check that CPU results do not depend on the number of OpenMP threads.
#pragma once

#include <functional>
#include <vector>

#include "tests/test_support.h"

namespace ucluster::test {

// compute(ctx) on a fresh CPU context (the default seed) with `threads` threads.
template <typename R>
R with_threads(int threads, const std::function<R(Context&)>& compute) {
  ContextOptions o = cpu_options();
  o.num_threads = threads;
  Context ctx(o);
  return compute(ctx);
}

// The float32 values of tensors one after the other.
inline std::vector<float> float_values(Context& ctx, std::initializer_list<Tensor> tensors) {
  std::vector<float> all;
  for (const Tensor& t : tensors) {
    const std::vector<float> v = ctx.to_vector<float>(t);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

}  // namespace ucluster::test
