// What one rank of a training run opens before its Trainer, the same for `train` and the
// distributed benchmark: its context (the device from the node-local rank, the seed from the
// configured seed and the rank, the configured threads), the communicator for its device buffers,
// and its shards of the training and test data.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/context.h"
#include "io/loader.h"
#include "train/communicator.h"
#include "train/config.h"
#include "train/toy_data.h"

namespace ucluster {

struct RankSetup {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<Communicator> device_comm;  // NCCL over the host communicator, or none
  Communicator* comm = nullptr;               // device_comm, else the host communicator
  PreparedFiles files;                        // the data files both loaders read
  std::unique_ptr<Loader> train, test;        // this rank's shards
};

// Opens all of the above on every rank alike (a failure on one rank ends every rank). Without data
// files in the configuration, rank 0 makes the toy data (train/toy_data.h) and every rank reads it.
// The training loader gives floor(N / B) batches per epoch (spec 1.7), shuffled when
// config.shuffle is set (seeded with config.seed); the test loader gives every jet in file order.
RankSetup open_rank(Communicator& host, const TrainConfig& config, const std::function<void(const std::string&)>& log);

}  // namespace ucluster
