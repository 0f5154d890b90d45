#include "io/lhco_prepare.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "engine/error.h"
#include "engine/rng.h"
#include "io/lhco_file.h"
#include "io/staged_file.h"

namespace ucluster::lhco {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kReadBlock = 512;  // raw rows per read (8.6 MB of float64)

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += make_message("\\u00", "0123456789abcdef"[(c >> 4) & 0xf], "0123456789abcdef"[c & 0xf]);
      continue;
    }
    out += c;
  }
  return out;
}

// The shortest text that reads back as `v` (the options are recorded exactly).
std::string exact(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

double ratio(std::int64_t a, std::int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }

std::string percent(std::int64_t a, std::int64_t b) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  os << 100.0 * ratio(a, b) << " %";
  return os.str();
}

std::string range_string(const RowRange& r) { return make_message("[", r.first, ", ", r.end, ")"); }

// The buffered rows of one output, written a chunk at a time.
class Sink {
 public:
  Sink(events::EventFileWriter& writer, std::int64_t chunk) : writer_(writer), chunk_(std::max<std::int64_t>(1, chunk)) {}

  void add(const ProcessedEvent& ev, std::int8_t is_signal, std::int64_t source_row) {
    data_.insert(data_.end(), ev.data.begin(), ev.data.end());
    target_.insert(target_.end(), ev.target.begin(), ev.target.end());
    global_.insert(global_.end(), ev.global.begin(), ev.global.end());
    mjj_.push_back(ev.mjj);
    signal_.push_back(is_signal);
    row_.push_back(source_row);
    if (static_cast<std::int64_t>(row_.size()) >= chunk_) flush();
  }

  void flush() {
    const auto n = static_cast<std::int64_t>(row_.size());
    if (n == 0) return;
    writer_.write(written_, n, data_.data(), target_.data(), global_.data(), mjj_.data(), signal_.data(), row_.data());
    written_ += n;
    data_.clear();
    target_.clear();
    global_.clear();
    mjj_.clear();
    signal_.clear();
    row_.clear();
  }

  std::int64_t written() const { return written_; }

 private:
  events::EventFileWriter& writer_;
  std::int64_t chunk_, written_ = 0;
  std::vector<float> data_, global_, mjj_;
  std::vector<std::int8_t> target_, signal_;
  std::vector<std::int64_t> row_;
};

std::string options_json(const LhcoPrepareOptions& o, const std::string& input_name, std::int64_t input_rows,
                         bool labelled) {
  return make_message(
      "{\"input\": \"", json_escape(input_name), "\", \"input_rows\": ", input_rows,
      ", \"input_labelled\": ", labelled ? "true" : "false", ", \"inject\": ", exact(o.inject), ", \"seed\": ", o.seed,
      ", \"injection\": \"signal row r kept when splitmix64(seed ^ splitmix64(r)) < inject * 2^64\", \"dphi\": \"",
      name(o.event.dphi), "\", \"constituent_order\": \"", name(o.event.order),
      "\", \"jets\": \"genkt p = -1 (anti-kT), R = 1.0, E-scheme, pT > 20 GeV; the two heaviest with m >= 10 GeV\""
      ", \"particles\": ", events::kEventParticles,
      ", \"tau21\": \"kT R = 0.2 re-clustering, exclusive_jets(N) axes, beta = 1\""
      ", \"mass_edges\": \"linspace(10, 1000, 20) ++ [1e5], first edge >= m\", \"chunk_rows\": ",
      o.chunk_rows, ", \"gzip\": ", o.gzip_level, "}");
}

}  // namespace

RowRange parse_row_range(const std::string& option, const std::string& text) {
  const auto colon = text.find(':');
  const auto number = [&](const std::string& part) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    UCLUSTER_CHECK(!part.empty() && part[0] != '+' && end != nullptr && *end == '\0' && errno == 0 && v >= 0,
                   "option ", option, ": '", text, "' is not a row range A:B (0 <= A < B, integers)");
    return static_cast<std::int64_t>(v);
  };
  UCLUSTER_CHECK(colon != std::string::npos, "option ", option, ": '", text, "' is not a row range A:B (rows A to B-1)");
  const RowRange r{number(text.substr(0, colon)), number(text.substr(colon + 1))};
  UCLUSTER_CHECK(r.first < r.end, "option ", option, ": '", text, "' is empty (need A < B)");
  return r;
}

std::array<RowRange, kSplits> default_split_ranges(std::int64_t n) {
  if (n >= kProductionRows) return {RowRange{0, 400000}, RowRange{400001, 550000}, RowRange{650001, 990001}};
  // floor(n * pct / 100) without overflow: n = 100 q + r.
  const auto at = [n](int pct) { return n / 100 * pct + n % 100 * pct / 100; };
  return {RowRange{0, at(40)}, RowRange{at(40), at(55)}, RowRange{at(65), at(99)}};
}

std::uint64_t injection_hash(std::uint64_t seed, std::int64_t row) {
  return mix_seed(seed ^ mix_seed(static_cast<std::uint64_t>(row)));
}

bool keep_signal(std::uint64_t seed, std::int64_t row, double fraction) {
  if (fraction >= 1.0) return true;
  if (!(fraction > 0.0)) return false;
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(fraction, 64));  // < 2^64 for fraction < 1
  return injection_hash(seed, row) < threshold;
}

std::string SplitSummary::json() const {
  std::ostringstream os;
  os << "{\"split\": \"" << name << "\", \"rows\": [" << rows.first << ", " << rows.end << "], \"read\": " << read
     << ", \"kept\": " << kept << ", \"dropped\": {\"fewer_than_2_jets_pt_20\": " << dropped_few_jets
     << ", \"fewer_than_2_jets_m_10\": " << dropped_few_massive << ", \"signal_not_injected\": " << dropped_injection
     << "}, \"signal_read\": " << signal_read << ", \"signal_selected\": " << signal_selected
     << ", \"signal_kept\": " << signal_kept << ", \"background_kept\": " << kept - signal_kept
     << ", \"fraction_n_j1_ge_100\": " << ratio(j1_full, kept)
     << ", \"fraction_events_dphi_off_2pi\": " << ratio(dphi_events, kept)
     << ", \"fraction_constituents_dphi_off_2pi\": " << ratio(dphi_particles, constituents)
     << ", \"fraction_mass_pair_not_pt_pair\": " << ratio(pair_differs, kept)
     << ", \"stored_particles\": " << stored_particles << ", \"target_classes\": {";
  for (int t = 0; t < 2; ++t) {
    os << (t ? ", " : "") << (t ? "\"signal\": [" : "\"background\": [");
    for (int c = 0; c < events::kMassClasses; ++c) os << (c ? ", " : "") << classes[t][c];
    os << "]";
  }
  os << "}}";
  return os.str();
}

std::string SplitSummary::text() const {
  std::ostringstream os;
  os << name << ": rows " << range_string(rows) << ": " << read << " read, " << kept << " kept\n"
     << "  dropped: " << dropped_few_jets << " with < 2 jets of pT > 20 GeV, " << dropped_few_massive
     << " with < 2 jets of m >= 10 GeV, " << dropped_injection << " signal not injected\n"
     << "  signal: " << signal_read << " read, " << signal_selected << " passed the jet selection, " << signal_kept
     << " kept (" << percent(signal_kept, kept) << " of the kept events)\n"
     << "  n(J1) >= 100 (Q7): " << percent(j1_full, kept) << " of the kept events\n"
     << "  raw delta-phi off by 2 pi (Q6): " << percent(dphi_events, kept) << " of the kept events, "
     << percent(dphi_particles, constituents) << " of the J1/J2 constituents\n"
     << "  {J1, J2} by mass != the two leading-pT jets (Q8): " << percent(pair_differs, kept) << " of the kept events\n";
  for (int t = 0; t < 2; ++t) {
    std::int64_t total = 0;
    for (std::int64_t v : classes[t]) total += v;
    if (total == 0) continue;
    os << "  target classes, " << (t ? "signal" : "background") << " particles:";
    for (int c = 0; c < events::kMassClasses; ++c)
      if (classes[t][c] > 0) os << " " << c << ": " << percent(classes[t][c], total);
    os << "\n";
  }
  return os.str();
}

LhcoPrepareResult prepare_lhco(const LhcoPrepareOptions& o) {
  using Clock = std::chrono::steady_clock;
  UCLUSTER_CHECK(o.inject >= 0.0 && o.inject <= 1.0, "option --inject: ", o.inject, " is outside [0, 1]");
  UCLUSTER_CHECK(o.chunk_rows >= 1, "option --chunk: chunk rows must be positive, got ", o.chunk_rows);
  UCLUSTER_CHECK(o.gzip_level >= 0 && o.gzip_level <= 9, "option --gzip: level ", o.gzip_level, " is outside 0..9");
  UCLUSTER_CHECK(!o.tag.empty() && o.tag.find('/') == std::string::npos, "option --tag: '", o.tag,
                 "' must be a non-empty name without '/'");
  const auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };

  // Everything about the input first: no output exists before these checks pass.
  const LhcoFile in(o.input);
  const std::int64_t n_rows = in.n_events();
  if (!in.has_labels()) {
    UCLUSTER_CHECK(o.unlabelled, "file '", o.input, "' has no truth label column (a black-box file); --task lhco ",
                   "needs the R&D layout with ", kLabelledColumns, " columns (or --unlabelled to prepare it with ",
                   "is_signal = 0 and no signal injection)");
  } else {
    UCLUSTER_CHECK(!o.unlabelled, "option --unlabelled: file '", o.input, "' has the truth label column (",
                   kLabelledColumns, " columns); --unlabelled is for black-box files only");
  }
  const std::array<RowRange, kSplits> defaults = default_split_ranges(n_rows);
  std::array<RowRange, kSplits> ranges{};
  for (int s = 0; s < kSplits; ++s) {
    const std::string option = make_message("--", kSplitNames[s], "-rows");
    ranges[s] = o.rows[s].value_or(defaults[s]);
    UCLUSTER_CHECK(ranges[s].size() > 0, "file '", o.input, "' has ", n_rows, " rows: the default ", kSplitNames[s],
                   " range ", range_string(ranges[s]), " is empty; give ", option, " A:B");
    UCLUSTER_CHECK(ranges[s].first >= 0 && ranges[s].end <= n_rows, "option ", option, ": rows ",
                   range_string(ranges[s]), " are outside file '", o.input, "', which has ", n_rows, " rows",
                   o.rows[s] ? "" : " (default range)");
  }
  for (int a = 0; a < kSplits; ++a)
    for (int b = a + 1; b < kSplits; ++b) {
      UCLUSTER_CHECK(ranges[a].end <= ranges[b].first || ranges[b].end <= ranges[a].first, "the ", kSplitNames[a],
                     " rows ", range_string(ranges[a]), " and the ", kSplitNames[b], " rows ", range_string(ranges[b]),
                     " overlap: an event would be in two splits (see --", kSplitNames[a], "-rows, --", kSplitNames[b],
                     "-rows)");
    }
  std::array<std::string, kSplits> paths;
  std::error_code ec;
  for (int s = 0; s < kSplits; ++s) {
    paths[s] = (fs::path(o.out_dir) / (std::string(kSplitNames[s]) + "_" + o.tag + ".h5")).string();
    UCLUSTER_CHECK(!(fs::exists(paths[s], ec) && fs::equivalent(paths[s], o.input, ec)), "input '", o.input,
                   "' is also the output '", paths[s], "' of this run (it would be read and replaced); write the ",
                   "outputs elsewhere with --out");
  }
  fs::create_directories(o.out_dir, ec);
  UCLUSTER_CHECK(fs::is_directory(o.out_dir, ec), "cannot create output directory '", o.out_dir, "'");

  const std::string options = options_json(o, o.input, n_rows, in.has_labels());
  const events::EventWriterOptions wo{o.chunk_rows, o.gzip_level, "lhco"};
  std::vector<std::unique_ptr<StagedFile>> staged;  // before the writers: destroyed after them
  std::vector<std::unique_ptr<events::EventFileWriter>> writers;
  LhcoPrepareResult result;
  std::vector<double> rows;
  for (int s = 0; s < kSplits; ++s) {
    SplitSummary sum;
    sum.name = kSplitNames[s];
    sum.rows = ranges[s];
    staged.push_back(std::make_unique<StagedFile>(paths[s]));
    writers.push_back(std::make_unique<events::EventFileWriter>(staged.back()->temp_path(), ranges[s].size(),
                                                               events::kEventParticles, wo));
    Sink sink(*writers.back(), o.chunk_rows);
    const auto start = Clock::now();
    auto last_log = start;
    for (std::int64_t b = ranges[s].first; b < ranges[s].end; b += kReadBlock) {
      const std::int64_t n = std::min(kReadBlock, ranges[s].end - b);
      in.read_rows(b, n, rows);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t row = b + i;
        const double* r = rows.data() + i * in.columns();
        const int n_particles = count_particles(r, o.input, row);
        int truth = 0;
        if (in.has_labels()) {
          const double label = r[kParticleColumns];
          UCLUSTER_CHECK(label == 0.0 || label == 1.0, "file '", o.input, "': row ", row, " has label ", label,
                         ", expected 0 (background) or 1 (signal)");
          truth = static_cast<int>(label);
        }
        ++sum.read;
        sum.signal_read += truth;
        // The selection first, then the injection, as the original (spec 1.2 steps 3-4, 10).
        const ProcessedEvent ev = process_event(r, n_particles, o.event);
        if (ev.drop == Drop::FewJets) {
          ++sum.dropped_few_jets;
          continue;
        }
        if (ev.drop == Drop::FewMassiveJets) {
          ++sum.dropped_few_massive;
          continue;
        }
        sum.signal_selected += truth;
        if (truth == 1 && !keep_signal(o.seed, row, o.inject)) {
          ++sum.dropped_injection;
          continue;
        }
        ++sum.kept;
        sum.signal_kept += truth;
        sum.j1_full += ev.n_j1 >= events::kEventParticles;
        sum.dphi_events += ev.dphi_off > 0;
        sum.dphi_particles += ev.dphi_off;
        sum.constituents += ev.n_j1 + ev.n_j2;
        sum.stored_particles += ev.stored;
        sum.pair_differs += ev.pair_differs;
        for (int p = 0; p < ev.stored; ++p) ++sum.classes[truth][ev.target[p]];
        sink.add(ev, static_cast<std::int8_t>(truth), row);
      }
      const auto now = Clock::now();
      if (std::chrono::duration<double>(now - last_log).count() >= o.progress_seconds) {
        last_log = now;
        const double seconds = std::max(1e-9, std::chrono::duration<double>(now - start).count());
        log(make_message(sum.name, ": ", sum.read, " of ", ranges[s].size(), " rows (",
                         percent(sum.read, ranges[s].size()), "), ", sum.kept, " kept, ",
                         static_cast<std::int64_t>(static_cast<double>(sum.read) / seconds), " rows/s"));
      }
    }
    UCLUSTER_CHECK(sum.kept > 0, "the ", sum.name, " split keeps no event: rows ", range_string(ranges[s]), " of '",
                   o.input, "': ", sum.read, " read, ", sum.dropped_few_jets, " with fewer than 2 jets of pT > 20 GeV, ",
                   sum.dropped_few_massive, " with fewer than 2 jets of m >= 10 GeV, ", sum.dropped_injection,
                   " signal not injected (--inject ", o.inject, ")");
    sink.flush();
    UCLUSTER_CHECK(sink.written() == sum.kept, "internal error: ", sink.written(), " events written to ", sum.name,
                   ", ", sum.kept, " kept");
    writers.back()->set_events(sum.kept);
    writers.back()->set_attribute("prepare", make_message("{\"task\": \"lhco\", \"split\": \"", sum.name,
                                                          "\", \"options\": ", options, ", \"summary\": ", sum.json(), "}"));
    writers.back()->close();
    log(make_message(sum.name, ": ", sum.kept, " of ", sum.read, " events kept (",
                     std::chrono::duration<double>(Clock::now() - start).count(), " s)"));
    result.splits.push_back(sum);
  }
  for (int s = 0; s < kSplits; ++s) {
    staged[s]->commit();
    result.outputs.push_back(staged[s]->final_path());
    log(make_message(staged[s]->final_path(), ": ", result.splits[s].kept, " events"));
  }
  return result;
}

}  // namespace ucluster::lhco
