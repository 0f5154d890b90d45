// The fused edge path of a GAP block (spec 2.3): everything that runs on the
// B N k edges of the kNN graph, computed without ever storing a per-edge, per-channel tensor.
//
// The edge layer of a block is
//   e_ij = (P_i - P_{n_j(i)}) + b                 P = W_edge h [R, A] (spec 7's exact rewrite of
//                                                 W_edge (h_i - h_j); the GEMM stays on the points)
//   y_ij = ReLU(gamma x_hat_ij + beta),  x_hat_ij = (e_ij - mean) inv_std,
//   inv_std = 1 / sqrt(var + eps)                 (batch norm, spec 2.1; computed in double from var)
// with the batch statistics of e over all B N k edges (training; two-pass biased variance) or the
// moving ones (inference). y_ij is [A] per edge, 128 floats for GAP1: at batch 1024 one such tensor
// is 0.5 GB, and the unfused path writes and reads about a dozen of them a step. Here y is
// recomputed where it is needed, in fixed arithmetic so that every recomputation gives the same
// bits:  e = (P_i - P_j) + b;  x_hat = (e - mean) * inv_std;  y = max(fma(gamma, x_hat, beta), 0),
// each operation rounded in the tensor's type (float32 or float64).
//
// Its two consumers are fused with it:
//   edge_score:     s_ij = sum_c y_ij[c] w[c] + w_bias   (the neighbour-attention conv A -> 1 before
//                   its own batch norm and ReLU; output [R, k, 1] like a dense layer's)
//   edge_aggregate: o_i = sum_j alpha_ij y_ij + out_bias (before the block's ReLU) and
//                   g_i = max_j y_ij, element-wise (spec 2.3)
// so a GAP block becomes: P = dense(h), statistics, s = edge_score, c = ReLU(BN(s)) and the softmax
// with the existing small ops, then edge_aggregate.
//
// Gradients. Each consumer's backward takes the gradient of its own output, forms its share dy of
// the gradient of y on the fly and pushes it through the ReLU and the batch norm down to dP, db,
// dgamma and dbeta. In training mode that includes the derivative through the batch statistics,
// which needs the sums S1 = sum dy_hat, S2 = sum dy_hat x_hat over all edges (dy_hat = dy masked by
// the ReLU) before the per-edge de = gamma inv_std / M (M dy_hat - S1 - x_hat S2) can be formed.
// The batch-norm backward is linear in dy, so the two consumers may each do it for their own share:
// the sum of the two is the gradient of the unfused graph. TF's ReLU gradient at 0 is 0; the max's
// gradient is split equally among exactly tied maxima (spec 8 #16), as neighbour_max does.
//
// Synchronised batch norm (kernels/batch_norm.h's contract): with a non-empty sync, the
// training statistics and the backward sums run over the edges of all replicas. Calls, with the
// same sizes on the CPU and CUDA backends: edge_batch_statistics makes two ([sum e (A), rows], then
// [sum (e - mean)^2 (A)]); each backward in training mode makes one ([S1 (A), S2 (A), rows]).
// dgamma and dbeta stay local (the gradient all-reduce averages them).
//
// The indices must come from the kNN ops: on the CPU they are checked; on CUDA they are not (a
// check would cost a host synchronisation and break CUDA-graph capture).
//
// Packed rows (engine/jet_rows.h): the points are the R rows of a JetRows layout, idx holds absolute
// rows (kernels/knn.h), and each edge counts in the batch statistics as often as its row's weight
// (a padding row's k edges stand for the edges of all the jet's padded points); the backward's
// input gradient is the derivative of that weighted form (kernels/batch_norm_math.h). The edge
// count M is then k times the sum of the row weights.
//
// Shapes: projected [R, A], idx int32 [R, k], bias, gamma, beta, mean, var [A]; w [A] or [A, 1];
// w_bias [1] (may be undefined); alpha [R, k]; out_bias [A] (may be undefined).
#pragma once

#include "engine/autograd.h"
#include "engine/jet_rows.h"
#include "kernels/replica_sum.h"

namespace ucluster {

// The inputs that define y. mean and var are the statistics y is normalised with.
struct EdgeLayer {
  Tensor projected, idx, bias, gamma, beta, mean, var;
  double eps = 0;
  JetRows rows;
};

// Gradients of the edge layer's inputs; any may be undefined. batch_statistics: mean and var are
// this batch's statistics, so the gradient runs through them (training mode).
struct EdgeLayerGrads {
  Tensor dprojected, dbias, dgamma, dbeta;
  bool batch_statistics = false;
};

// batch_mean and batch_var [A] (biased) of e over every edge, accumulated in double.
void edge_batch_statistics(Context& ctx, const Tensor& projected, const Tensor& idx, const JetRows& rows,
                           const Tensor& bias, const Tensor& batch_mean, const Tensor& batch_var,
                           const ReplicaSum& sync = {});

// y [R, k, A], materialised: for captures of intermediate tensors and for tests only.
void edge_layer_forward(Context& ctx, const EdgeLayer& edge, const Tensor& y);

// score [R, k, 1] = y . w + w_bias.
void edge_score_forward(Context& ctx, const EdgeLayer& edge, const Tensor& w, const Tensor& w_bias,
                        const Tensor& score);
// Accumulates the edge layer's gradients for dy_ij = dscore_ij w, and dw += sum_edges dscore y,
// dw_bias += sum_edges dscore.
void edge_score_backward(Context& ctx, const EdgeLayer& edge, const EdgeLayerGrads& grads, const Tensor& w,
                         const Tensor& dscore, const Tensor& dw, const Tensor& dw_bias, const ReplicaSum& sync = {});

// o [R, A] = sum_j alpha_ij y_ij + out_bias, g [R, A] = max_j y_ij.
void edge_aggregate_forward(Context& ctx, const EdgeLayer& edge, const Tensor& alpha, const Tensor& out_bias,
                            const Tensor& o, const Tensor& g);
// Accumulates the edge layer's gradients for dy_ij = alpha_ij dout_i + [y_ij == g_i] dg_i / ties_i
// (either of dout, dg may be undefined), and dalpha_ij += y_ij . dout_i, dout_bias += sum_points dout.
// g must be the forward's output.
void edge_aggregate_backward(Context& ctx, const EdgeLayer& edge, const EdgeLayerGrads& grads, const Tensor& alpha,
                             const Tensor& g, const Tensor& dout, const Tensor& dg, const Tensor& dalpha,
                             const Tensor& dout_bias, const ReplicaSum& sync = {});

// Differentiable forms. The statistics are given (edge_batch_statistics' output in training mode,
// then batch_statistics = true; the moving statistics in inference mode); projected, bias, gamma
// and beta are Vars, the indices and statistics constants.
struct EdgeLayerVars {
  Var projected;
  Tensor idx;
  Var bias, gamma, beta;
  Tensor mean, var;
  double eps = 0;
  bool batch_statistics = false;
  JetRows rows;
};

Var edge_score(Tape& tape, const EdgeLayerVars& edge, const Var& w, const Var& w_bias, const ReplicaSum& sync = {});

struct EdgeAggregateResult {
  Var o, g;
};
EdgeAggregateResult edge_aggregate(Tape& tape, const EdgeLayerVars& edge, const Var& alpha, const Var& out_bias,
                                   const ReplicaSum& sync = {});

}  // namespace ucluster
