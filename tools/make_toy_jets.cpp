// make-toy-jets: toy W/Z/top jets in the raw HLS4ML layout (shared/design/data-format.md
// section 4). See io/toy_files.h and io/toy/generator.h.
#include <iostream>

#include "io/h5.h"
#include "io/toy_files.h"
#include "tools/cli.h"

namespace {

const char* kUsage = R"(usage: make-toy-jets [options]

Generates toy jets (boosted W, Z and top at pT ~ 1 TeV: resonance decay, angular-ordered shower,
independent fragmentation, a parametric CMS-like detector, anti-kT R = 0.8) and writes them in
exactly the raw HLS4ML layout (jetConstituentList [N,P,16] and jets [N,59] float64, the name
lists as variable-length strings, gzip-chunked), as OUT/train/jetImage_<k>_<P>p_<a>_<b>.h5 and,
with --val-jets, OUT/val/... The same seed gives the same bytes, whatever --threads.

options:
  --jets N          jets in OUT/train (default: 100000)
  --val-jets N      jets in OUT/val (default: 0)
  --out DIR         output directory (default: toy_jets)
  --seed S          random seed (default: 1)
  --per-file N      jets per file (default: 10000, as the real files)
  --particles P     constituents stored per jet (default: 100)
  --classes LIST    comma-separated classes among g, q, W, Z, top (default: W,Z,top)
  --threads T       generator threads (default: 1)
  --gzip LEVEL      deflate level 0..9 (default: 4)
  --images          also write jetImage, jetImageECAL, jetImageHCAL (slow, large)
  --overwrite       replace jetImage_*.h5 files already in OUT/train or OUT/val
  --stats           print the per-class jet-mass and multiplicity summary (JSON) on stdout
  --quiet           no progress lines
  --help            this text

example:
  make-toy-jets --jets 100000 --out data/toy
  prepare-data --out data/prepared data/toy/train
)";

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  return ucluster::cli::guarded_main("make-toy-jets", [&] {
    using namespace ucluster;
    toy::ToyFilesOptions o;
    bool stats = false, quiet = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      } else if (a == "--jets") {
        o.jets = cli::to_int(a, cli::value(argc, argv, i), 1, INT64_C(1) << 40);
      } else if (a == "--val-jets") {
        o.val_jets = cli::to_int(a, cli::value(argc, argv, i), 0, INT64_C(1) << 40);
      } else if (a == "--out") {
        o.out_dir = cli::value(argc, argv, i);
      } else if (a == "--seed") {
        o.seed = cli::to_u64(a, cli::value(argc, argv, i));
      } else if (a == "--per-file") {
        o.per_file = cli::to_int(a, cli::value(argc, argv, i), 1, INT64_C(1) << 40);
      } else if (a == "--particles") {
        o.particles = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 1, 10000));
      } else if (a == "--classes") {
        o.classes = toy::parse_classes(cli::value(argc, argv, i));
      } else if (a == "--threads") {
        o.threads = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 1, 1024));
      } else if (a == "--gzip") {
        o.gzip_level = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 0, 9));
      } else if (a == "--images") {
        o.images = true;
      } else if (a == "--overwrite") {
        o.overwrite = true;
      } else if (a == "--stats") {
        stats = true;
      } else if (a == "--quiet") {
        quiet = true;
      } else {
        fail("unknown argument '", a, "' (see --help)");
      }
    }
    if (!quiet) o.log = [](const std::string& s) { std::cerr << "make-toy-jets: " << s << "\n"; };
    const auto r = toy::write_toy_files(o);
    if (!quiet) {
      std::cerr << "make-toy-jets: " << o.jets + o.val_jets << " jets in " << r.files.size() << " file(s), "
                << r.seconds << " s\n";
    }
    if (stats) std::cout << r.summary_json() << "\n";
    return 0;
  });
}
