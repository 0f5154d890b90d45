// CPU body of the edge_attention family (kernels/edge_attention.h): the fused edge layer of a GAP
// block and its two consumers, on raw pointers (kernels/edge_attention_math.h's argument structs).
// Templates for float and double. Work is parallel over the jets; every sum over edges is taken per
// jet in double and then over the jets in order, so the bits do not depend on the thread count.
// The indices are assumed valid (kernels/edge_attention.cpp checks them).
#pragma once

#include <cstdint>

#include "kernels/edge_attention_math.h"
#include "kernels/replica_sum.h"

namespace ucluster::cpu {

// args.mean, var, gamma, beta are not read. With sync: [sum e (C), rows], then [sum (e - mean)^2 (C)];
// throws when no replica has an edge.
template <typename T>
void edge_batch_statistics(const EdgeLayerArgs<T>& args, T* batch_mean, T* batch_var, const ReplicaSum& sync);

template <typename T>
void edge_layer_forward(const EdgeLayerArgs<T>& args, T* y);

// w_bias may be nullptr.
template <typename T>
void edge_score_forward(const EdgeLayerArgs<T>& args, const T* w, const T* w_bias, T* score);
// dw, dw_bias may be nullptr. With grads.batch_statistics and sync: one call on [S1 (C), S2 (C), rows].
template <typename T>
void edge_score_backward(const EdgeLayerArgs<T>& args, const EdgeLayerGradArgs<T>& grads, const T* w,
                         const T* dscore, T* dw, T* dw_bias, const ReplicaSum& sync);

// out_bias may be nullptr.
template <typename T>
void edge_aggregate_forward(const EdgeLayerArgs<T>& args, const T* alpha, const T* out_bias, T* o, T* g);
// dout, dg, dalpha, dout_bias may be nullptr. Same sync call as edge_score_backward.
template <typename T>
void edge_aggregate_backward(const EdgeLayerArgs<T>& args, const EdgeLayerGradArgs<T>& grads, const T* alpha,
                             const T* g, const T* dout, const T* dg, T* dalpha, T* dout_bias, const ReplicaSum& sync);

}  // namespace ucluster::cpu
