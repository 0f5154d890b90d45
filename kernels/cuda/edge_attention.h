// CUDA entry points of the edge_attention family (float32). Same contract as the tensor-level API in
// kernels/edge_attention.h, on raw device pointers (kernels/edge_attention_math.h's argument
// structs); every function enqueues on the context's stream and never synchronises with the host
// (so the inference forward can be captured into a CUDA graph). Reductions run in a fixed order
// (per-jet partial sums, then a fixed-order sum over the jets): results do not depend on scheduling.
#pragma once

#include <cstdint>

#include "kernels/edge_attention_math.h"
#include "kernels/replica_sum.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// args.mean, var, gamma, beta are not read. With sync: [sum e (C), rows] (C + 1 doubles, device
// memory), then [sum (e - mean)^2 (C)].
void edge_batch_statistics(Context& ctx, const EdgeLayerArgs<float>& args, float* batch_mean, float* batch_var,
                           const ReplicaSum& sync);
void edge_layer_forward(Context& ctx, const EdgeLayerArgs<float>& args, float* y);
// w_bias may be nullptr.
void edge_score_forward(Context& ctx, const EdgeLayerArgs<float>& args, const float* w, const float* w_bias,
                        float* score);
// dw, dw_bias may be nullptr. With grads.batch_statistics and sync: one call on [S1 (C), S2 (C), rows].
void edge_score_backward(Context& ctx, const EdgeLayerArgs<float>& args, const EdgeLayerGradArgs<float>& grads,
                         const float* w, const float* dscore, float* dw, float* dw_bias, const ReplicaSum& sync);
// out_bias may be nullptr.
void edge_aggregate_forward(Context& ctx, const EdgeLayerArgs<float>& args, const float* alpha,
                            const float* out_bias, float* o, float* g);
// dout, dg, dalpha, dout_bias may be nullptr. Same sync call as edge_score_backward.
void edge_aggregate_backward(Context& ctx, const EdgeLayerArgs<float>& args, const EdgeLayerGradArgs<float>& grads,
                             const float* alpha, const float* g, const float* dout, const float* dg, float* dalpha,
                             float* dout_bias, const ReplicaSum& sync);

}  // namespace ucluster::cuda
