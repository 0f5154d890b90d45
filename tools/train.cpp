// train: the UCluster training run (pre-training, k-means initialisation, joint training) on
// prepared HLS4ML-layout files, or on built-in toy jets when no data is given.
#include <iostream>

#include "cli/cli.h"
#include "io/h5.h"
#include "train/communicator.h"
#include "train/rank_setup.h"
#include "train/trainer.h"

namespace {

const char* kUsage = R"(usage: train [options]

Trains UCluster (spec: ../shared/design/ucluster-spec.md) and writes, into the configured
output_dir: metrics.jsonl (one JSON line per epoch: losses, both clustering accuracies, learning
rate, inverse temperature, centroids, throughput) and checkpoint.h5 (the latest state; --resume
continues from it exactly).

options:
  --config FILE      JSON configuration (see configs/*.json; every key is optional)
  --set KEY=VALUE    override one configuration key (repeatable), e.g. --set epochs=5
  --resume           continue from output_dir/checkpoint.h5
  --print-config     print the resolved configuration as JSON and exit
  --help             this text

Data parallel on R ranks: `mpirun -np R train ...` (one rank per GPU; CPU ranks work too).
batch_size is the batch of one step over all ranks unless batch_split = "per_rank"; each rank
reads only its shard of the files; only rank 0 writes files and logs. See README, "Distributed".

With neither train_file nor test_file set, toy W/Z/top jets are generated (toy_jets, toy_seed)
and prepared inside output_dir/toy-data.

examples:
  train --config configs/quickstart.json
  train --config configs/reference.json --set train_file=h5/train.h5 --set test_file=h5/test.h5
  mpirun -np 2 train --config configs/quickstart.json
)";

using namespace ucluster;

// Every rank runs the same configuration: compared by hash at start-up.
void check_same_configuration(Communicator& comm, const TrainConfig& config, bool resume) {
  const std::string mine = std::to_string(fnv1a(config.to_json().dump() + (resume ? " --resume" : "")));
  const std::vector<std::string> all = comm.all_gather(mine, "configuration check");
  std::string differing;
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (!differing.empty())
    throw AgreedError(make_message("ranks started with different configurations: rank(s) ", differing,
                                   " differ from rank 0 (configuration hash); start every rank with the same "
                                   "--config, --set and --resume options"));
}

nlohmann::json train(Communicator& host, const TrainConfig& config, bool resume) {
  const bool root = host.rank() == 0;
  auto log = [root](const std::string& s) {
    if (root) std::cerr << "train: " << s << "\n";
  };
  check_same_configuration(host, config, resume);
  RankSetup rank = open_rank(host, config, log);
  Trainer trainer(config, *rank.ctx, *rank.comm, std::move(rank.train), std::move(rank.test), log);
  return trainer.run(resume);
}

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  std::string config_path;
  std::vector<std::string> overrides;
  bool resume = false, print_config = false, help = false;
  TrainConfig config;
  // Command line and configuration: read alike by every rank before any communication, so a bad
  // one ends every rank with the same message.
  const int parsed = cli::guarded_main("train", [&] {
    cli::Arguments args(argc, argv);
    while (args.next()) {
      if (args.is("--config")) config_path = args.value();
      else if (args.is("--set")) overrides.push_back(args.value());
      else if (args.is("--resume")) resume = true;
      else if (args.is("--print-config")) print_config = true;
      else args.unknown();
    }
    if (args.help()) {
      std::cout << kUsage;
      help = true;
      return 0;
    }
    config = load_config(config_path, overrides);
    if (print_config) std::cout << config.to_json().dump(2) << "\n";
    return 0;
  });
  if (parsed != 0 || print_config || help) return parsed;

  std::unique_ptr<Communicator> comm;
  const int started = cli::guarded_main("train", [&] {
    comm = start_communicator(config.collectives, config.timeout_s);
    return 0;
  });
  if (started != 0) return started;
  const std::string who = comm->size() > 1 ? make_message("train (rank ", comm->rank(), " of ", comm->size(), ")")
                                           : std::string("train");
  try {
    const nlohmann::json last = train(*comm, config, resume);
    if (!last.is_null() && comm->rank() == 0) {
      nlohmann::json summary = {{"epoch", last["epoch"]},
                                {"test_accuracy_global", last["test"]["accuracy_global"]},
                                {"test_accuracy_per_batch_mean", last["test"]["accuracy_per_batch_mean"]},
                                {"test_confusion_pred_by_true", last["test"]["confusion_pred_by_true"]},
                                {"ranks", comm->size()},
                                {"metrics", RunPaths(config.output_dir).metrics},
                                {"checkpoint", RunPaths(config.output_dir).checkpoint}};
      std::cout << summary.dump() << "\n";
    }
    return 0;
  } catch (const AgreedError& e) {
    // Every rank saw this error: each says so and exits cleanly.
    std::cerr << who << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // This rank alone failed: the others would wait for it in their next collective.
    std::cerr << who << ": error: " << e.what() << "\n";
    if (comm->size() > 1) {
      std::cerr << who << ": ending the job on every rank\n";
      comm->abort(1);
    }
    return 1;
  }
}

