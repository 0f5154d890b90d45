// TF1 AdamOptimizer update (spec 4.2) on flat buffers (ParamStore::flat_params/flat_grads and two
// moment buffers m, v of the same layout). Not differentiable: there is no Tape form.
//
// The update is TF's ApplyAdam in its own arithmetic form and order, element by element, in the
// dtype of the buffers (so float32 buffers round like TF's float32 kernel):
//   m += (g - m) * (1 - beta1)
//   v += (g*g - v) * (1 - beta2)
//   param -= (m * lr_t) / (sqrt(v) + epsilon)
// with the bias-corrected step size lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t) from adam_step_size.
//
// Frozen parameters: TF gives a variable without gradient (mu during pre-training, spec 3.3) no
// update at all, and leaves its m and v slots untouched. The segment overload updates only the
// listed element ranges; everything outside them (param, m and v) stays bit-identical.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/param_store.h"

namespace ucluster {

// TF defaults of AdamOptimizer (spec 4.2).
constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;

// A run of elements [offset, offset + count) of the flat buffers that the update touches.
struct AdamSegment {
  std::int64_t offset = 0;
  std::int64_t count = 0;
};

// lr sqrt(1 - beta2^t) / (1 - beta1^t) in double, for the t-th update (t >= 1; t = global step + 1).
// TF1 keeps beta1^t, beta2^t as float32 variables multiplied once per step; this uses std::pow in
// double (the golden data do the same: train/step1_lr_t, train/step2_lr_t are reproduced exactly).
double adam_step_size(double lr, double beta1, double beta2, std::int64_t t);

// One Adam update of every element. params, grads, m, v: same shape, dtype (float32 or float64)
// and device; m and v start at zero for a fresh optimiser.
void adam_update(Context& ctx, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                 double lr_t, double beta1, double beta2, double epsilon);
// One Adam update of the listed segments only (in element units of the flattened buffers). Segments
// must be in increasing order and must not overlap; an empty list updates nothing.
void adam_update(Context& ctx, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                 double lr_t, double beta1, double beta2, double epsilon, const std::vector<AdamSegment>& segments);

// The segments of store.flat_params() covering every parameter except the named ones (adjacent
// parameters merged into one segment). adam_segments_except(store, {"mu"}) is the pre-training
// update. Unknown names throw ucluster::Error.
std::vector<AdamSegment> adam_segments_except(const ParamStore& store, const std::vector<std::string>& frozen);

}  // namespace ucluster
