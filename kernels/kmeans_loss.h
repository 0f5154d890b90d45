// Deep k-means clustering loss (spec 3.2) and the hard cluster assignment.
//   d_bj = sum_c (z_bc - mu_jc)^2,  w_bj = softmax_j(-alpha d_bj),  L = (1/B) sum_b sum_j w_bj d_bj
// z is [B, D] (the embeddings), mu is [K, D] (the centroids), alpha the inverse temperature of the
// epoch (spec 4.4). The distances d [B, K] are a second, non-differentiable output: they feed the
// hard assignment argmin_j d_bj used for the accuracy (spec 4.5) and are logged by the reference.
// Computed in double internally for float32 inputs.
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// loss (shape [1]) = L; dist [B, K] = d (may be undefined when not needed). Any finite alpha is
// accepted: the softmax is stabilised with the row min of d (row max when alpha < 0, as fed during
// pre-training, spec 4.4), so nothing overflows however large |alpha| is.
void kmeans_loss_forward(Context& ctx, const Tensor& z, const Tensor& mu, double alpha, const Tensor& loss,
                         const Tensor& dist);
// Accumulates dz += dloss[0] dL/dz and dmu += dloss[0] dL/dmu (analytic gradient of spec 3.2);
// dz or dmu may be undefined to skip it. The distances are recomputed from z and mu in double.
void kmeans_loss_backward(Context& ctx, const Tensor& z, const Tensor& mu, double alpha, const Tensor& dloss,
                          const Tensor& dz, const Tensor& dmu);

// assign[b] = argmin_j dist[b, j] (int32 [B]); ties go to the lower cluster index.
void kmeans_assign(Context& ctx, const Tensor& dist, const Tensor& assign);
// Same, into a new int32 [B] tensor on the device of dist.
Tensor kmeans_assign(Context& ctx, const Tensor& dist);

struct KMeansLossResult {
  Var loss;          // [1], differentiable with respect to z and mu
  Tensor distances;  // [B, K], a constant
};

// Differentiable form.
KMeansLossResult kmeans_loss(Tape& tape, const Var& z, const Var& mu, double alpha);

}  // namespace ucluster
