// The training run's one Adam optimiser (TF1 form, spec 4.2): moment buffers laid out like the
// ParamStore's flat parameter buffer, and the global step. One object serves both phases, so the
// moments and the bias-correction step continue across the switch to joint training (spec 3.3).
#pragma once

#include <string>
#include <vector>

#include "engine/param_store.h"
#include "kernels/adam.h"

namespace ucluster {

class AdamOptimizer {
 public:
  AdamOptimizer(Context& ctx, const ParamStore& store);

  // One update with learning rate lr at global step step() (then step() + 1). Parameters named in
  // `frozen` get no update and keep their moments (TF's behaviour for a None gradient).
  void update(Context& ctx, const ParamStore& store, double lr, const std::vector<std::string>& frozen = {});

  std::int64_t step() const { return step_; }
  void set_step(std::int64_t step) { step_ = step; }
  const Tensor& m() const { return m_; }
  const Tensor& v() const { return v_; }

 private:
  Tensor m_, v_;
  std::int64_t step_ = 0;
};

}  // namespace ucluster
