#include "train/optimizer.h"

#include "engine/profiling.h"

namespace ucluster {

AdamOptimizer::AdamOptimizer(Context& ctx, const ParamStore& store)
    : m_(ctx.zeros_like(store.flat_params())), v_(ctx.zeros_like(store.flat_params())) {}

void AdamOptimizer::update(Context& ctx, const ParamStore& store, double lr, const std::vector<std::string>& frozen) {
  ScopedRange range("adam");
  // TF1 counts beta powers from the first update: t = 1 at global step 0.
  const double lr_t = adam_step_size(lr, kAdamBeta1, kAdamBeta2, step_ + 1);
  if (frozen.empty())
    adam_update(ctx, store.flat_params(), store.flat_grads(), m_, v_, lr_t, kAdamBeta1, kAdamBeta2, kAdamEpsilon);
  else
    adam_update(ctx, store.flat_params(), store.flat_grads(), m_, v_, lr_t, kAdamBeta1, kAdamBeta2, kAdamEpsilon,
                adam_segments_except(store, frozen));
  ++step_;
}

}  // namespace ucluster
