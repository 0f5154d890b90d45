// make-toy-events: stand-in LHCO R&D event files (ucluster-ad-spec.md 5.3) in exactly the R&D
// layout (spec 1.1), and the physics summary (spec 5.4) of such a file. See io/toy/events.h,
// io/lhco_file.h and docs/anomaly-standin.md.
#include <iostream>

#include "cli/cli.h"
#include "io/h5.h"
#include "io/toy_events_file.h"

namespace {

const char* kUsage = R"(usage: make-toy-events [options]
       make-toy-events --summary-of FILE [--max-events N]

Generates toy LHCO R&D events: QCD dijets and W' (3.5 TeV) -> X (500 GeV) Y (100 GeV), X, Y -> qq
(two-prong) signal (resonance decays, angular-ordered shower, independent fragmentation, a
Delphes-like parametric detector, the R&D trigger: an anti-kT R = 1.0 jet with pT > 1.2 TeV and
|eta| < 2.5). Writes the R&D layout exactly: a pandas fixed-format frame under key 'df',
df/block0_values float64 [N, 2101] = 700 particles x (pT, eta, phi), pT-descending and
zero-padded, then the label (1 = signal, 0 = background); gzip-chunked. Each event is signal
with probability --signal-fraction, so signal and background rows are interleaved. The same
seed and options give the same bytes, whatever --threads. This is a toy (spec 5.3): no
realistic soft radiation or colour flow.

options:
  --events N            events to write (default: 10000)
  --out FILE            output file (default: toy_events.h5)
  --seed S              random seed (default: 1)
  --signal-fraction F   probability that an event is signal, 0..1 (default: 0.1; the R&D file
                        has 100k of 1.1M = 0.091)
  --no-labels           write the 2100-column black-box layout (no label column)
  --threads T           generator threads (default: 1)
  --gzip LEVEL          deflate level 0..9 (default: 4)
  --overwrite           replace FILE if it exists
  --summary             after writing, read FILE back and print the physics table (Markdown,
                        spec 5.4 quantities) on stdout
  --summary-of FILE     only measure FILE (stand-in or the real R&D/black-box file): no generation
  --max-events N        with --summary-of: the first N events only (default: all)
  --quiet               no progress lines
  --help                this text

example:
  make-toy-events --events 20000 --signal-fraction 0.5 --out toy_rnd.h5 --summary
)";

}  // namespace

int main(int argc, char** argv) {
  ucluster::h5::skip_library_shutdown_at_exit();
  using namespace ucluster;
  toy::ToyEventsOptions o;
  bool summary = false, quiet = false;
  std::string summary_of;
  std::int64_t max_events = -1;
  const std::int64_t max_count = INT64_C(1) << 40;
  const auto option = [&](cli::Arguments& args) {
    if (args.is("--events")) o.events = args.integer(1, max_count);
    else if (args.is("--out")) o.out = args.value();
    else if (args.is("--seed")) o.seed = args.u64();
    else if (args.is("--signal-fraction")) o.signal_fraction = args.number(0.0, 1.0);
    else if (args.is("--no-labels")) o.labels = false;
    else if (args.is("--threads")) o.threads = static_cast<int>(args.integer(1, 1024));
    else if (args.is("--gzip")) o.gzip_level = static_cast<int>(args.integer(0, 9));
    else if (args.is("--overwrite")) o.overwrite = true;
    else if (args.is("--summary")) summary = true;
    else if (args.is("--summary-of")) summary_of = args.value();
    else if (args.is("--max-events")) max_events = args.integer(1, max_count);
    else if (args.is("--quiet")) quiet = true;
    else args.unknown();
  };
  return cli::tool_main("make-toy-events", kUsage, argc, argv, option, [&] {
    const auto log = [&](const std::string& s) {
      if (!quiet) std::cerr << "make-toy-events: " << s << "\n";
    };
    UCLUSTER_CHECK(max_events < 0 || !summary_of.empty(), "--max-events needs --summary-of FILE");
    if (!summary_of.empty()) {
      std::cout << toy::summarize_events_file(summary_of, max_events, log).table();
      return 0;
    }
    o.log = log;
    const auto r = toy::write_toy_events(o);
    log(make_message(o.out, ": ", o.events, " events (", r.signal, " signal), ", r.attempts,
                     " generated for the trigger, ", r.seconds, " s"));
    if (summary) std::cout << toy::summarize_events_file(o.out, -1, log).table();
    return 0;
  });
}
