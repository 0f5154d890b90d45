// train: the UCluster training run (pre-training, k-means initialisation, joint training) on
// prepared HLS4ML-layout files, or on built-in toy jets when no data is given.
#include <iostream>

#include "engine/context.h"
#include "io/file_source.h"
#include "tools/cli.h"
#include "train/toy_data.h"
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

With neither train_file nor test_file set, toy W/Z/top jets are generated (toy_jets, toy_seed)
and prepared inside output_dir/toy-data.

examples:
  train --config configs/quickstart.json
  train --config configs/reference.json --set train_file=h5/train.h5 --set test_file=h5/test.h5
)";

}  // namespace

int main(int argc, char** argv) {
  return ucluster::cli::guarded_main("train", [&] {
    using namespace ucluster;
    std::string config_path;
    std::vector<std::string> overrides;
    bool resume = false, print_config = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--config") {
        config_path = cli::value(argc, argv, i);
      } else if (a == "--set") {
        overrides.push_back(cli::value(argc, argv, i));
      } else if (a == "--resume") {
        resume = true;
      } else if (a == "--print-config") {
        print_config = true;
      } else {
        fail("unknown argument '", a, "' (see --help)");
      }
    }
    const TrainConfig config = load_config(config_path, overrides);
    if (print_config) {
      std::cout << config.to_json().dump(2) << "\n";
      return 0;
    }
    auto log = [](const std::string& s) { std::cerr << "train: " << s << "\n"; };
    ContextOptions copts;
    copts.device = config.device;
    copts.seed = config.seed;
    copts.num_threads = config.threads;
    copts.log = log;
    Context ctx(copts);

    PreparedFiles files{config.train_file, config.test_file};
    if (config.toy_data()) files = prepare_toy_data(config, log);
    LoaderOptions train_options;
    train_options.batch_size = config.batch_size;
    train_options.shuffle = config.shuffle;
    train_options.seed = config.seed;
    train_options.drop_last = true;  // floor(N / B) batches per epoch, as the reference (spec 1.7)
    LoaderOptions test_options = train_options;
    test_options.shuffle = false;
    test_options.drop_last = false;  // every test jet counts in the global accuracy
    Trainer trainer(config, ctx, open_loader(files.train_file, train_options), open_loader(files.test_file, test_options),
                    log);
    const nlohmann::json last = trainer.run(resume);
    if (!last.is_null()) {
      nlohmann::json summary = {{"epoch", last["epoch"]},
                                {"test_accuracy_global", last["test"]["accuracy_global"]},
                                {"test_accuracy_per_batch_mean", last["test"]["accuracy_per_batch_mean"]},
                                {"test_confusion_pred_by_true", last["test"]["confusion_pred_by_true"]},
                                {"metrics", RunPaths(config.output_dir).metrics},
                                {"checkpoint", RunPaths(config.output_dir).checkpoint}};
      std::cout << summary.dump() << "\n";
    }
    return 0;
  });
}
