#include "train/toy_data.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/prepare.h"
#include "io/toy_files.h"

namespace ucluster {

PreparedFiles prepare_toy_data(const TrainConfig& config, const std::function<void(const std::string&)>& log) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(config.output_dir) / "toy-data";
  const fs::path raw = root / "raw", prepared = root / "prepared", stamp = root / "settings.json";
  const nlohmann::json settings = {{"toy_jets", config.toy_jets}, {"toy_seed", config.toy_seed}};
  PreparedFiles files{(prepared / "train_toy.h5").string(), (prepared / "test_toy.h5").string()};

  if (fs::exists(stamp) && fs::exists(files.train_file) && fs::exists(files.test_file)) {
    std::ifstream in(stamp);
    const nlohmann::json previous = nlohmann::json::parse(in, nullptr, false);
    if (previous == settings) {
      log("toy data: reusing " + prepared.string());
      return files;
    }
  }
  fs::remove_all(root);
  fs::create_directories(root);
  toy::ToyFilesOptions gen;
  gen.out_dir = raw.string();
  gen.jets = config.toy_jets;
  gen.seed = config.toy_seed;
  gen.threads = 1;  // the generator's output does not depend on this; one thread keeps it simple
  gen.gzip_level = 1;
  gen.log = [&](const std::string& s) { log("toy data: " + s); };
  toy::write_toy_files(gen);

  jets::PrepareOptions prep;
  prep.inputs = {(raw / "train").string()};
  prep.out_dir = prepared.string();
  prep.tag = "toy";
  prep.log = gen.log;
  jets::prepare_data(prep);
  std::ofstream(stamp) << settings.dump() << "\n";
  return files;
}

}  // namespace ucluster
