// make-toy-jets' logic: toy jets (io/toy/generator.h) written as raw HLS4ML files
// (DIR/train/jetImage_<k>_<P>p_<first>_<last>.h5 and optionally DIR/val/...), plus the per-class
// summary (jet-mass peak and width, constituent counts) used to tune and report the generator.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/toy/generator.h"

namespace ucluster::toy {

struct ToyFilesOptions {
  std::string out_dir = "toy_jets";
  std::int64_t jets = 100000;  // into out_dir/train
  std::int64_t val_jets = 0;   // into out_dir/val (an independent stream of the same seed)
  std::uint64_t seed = 1;
  std::int64_t per_file = 10000;
  int particles = 100;
  std::vector<JetClass> classes = {JetClass::W, JetClass::Z, JetClass::Top};
  int threads = 1;
  int gzip_level = 4;
  bool images = false;
  bool overwrite = false;  // replace existing jetImage_*.h5 files in the target directories
  GeneratorConfig config;
  std::function<void(const std::string&)> log;
};

struct ClassSummary {
  std::string name;
  std::int64_t jets = 0;
  double mass_mean = 0, mass_std = 0;  // over all jets of the class
  double mass_median = 0, mass_p16 = 0, mass_p84 = 0;
  double frac_below_60 = 0;          // low-mass tail
  double multiplicity_mean = 0;      // constituents per jet (all)
  double multiplicity_p5 = 0, multiplicity_p95 = 0;
};

struct ToyFilesResult {
  std::vector<std::string> files;
  std::vector<ClassSummary> classes;
  double multiplicity_mean = 0;  // all classes
  double seconds = 0;
  std::string summary_json() const;
};

// Accumulates the summary from `jets` rows (59 columns each).
class ToySummary {
 public:
  void add(const double* jet_rows, std::int64_t n);
  void fill(ToyFilesResult& r) const;

 private:
  std::vector<double> mass_[5], mult_[5];
};

ToyFilesResult write_toy_files(const ToyFilesOptions& options);

// Parses "W,Z,top" (also g, q, t); throws on an unknown name.
std::vector<JetClass> parse_classes(const std::string& list);

}  // namespace ucluster::toy
