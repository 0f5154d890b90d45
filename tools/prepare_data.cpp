// prepare-data: raw HLS4ML jet files (or UCluster-layout files) -> UCluster-layout train/test
// (or eval) files. See io/prepare.h and shared/design/ucluster-spec.md section 1.
#include <iostream>

#include "cli/cli.h"
#include "io/h5.h"
#include "io/prepare.h"

namespace {

const char* kUsage = R"(usage: prepare-data [options] INPUT...

Turns raw HLS4ML jet files (jetConstituentList/jets, e.g. the Zenodo 3602254 archives or the
output of make-toy-jets) into the UCluster layout: data [N,P,8] float32, label [N,3] one-hot
(W, Z, top), pid [N] mass-bin index, masses [N], global [N,4]. Keeps W, Z and top jets with
10 < j_mass < 200 GeV. INPUT is a file or a directory (every *.h5 inside, sorted by name).
Files already in the UCluster layout are accepted too (their pid is recomputed from masses).

Writes OUT/train_TAG.h5 (first 80 % of the selected jets) and OUT/test_TAG.h5 (the rest), or
OUT/eval_TAG.h5 (all of them) with --eval. Outputs appear only when complete.

options:
  --out DIR              output directory (default: .)
  --train-fraction F     share of the selected jets in the train file (default: 0.8)
  --eval                 write one eval file with every selected jet (for the val archive)
  --shuffle SEED         shuffle the selected jets with this seed before splitting
                         (default: input order, as the reference)
  --chunk ROWS           jets per HDF5 chunk (default: 256)
  --gzip LEVEL           deflate level 0..9 (default: 0; the training loader reads
                         uncompressed files several times faster)
  --tag TAG              output name tag (default: multi_20v_100P)
  --quiet                no progress lines
  --help                 this text

examples:
  prepare-data --out data/prepared data/toy/train      (after make-toy-jets --out data/toy)
  prepare-data --out data/prepared --eval hls4ml/val   (the real data's val archive)
)";

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  using namespace ucluster;
  jets::PrepareOptions o;
  bool quiet = false;
  const auto option = [&](cli::Arguments& args) {
    if (args.is("--out")) {
      o.out_dir = args.value();
    } else if (args.is("--train-fraction")) {
      o.train_fraction = args.number(0.0, 1.0);
    } else if (args.is("--eval")) {
      o.eval = true;
    } else if (args.is("--shuffle")) {
      o.shuffle = true;
      o.seed = args.u64();
    } else if (args.is("--chunk")) {
      o.chunk_rows = args.integer(1, 1 << 20);
    } else if (args.is("--gzip")) {
      o.gzip_level = static_cast<int>(args.integer(0, 9));
    } else if (args.is("--tag")) {
      o.tag = args.value();
    } else if (args.is("--quiet")) {
      quiet = true;
    } else {
      args.positional_or_fail(o.inputs);
    }
  };
  return cli::tool_main("prepare-data", kUsage, argc, argv, option, [&] {
    UCLUSTER_CHECK(!o.inputs.empty(), "no input files or directories given (see --help)");
    if (!quiet) o.log = [](const std::string& s) { std::cerr << "prepare-data: " << s << "\n"; };
    const auto r = jets::prepare_data(o);
    if (!quiet) {
      std::cerr << "prepare-data: " << r.selected << " of " << r.scanned << " jets selected\n";
    }
    return 0;
  });
}
