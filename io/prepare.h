// prepare-data's logic: raw HLS4ML files (or files already in the UCluster layout) -> one
// UCluster-layout file per split (spec section 1; data-format.md section 2).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ucluster::jets {

struct PrepareOptions {
  std::vector<std::string> inputs;  // files or directories (every *.h5 inside, sorted by name)
  std::string out_dir = ".";
  std::string tag = "multi_20v_100P";  // outputs: train_<tag>.h5, test_<tag>.h5 or eval_<tag>.h5
  double train_fraction = 0.8;         // spec 1.7: first int(0.8 N) selected jets -> train
  bool eval = false;                   // one output (eval_<tag>.h5) with every selected jet
  bool shuffle = false;                // seeded shuffle of the selected jets before the split
  std::uint64_t seed = 0;
  std::int64_t chunk_rows = 256;
  int gzip_level = 0;
  std::function<void(const std::string&)> log;  // progress lines (may be empty)
};

struct PrepareResult {
  std::vector<std::string> outputs;
  std::vector<std::int64_t> rows;  // per output
  std::int64_t scanned = 0;        // jets read
  std::int64_t selected = 0;       // jets kept by the selection
};

// Directories -> their *.h5 files (sorted, hidden ones left out); files kept as given. Files in a
// directory that are one of `outputs` are left out (listed in *skipped); throws for a missing
// path, a directory with no input file, an input given as a file that is one of `outputs`, and
// the same file given twice (under any names).
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs,
                                       const std::vector<std::string>& outputs = {},
                                       std::vector<std::string>* skipped = nullptr);

// Runs the whole preparation. Every input is checked before any output is created where
// possible (layout, names, labels, selection and split sizes); later problems (a bad value
// inside the constituent lists) remove the partial outputs. Outputs appear only when complete.
PrepareResult prepare_data(const PrepareOptions& options);

}  // namespace ucluster::jets
