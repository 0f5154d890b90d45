#include "model/losses.h"

#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/focal_loss.h"
#include "kernels/kmeans_loss.h"

namespace ucluster::model {

Losses compute_losses(Tape& tape, const ForwardOutput& forward, const Var& mu, const Tensor& targets,
                      double inverse_temperature, const LossConfig& config, bool joint) {
  Losses losses;
  losses.focal = forward.point_logits ? point_focal_loss(tape, forward.logits, targets, forward.rows, config.focal_gamma,
                                                         config.focal_alpha, config.point_reduction)
                                      : focal_loss(tape, forward.logits, targets, config.focal_gamma, config.focal_alpha);
  // In pre-training L_km is only logged: evaluate it on constants so nothing is recorded for it.
  const Var z = joint ? forward.z : make_var(forward.z->value);
  const Var centroids = joint ? mu : make_var(mu->value);
  KMeansLossResult km = kmeans_loss(tape, z, centroids, inverse_temperature);
  losses.kmeans = km.loss;
  losses.distances = km.distances;
  losses.assignment = kmeans_assign(tape.ctx(), km.distances);
  losses.total = joint ? add_scaled(tape, losses.kmeans, losses.focal, config.beta, 1.0) : losses.focal;
  return losses;
}

HostOutputs host_outputs(Context& ctx, const ForwardOutput& forward, const Losses& losses) {
  // Per-point logits (the event model) are not per-event outputs: only z and the distances are.
  return {forward.z->value.shape()[0], ctx.to_vector<float>(forward.z->value),
          forward.point_logits ? std::vector<float>() : ctx.to_vector<float>(forward.logits->value),
          ctx.to_vector<float>(losses.distances)};
}

std::int64_t HostOutputs::first_non_finite_jet() const {
  std::int64_t first = -1;
  for (const std::vector<float>* v : {&z, &logits, &distances}) {
    const auto bad = std::find_if(v->begin(), v->end(), [](float x) { return !std::isfinite(x); });
    if (bad == v->end()) continue;
    const std::int64_t width = static_cast<std::int64_t>(v->size()) / jets;
    const std::int64_t jet = static_cast<std::int64_t>(bad - v->begin()) / width;
    first = first < 0 ? jet : std::min(first, jet);
  }
  return first;
}

}  // namespace ucluster::model
