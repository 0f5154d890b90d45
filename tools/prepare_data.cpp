// prepare-data: raw HLS4ML jet files (or UCluster-layout files) -> UCluster-layout train/test
// (or eval) files (--task jets, io/prepare.h, shared/design/ucluster-spec.md section 1); or one
// LHCO R&D event file -> prepared train/test/eval event files (--task lhco, io/lhco_prepare.h,
// shared/design/ucluster-ad-spec.md section 1, docs/anomaly-data.md).
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "io/h5.h"
#include "io/lhco_prepare.h"
#include "io/prepare.h"

namespace {

const char* kUsage = R"(usage: prepare-data [--task jets] [options] INPUT...
       prepare-data --task lhco [options] INPUT

--task jets (default): turns raw HLS4ML jet files (jetConstituentList/jets, e.g. the Zenodo
3602254 archives or the output of make-toy-jets) into the UCluster layout: data [N,P,8] float32,
label [N,3] one-hot (W, Z, top), pid [N] mass-bin index, masses [N], global [N,4]. Keeps W, Z
and top jets with 10 < j_mass < 200 GeV. INPUT is a file or a directory (every *.h5 inside,
sorted by name). Files already in the UCluster layout are accepted too (their pid is recomputed
from masses). Writes OUT/train_TAG.h5 (first 80 % of the selected jets) and OUT/test_TAG.h5 (the
rest), or OUT/eval_TAG.h5 (all of them) with --eval.

--task lhco: turns one LHC Olympics 2020 R&D event file (pandas fixed frame, 700 x (pT, eta, phi)
+ the label; e.g. events_anomalydetection.h5 or the output of make-toy-events) into prepared event
files OUT/train_TAG.h5, OUT/test_TAG.h5, OUT/eval_TAG.h5: anti-kT (genkt p = -1) R = 1.0 jets with
pT > 20 GeV, the two heaviest with m >= 10 GeV (events without two are dropped), their
constituents cut or padded to 100 particles x 7 features, the per-particle jet-mass class (21),
the globals [ln m_J1, tau21(J1), ln m_J2, tau21(J2)], m_jj, the truth and the source row. Signal
rows are kept with probability --inject (a seeded hash of the row); background is always kept.
The pipeline summary (drops, signal, the spec 5.4 checks) is printed on stdout and stored in each
file's 'prepare' attribute. See docs/anomaly-data.md.

Outputs appear only when complete; the same input and options give the same bytes.

options (both tasks):
  --out DIR              output directory (default: .)
  --chunk ROWS           rows per HDF5 chunk (default: 256)
  --gzip LEVEL           deflate level 0..9 (default: 0; the training loader reads
                         uncompressed files several times faster)
  --tag TAG              output name tag (default: multi_20v_100P for jets, RD_100P_2NJET
                         for lhco)
  --quiet                no progress lines
  --help                 this text

options (--task jets):
  --train-fraction F     share of the selected jets in the train file (default: 0.8)
  --eval                 write one eval file with every selected jet (for the val archive)
  --shuffle SEED         shuffle the selected jets with this seed before splitting
                         (default: input order, as the reference)

options (--task lhco):
  --inject F             share of the signal rows kept, 0..1 (default: 0.1, as the original)
  --seed S               seed of the signal injection (default: 1)
  --train-rows A:B       raw rows A..B-1 for train; likewise --test-rows, --eval-rows. Default:
                         [0,400000) [400001,550000) [650001,990001) for files of >= 990001
                         rows (the original's production ranges), else 0-40 %, 40-55 %, 65-99 %
  --test-rows A:B
  --eval-rows A:B
  --dphi MODE            wrapped (default: delta-phi wrapped to (-pi, pi]) | unwrapped (the
                         original, spec Q6); for features 1 and 6 and tau21
  --constituent-order O  pt (default: each jet's constituents by descending pT) | history (the
                         original: FastJet's clustering-history order, spec Q7)
  --unlabelled           accept a black-box file (2100 columns): is_signal = 0, no injection

examples:
  prepare-data --out data/prepared data/toy/train      (after make-toy-jets --out data/toy)
  prepare-data --out data/prepared --eval hls4ml/val   (the real data's val archive)
  make-toy-events --events 20000 --out toy_rnd.h5
  prepare-data --task lhco --out data/ad toy_rnd.h5
  prepare-data --task lhco --out data/ad --dphi unwrapped --constituent-order history \
      events_anomalydetection.h5                       (the original's preprocessing)
)";

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  using namespace ucluster;
  jets::PrepareOptions o;
  lhco::LhcoPrepareOptions l;
  std::string task = "jets";
  bool quiet = false;
  std::set<std::string> jet_only, lhco_only;  // the task-specific options given
  const auto option = [&](cli::Arguments& args) {
    if (args.is("--task")) {
      task = args.value();
    } else if (args.is("--out")) {
      o.out_dir = l.out_dir = args.value();
    } else if (args.is("--chunk")) {
      o.chunk_rows = l.chunk_rows = args.integer(1, 1 << 20);
    } else if (args.is("--gzip")) {
      o.gzip_level = l.gzip_level = static_cast<int>(args.integer(0, 9));
    } else if (args.is("--tag")) {
      o.tag = l.tag = args.value();
    } else if (args.is("--quiet")) {
      quiet = true;
    } else if (args.is("--train-fraction")) {
      o.train_fraction = args.number(0.0, 1.0);
      jet_only.insert(args.flag());
    } else if (args.is("--eval")) {
      o.eval = true;
      jet_only.insert(args.flag());
    } else if (args.is("--shuffle")) {
      o.shuffle = true;
      o.seed = args.u64();
      jet_only.insert(args.flag());
    } else if (args.is("--inject")) {
      l.inject = args.number(0.0, 1.0);
      lhco_only.insert(args.flag());
    } else if (args.is("--seed")) {
      l.seed = args.u64();
      lhco_only.insert(args.flag());
    } else if (args.is("--train-rows") || args.is("--test-rows") || args.is("--eval-rows")) {
      const int s = args.is("--train-rows") ? 0 : args.is("--test-rows") ? 1 : 2;
      const std::string flag = args.flag();
      l.rows[s] = lhco::parse_row_range(flag, args.value());
      lhco_only.insert(flag);
    } else if (args.is("--dphi")) {
      l.event.dphi = lhco::parse_dphi(args.flag(), args.value());
      lhco_only.insert(args.flag());
    } else if (args.is("--constituent-order")) {
      l.event.order = lhco::parse_constituent_order(args.flag(), args.value());
      lhco_only.insert(args.flag());
    } else if (args.is("--unlabelled")) {
      l.unlabelled = true;
      lhco_only.insert(args.flag());
    } else {
      args.positional_or_fail(o.inputs);
    }
  };
  return cli::tool_main("prepare-data", kUsage, argc, argv, option, [&] {
    UCLUSTER_CHECK(task == "jets" || task == "lhco", "option --task: '", task, "' is not one of jets, lhco");
    const auto log = [](const std::string& s) { std::cerr << "prepare-data: " << s << "\n"; };
    if (task == "lhco") {
      UCLUSTER_CHECK(jet_only.empty(), "option ", *jet_only.begin(), " is for --task jets, not --task lhco");
      UCLUSTER_CHECK(o.inputs.size() == 1, "--task lhco takes exactly one input file (the LHCO R&D events), got ",
                     o.inputs.size(), " (see --help)");
      l.input = o.inputs.front();
      if (!quiet) l.log = log;
      const auto r = lhco::prepare_lhco(l);
      for (const auto& s : r.splits) std::cout << s.text();
      return 0;
    }
    UCLUSTER_CHECK(lhco_only.empty(), "option ", *lhco_only.begin(), " is for --task lhco, not --task jets");
    UCLUSTER_CHECK(!o.inputs.empty(), "no input files or directories given (see --help)");
    if (!quiet) o.log = log;
    const auto r = jets::prepare_data(o);
    if (!quiet) {
      std::cerr << "prepare-data: " << r.selected << " of " << r.scanned << " jets selected\n";
    }
    return 0;
  });
}
