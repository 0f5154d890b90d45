// make-toy-jets: toy W/Z/top jets in the raw HLS4ML layout (shared/design/data-format.md
// section 4). See io/toy_files.h and io/toy/generator.h.
#include <iostream>

#include "cli/cli.h"
#include "io/h5.h"
#include "io/toy_files.h"

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
  using namespace ucluster;
  toy::ToyFilesOptions o;
  bool stats = false, quiet = false;
  const std::int64_t max_jets = INT64_C(1) << 40;
  const auto option = [&](cli::Arguments& args) {
    if (args.is("--jets")) o.jets = args.integer(1, max_jets);
    else if (args.is("--val-jets")) o.val_jets = args.integer(0, max_jets);
    else if (args.is("--out")) o.out_dir = args.value();
    else if (args.is("--seed")) o.seed = args.u64();
    else if (args.is("--per-file")) o.per_file = args.integer(1, max_jets);
    else if (args.is("--particles")) o.particles = static_cast<int>(args.integer(1, 10000));
    else if (args.is("--classes")) o.classes = toy::parse_classes(args.value());
    else if (args.is("--threads")) o.threads = static_cast<int>(args.integer(1, 1024));
    else if (args.is("--gzip")) o.gzip_level = static_cast<int>(args.integer(0, 9));
    else if (args.is("--images")) o.images = true;
    else if (args.is("--overwrite")) o.overwrite = true;
    else if (args.is("--stats")) stats = true;
    else if (args.is("--quiet")) quiet = true;
    else args.unknown();
  };
  return cli::tool_main("make-toy-jets", kUsage, argc, argv, option, [&] {
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
