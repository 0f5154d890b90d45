// The UCluster objective (spec 3): focal loss on the mass-bin logits, the soft k-means clustering
// loss on the embedding z, and their combination per training phase (spec 3.3).
#pragma once

#include "engine/autograd.h"
#include "kernels/point_focal_loss.h"
#include "model/ucluster_model.h"

namespace ucluster::model {

struct LossConfig {
  double focal_gamma = 2.0;  // config B (spec 0.1); config A: 4
  double focal_alpha = 1.0;  // config B; config A: 10
  double beta = 10.0;        // weight of the clustering loss; config A: 1
  // The event model's per-particle focal loss: the mean over points (default) or the original's
  // max over points (ucluster-ad-spec.md Q11, kernels/point_focal_loss.h).
  PointFocalReduction point_reduction = PointFocalReduction::PerPoint;
};

struct Losses {
  Var focal;          // L_focal
  Var kmeans;         // L_km at the given inverse temperature
  Var total;          // L_focal in pre-training, beta * L_km + L_focal in joint training
  Tensor distances;   // [B, K] squared distances to the centroids
  Tensor assignment;  // [B] int32, argmin over the centroids
};

// targets: [B] int32 mass-bin indices; for the event model (forward.point_logits) [R] int32, one
// per packed row (pack_point_values). In pre-training (joint = false) the centroids take no part in
// the objective: `mu` gets no gradient (TF gives it None, spec 3.3).
Losses compute_losses(Tape& tape, const ForwardOutput& forward, const Var& mu, const Tensor& targets,
                      double inverse_temperature, const LossConfig& config, bool joint);

// A batch's per-jet outputs on the host, row-major: z [B, latent], logits [B, classes], distances
// [B, K]. What evaluate writes, and what is checked for non-finite values.
struct HostOutputs {
  std::int64_t jets = 0;
  std::vector<float> z, logits, distances;

  // The first jet whose latent z, logits or distances hold a NaN or an infinity, or -1 when every
  // value is finite. Extreme but finite inputs (or a damaged model) can overflow float32 inside the
  // network; what comes out of such a jet must not be passed on as a result.
  std::int64_t first_non_finite_jet() const;
};

HostOutputs host_outputs(Context& ctx, const ForwardOutput& forward, const Losses& losses);

}  // namespace ucluster::model
