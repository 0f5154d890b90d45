// Concatenation along the last (channel) axis: [..., C_0], ..., [..., C_{n-1}] -> [..., sum C_i]
// (gap_block's concat(x, o) and the 848-channel concat before `agg`, spec 2.3 / 2.4 rows 9, 18, 21).
// All inputs share rank, leading extents, dtype and device; the order of the list is the channel order.
#pragma once

#include <vector>

#include "engine/autograd.h"

namespace ucluster {

// out must have shape inputs[0].shape().with_last(sum of the inputs' last extents).
void concat_forward(Context& ctx, const std::vector<Tensor>& inputs, const Tensor& out);
// dinputs[i] += the columns of dout that came from inputs[i]; inputs only give the shapes.
// Undefined entries of dinputs are skipped; dinputs.size() must equal inputs.size().
void concat_backward(Context& ctx, const std::vector<Tensor>& inputs, const Tensor& dout,
                     const std::vector<Tensor>& dinputs);

// Differentiable form.
Var concat(Tape& tape, const std::vector<Var>& inputs);

}  // namespace ucluster
