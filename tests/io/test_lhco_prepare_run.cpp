// prepare-data --task lhco on files: end to end on make-toy-events files (counts, shapes, every
// kept and dropped row re-derived, signal classes, byte-for-byte determinism), the errors (a
// black-box file, a split that keeps nothing, non-contiguous particles) with no output left
// behind, and the command line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "io/event_file.h"
#include "io/lhco_file.h"
#include "io/lhco_prepare.h"
#include "io/toy_events_file.h"

namespace ucluster::lhco {
namespace {

using test::TempDir;
using test::error_of;
using test::expect_parts;
namespace fs = std::filesystem;
constexpr int P = events::kEventParticles, F = events::kEventFeatures, G = events::kEventGlobals;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string toy_file(const TempDir& dir, const std::string& name, std::int64_t n, bool labels = true) {
  toy::ToyEventsOptions o;
  o.events = n;
  o.out = dir / name;
  o.seed = 11;
  o.signal_fraction = 0.3;
  o.labels = labels;
  o.threads = 2;
  toy::write_toy_events(o);
  return o.out;
}

LhcoPrepareOptions options(const std::string& input, const std::string& out) {
  LhcoPrepareOptions o;
  o.input = input;
  o.out_dir = out;
  o.inject = 0.5;
  o.seed = 5;
  return o;
}

std::vector<std::string> split_paths(const std::string& out, const std::string& tag = "RD_100P_2NJET") {
  std::vector<std::string> p;
  for (const char* s : kSplitNames) p.push_back((fs::path(out) / (std::string(s) + "_" + tag + ".h5")).string());
  return p;
}

// A two-jet event (the feature test's) and a one-jet event, as raw rows.
void two_jet_row(double* r) {
  const double v[] = {600, 0.3, 0.2, 300, 0.1, -0.1, 500, -0.5, 3.0, 250, -0.3, 2.8};
  std::copy(std::begin(v), std::end(v), r);
}
void one_jet_row(double* r) {
  const double v[] = {600, 0.3, 0.2, 300, 0.1, -0.1};
  std::copy(std::begin(v), std::end(v), r);
}

// n rows of `make(row index, row)` written in the R&D layout.
std::string hand_file(const TempDir& dir, const std::string& name, std::int64_t n,
                      const std::function<void(std::int64_t, double*)>& make) {
  std::vector<double> rows(static_cast<std::size_t>(n) * kLabelledColumns, 0.0);
  for (std::int64_t i = 0; i < n; ++i) make(i, rows.data() + i * kLabelledColumns);
  LhcoFileWriter w(dir / name, n, {true, 0, 64});
  w.write(0, n, rows.data());
  w.close();
  return dir / name;
}

TEST(LhcoPrepare, EndToEndOnAToyFile) {
  TempDir dir;
  const std::int64_t n = 1500;
  const std::string input = toy_file(dir, "toy.h5", n);
  const LhcoPrepareResult r = prepare_lhco(options(input, dir / "out"));
  ASSERT_EQ(r.outputs, split_paths(dir / "out"));
  EXPECT_EQ(dir.entries("out").size(), 3u) << "no temporaries left";
  const LhcoFile raw(input);
  std::vector<double> rows;
  raw.read_rows(0, n, rows);
  const std::array<RowRange, 3> ranges = {RowRange{0, 600}, RowRange{600, 825}, RowRange{975, 1485}};
  std::array<std::int64_t, 2> real{}, class2{}, class10{};
  for (int s = 0; s < kSplits; ++s) {
    SCOPED_TRACE(kSplitNames[s]);
    const SplitSummary& sum = r.splits[s];
    EXPECT_EQ(sum.rows, ranges[s]);
    EXPECT_EQ(sum.read, ranges[s].size());
    EXPECT_EQ(sum.kept + sum.dropped_few_jets + sum.dropped_few_massive + sum.dropped_injection, sum.read);
    EXPECT_GT(sum.signal_kept, 0);
    EXPECT_LT(sum.signal_kept, sum.signal_selected);
    const events::EventFile f(r.outputs[s]);
    ASSERT_EQ(f.n_events(), sum.kept);
    EXPECT_EQ(f.n_particles(), P);
    EXPECT_EQ(f.chunk_rows(), std::min<std::int64_t>(256, ranges[s].size()));  // chunks fit the rows read
    EXPECT_EQ(f.task(), "lhco");
    const std::string prepare = f.attribute("prepare");
    EXPECT_NE(prepare.find("\"kept\": " + std::to_string(sum.kept)), std::string::npos) << prepare;
    EXPECT_NE(prepare.find("\"dphi\": \"wrapped\""), std::string::npos) << prepare;
    EXPECT_NE(prepare.find(std::string("\"split\": \"") + kSplitNames[s] + "\""), std::string::npos);
    const std::int64_t k = f.n_events();
    std::vector<float> data(k * P * F), global(k * G), mjj(k);
    std::vector<std::int32_t> target(k * P), signal(k);
    std::vector<std::int64_t> source(k);
    f.read(0, k, data.data(), target.data(), global.data(), mjj.data(), signal.data(), true);
    f.read_source_rows(0, k, source.data());
    // Every row of the range re-derived: kept exactly when it passes and is background or injected.
    std::size_t next = 0;
    for (std::int64_t row = ranges[s].first; row < ranges[s].end; ++row) {
      const double* raw_row = rows.data() + row * kLabelledColumns;
      const int truth = static_cast<int>(raw_row[kParticleColumns]);
      const ProcessedEvent ev = process_event(raw_row, count_particles(raw_row, input, row), EventOptions{});
      const bool keep = ev.drop == Drop::None && (truth == 0 || keep_signal(5, row, 0.5));
      const bool kept = next < source.size() && source[next] == row;
      ASSERT_EQ(kept, keep) << "row " << row;
      if (!kept) continue;
      const std::size_t e = next++;
      EXPECT_EQ(signal[e], truth) << "row " << row;
      for (int q = 0; q < P * F; ++q) ASSERT_EQ(data[e * P * F + q], ev.data[q]) << "row " << row;
      for (int p = 0; p < P; ++p) ASSERT_EQ(target[e * P + p], ev.target[p]) << "row " << row;
      for (int g = 0; g < G; ++g) ASSERT_EQ(global[e * G + g], ev.global[g]) << "row " << row;
      ASSERT_EQ(mjj[e], ev.mjj) << "row " << row;
      for (int p = 0; p < ev.stored; ++p) {
        ++real[truth];
        class2[truth] += ev.target[p] == 2;
        class10[truth] += ev.target[p] == 10;
      }
    }
    EXPECT_EQ(next, source.size());
  }
  // Signal jets: Y (100 GeV) -> class 2, X (500 GeV) -> class 10 (spec 1.4).
  const auto share = [](std::int64_t a, std::int64_t b) { return static_cast<double>(a) / static_cast<double>(b); };
  EXPECT_GT(share(class10[1], real[1]), 0.2);
  EXPECT_GT(share(class10[1], real[1]), 5 * share(class10[0], real[0]));
  EXPECT_GT(share(class2[1], real[1]), share(class2[0], real[0]));
}

TEST(LhcoPrepare, SameOptionsSameBytesAnotherSeedOtherSignal) {
  TempDir dir;
  const std::string input = toy_file(dir, "toy.h5", 600);
  LhcoPrepareOptions o = options(input, dir / "a");
  o.log = [](const std::string&) {};
  o.progress_seconds = 0;  // a progress line per block
  prepare_lhco(o);
  o.out_dir = dir / "b";
  prepare_lhco(o);
  o.out_dir = dir / "c";
  o.seed = 6;
  prepare_lhco(o);
  o.out_dir = dir / "d";
  o.seed = 5;
  o.event.dphi = DphiMode::Unwrapped;
  o.event.order = ConstituentOrder::History;
  const LhcoPrepareResult orig = prepare_lhco(o);
  const auto a = split_paths(dir / "a"), b = split_paths(dir / "b"), c = split_paths(dir / "c"),
             d = split_paths(dir / "d");
  for (int s = 0; s < kSplits; ++s) {
    EXPECT_TRUE(slurp(a[s]) == slurp(b[s])) << kSplitNames[s] << ": same options, different bytes";
    EXPECT_FALSE(slurp(a[s]) == slurp(d[s])) << kSplitNames[s];
  }
  EXPECT_FALSE(slurp(a[0]) == slurp(c[0])) << "another seed, same train file";
  EXPECT_NE(events::EventFile(d[0]).attribute("prepare").find("\"constituent_order\": \"history\""), std::string::npos);
  // The raw delta-phi counts and the jet choice do not depend on the modes.
  const LhcoPrepareResult fixed = prepare_lhco(options(input, dir / "e"));
  for (int s = 0; s < kSplits; ++s) {
    EXPECT_EQ(orig.splits[s].pair_differs, fixed.splits[s].pair_differs);
    EXPECT_EQ(orig.splits[s].dphi_events, fixed.splits[s].dphi_events);
    EXPECT_EQ(orig.splits[s].dphi_particles, fixed.splits[s].dphi_particles);
    EXPECT_EQ(orig.splits[s].constituents, fixed.splits[s].constituents);
  }
  EXPECT_GT(fixed.splits[0].dphi_events, 0);
}

TEST(LhcoPrepare, BlackBoxFileNeedsUnlabelled) {
  TempDir dir;
  const std::string bb = toy_file(dir, "bb.h5", 300, false);
  expect_parts(error_of([&] { prepare_lhco(options(bb, dir / "out")); }),
               {"bb.h5", "has no truth label column (a black-box file); --task lhco needs the R&D layout with 2101 "
                         "columns"});
  EXPECT_FALSE(fs::exists(dir / "out")) << "outputs made before the input was checked";
  LhcoPrepareOptions o = options(bb, dir / "out");
  o.unlabelled = true;
  const LhcoPrepareResult r = prepare_lhco(o);
  for (int s = 0; s < kSplits; ++s) {
    EXPECT_EQ(r.splits[s].signal_read, 0);
    EXPECT_EQ(r.splits[s].dropped_injection, 0);
    const events::EventFile f(r.outputs[s]);
    std::vector<std::int32_t> signal(f.n_events());
    f.read(0, f.n_events(), nullptr, nullptr, nullptr, nullptr, signal.data(), false);
    for (std::int32_t v : signal) ASSERT_EQ(v, 0);
  }
  LhcoPrepareOptions l = options(toy_file(dir, "l.h5", 100), dir / "x");
  l.unlabelled = true;
  expect_parts(error_of([&] { prepare_lhco(l); }), {"--unlabelled", "l.h5", "has the truth label column"});
}

TEST(LhcoPrepare, SplitWithNoKeptEventFailsAndLeavesNothing) {
  TempDir dir;
  // 20 rows: default test rows [8, 11) are one-jet events.
  const std::string input = hand_file(dir, "h.h5", 20, [](std::int64_t i, double* r) {
    if (i >= 8 && i < 11) one_jet_row(r);
    else two_jet_row(r);
  });
  expect_parts(error_of([&] { prepare_lhco(options(input, dir / "out")); }),
               {"the test split keeps no event", "rows [8, 11)", "h.h5", "3 read",
                "3 with fewer than 2 jets of pT > 20 GeV", "0 with fewer than 2 jets of m >= 10 GeV"});
  EXPECT_TRUE(dir.entries("out").empty()) << "partial outputs left";
  // Only signal rows, none injected: named as such.
  const std::string sig = hand_file(dir, "s.h5", 20, [](std::int64_t, double* r) {
    two_jet_row(r);
    r[kParticleColumns] = 1;
  });
  LhcoPrepareOptions o = options(sig, dir / "out");
  o.inject = 0;
  expect_parts(error_of([&] { prepare_lhco(o); }), {"the train split keeps no event", "8 signal not injected"});
  EXPECT_TRUE(dir.entries("out").empty());
}

TEST(LhcoPrepare, DropReasonsAreCountedPerSplit) {
  TempDir dir;
  // Row i: i % 5 == 1 one jet, i % 5 == 2 a second jet of one particle (m = 0), else two jets.
  const std::string input = hand_file(dir, "d.h5", 20, [](std::int64_t i, double* r) {
    if (i % 5 == 1) {
      one_jet_row(r);
    } else if (i % 5 == 2) {
      one_jet_row(r);
      r[6] = 100;
      r[8] = 3.0;
    } else {
      two_jet_row(r);
    }
    r[kParticleColumns] = i % 5 == 4;
  });
  LhcoPrepareOptions o = options(input, dir / "out");
  o.rows = {RowRange{0, 10}, RowRange{10, 15}, RowRange{15, 20}};
  o.inject = 1;
  const LhcoPrepareResult r = prepare_lhco(o);
  const std::array<std::array<std::int64_t, 5>, 3> expected = {{{10, 2, 2, 6, 2}, {5, 1, 1, 3, 1}, {5, 1, 1, 3, 1}}};
  for (int s = 0; s < kSplits; ++s) {
    const SplitSummary& sum = r.splits[s];
    EXPECT_EQ(sum.read, expected[s][0]) << kSplitNames[s];
    EXPECT_EQ(sum.dropped_few_jets, expected[s][1]) << kSplitNames[s];
    EXPECT_EQ(sum.dropped_few_massive, expected[s][2]) << kSplitNames[s];
    EXPECT_EQ(sum.kept, expected[s][3]) << kSplitNames[s];
    EXPECT_EQ(sum.signal_kept, expected[s][4]) << kSplitNames[s];
    EXPECT_EQ(sum.dropped_injection, 0);
    EXPECT_NE(events::EventFile(r.outputs[s]).attribute("prepare").find(
                  "\"fewer_than_2_jets_pt_20\": " + std::to_string(expected[s][1])),
              std::string::npos);
  }
  EXPECT_NE(r.splits[0].text().find("2 with < 2 jets of pT > 20 GeV, 2 with < 2 jets of m >= 10 GeV"),
            std::string::npos)
      << r.splits[0].text();
}

TEST(LhcoPrepare, BadRowsAndOptionsAreNamed) {
  TempDir dir;
  const std::string gap = hand_file(dir, "gap.h5", 20, [](std::int64_t i, double* r) {
    two_jet_row(r);
    if (i == 14) r[3 * 10] = 5.0;  // particle 10 after the zero particle 4
  });
  expect_parts(error_of([&] { prepare_lhco(options(gap, dir / "out")); }),
               {"gap.h5", "row 14", "particle 10", "contiguous"});
  EXPECT_TRUE(dir.entries("out").empty());
  const std::string bad_label = hand_file(dir, "lab.h5", 20, [](std::int64_t i, double* r) {
    two_jet_row(r);
    r[kParticleColumns] = i == 3 ? 0.5 : 0;
  });
  expect_parts(error_of([&] { prepare_lhco(options(bad_label, dir / "out")); }), {"lab.h5", "row 3", "label 0.5"});
  const std::string good = hand_file(dir, "good.h5", 20, [](std::int64_t, double* r) { two_jet_row(r); });
  LhcoPrepareOptions o = options(good, dir / "out");
  o.rows[2] = RowRange{10, 25};
  expect_parts(error_of([&] { prepare_lhco(o); }), {"--eval-rows", "[10, 25)", "has 20 rows"});
  o.rows[2] = RowRange{5, 9};
  expect_parts(error_of([&] { prepare_lhco(o); }), {"train rows [0, 8)", "eval rows [5, 9)", "overlap"});
  o.rows = {RowRange{0, 2}, RowRange{2, 3}, RowRange{19, 20}};
  const LhcoPrepareResult r = prepare_lhco(o);
  EXPECT_EQ(r.splits[2].kept, 1);
  EXPECT_EQ(events::EventFile(r.outputs[2]).chunk_rows(), 1);
  expect_parts(error_of([&] { prepare_lhco(options(dir / "none.h5", dir / "o")); }), {"none.h5"});
}

// The command line (copied from the jet task's test_bad_input: exit status, message, outputs).
struct ToolRun {
  int rc;
  std::string out, err;
};
ToolRun tool(const TempDir& dir, const std::string& args) {
  const std::string out = dir / "stdout", err = dir / "stderr";
  const int status = std::system((std::string(UCLUSTER_PREPARE_DATA) + " " + args + " > " + out + " 2> " + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

TEST(LhcoPrepare, CommandLine) {
  TempDir dir;
  const std::string input = toy_file(dir, "toy.h5", 300);
  const std::string bb = toy_file(dir, "bb.h5", 100, false);
  ToolRun r = tool(dir, "--help");
  EXPECT_EQ(r.rc, 0);
  for (const char* opt : {"--task", "--inject", "--seed", "--train-rows", "--test-rows", "--eval-rows", "--dphi",
                          "--constituent-order", "--unlabelled", "RD_100P_2NJET"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  r = tool(dir, "--task lhco --quiet --inject 1 --out " + dir / "out" + " " + input);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("train: rows [0, 120): 120 read"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("n(J1) >= 100 (Q7)"), std::string::npos) << r.out;
  EXPECT_EQ(dir.entries("out"), (std::vector<std::string>{"eval_RD_100P_2NJET.h5", "test_RD_100P_2NJET.h5",
                                                           "train_RD_100P_2NJET.h5"}));
  r = tool(dir, "--task lhco --tag T --train-rows 0:50 --test-rows 50:60 --eval-rows 60:300 --out " + dir / "t" +
                    " " + input);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("prepare-data: eval:"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir / "t/test_T.h5"));
  EXPECT_NE(events::EventFile(dir / "t/train_T.h5").attribute("prepare").find("\"rows\": [0, 50]"), std::string::npos);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--task lhco --dphi sideways " + input, "option --dphi: 'sideways' is not one of wrapped, unwrapped"},
      {"--task lhco --constituent-order random " + input, "option --constituent-order: 'random' is not one of pt"},
      {"--task lhco --train-rows 5 " + input, "option --train-rows: '5' is not a row range A:B"},
      {"--task lhco --eval-rows 0:100000 " + input, "option --eval-rows: rows [0, 100000) are outside file"},
      {"--task lhco --inject 1.5 " + input, "option --inject: 1.5 is outside [0, 1]"},
      {"--task lhco --eval " + input, "option --eval is for --task jets, not --task lhco"},
      {"--inject 0.2 " + input, "option --inject is for --task lhco, not --task jets"},
      {"--task pions " + input, "option --task: 'pions' is not one of jets, lhco"},
      {"--task lhco " + input + " " + input, "exactly one input file"},
      {"--task lhco --bogus " + input, "unknown option '--bogus'"},
      {"--task lhco --out " + dir / "bb" + " " + bb, "has no truth label column (a black-box file)"},
  };
  for (const auto& [args, message] : bad) {
    r = tool(dir, args);
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_EQ(r.err.rfind("prepare-data: error: ", 0), 0u) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "bb"));
}

}  // namespace
}  // namespace ucluster::lhco
