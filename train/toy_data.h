// The main job's built-in data: with no files given, `train` makes toy W/Z/top jets with the toy
// generator (raw HLS4ML layout, io/toy_files.h) and prepares them with prepare-data's logic
// (80/20 train/test split, spec 1.7), inside the run's output directory. A stamp file records the
// generator settings, so a second run (or a resume) with the same settings reuses the files.
#pragma once

#include <functional>
#include <string>

#include "train/config.h"

namespace ucluster {

struct PreparedFiles {
  std::string train_file, test_file;
};

PreparedFiles prepare_toy_data(const TrainConfig& config, const std::function<void(const std::string&)>& log);

}  // namespace ucluster
