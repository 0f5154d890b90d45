// evaluate's event path (the anomaly-detection model, ucluster-ad-spec.md 3.2): per-event outputs
// and the per-cluster signal report.
#pragma once

#include <cstdint>
#include <string>

#include "engine/context.h"
#include "engine/param_store.h"
#include "model/ucluster_model.h"
#include "train/config.h"

namespace ucluster {

struct EventEvaluation {
  std::string checkpoint, data, out;
  std::int64_t batch = 1024;
  int epoch = 0;
  double inverse_temperature = 0;
  bool joint = false;
  std::uint64_t seed = 1;  // of the report's random-cluster draw
};

// Runs the model on every event of a prepared event file, writes the per-event outputs atomically
// and prints the JSON summary (with the report) on stdout and the report's table on stderr.
int evaluate_events(Context& ctx, const model::UClusterModel& model, const ParamStore& store,
                    const TrainConfig& config, const EventEvaluation& e);

}  // namespace ucluster
