#include "io/prepare.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/error.h"
#include "engine/rng.h"
#include "io/h5.h"
#include "io/input_path.h"
#include "io/preprocess.h"
#include "io/raw_file.h"
#include "io/staged_file.h"
#include "io/ucluster_file.h"

namespace ucluster::jets {

namespace fs = std::filesystem;

namespace {

enum class Layout { Raw, Ucluster };

struct Input {
  std::string path;
  Layout layout = Layout::Raw;
  bool written_by_prepare = false;  // a UCluster-layout file carrying prepare-data's attribute
  std::int64_t n = 0;
  int n_particles = 0;
};

constexpr const char* kPrepareAttribute = "ucluster_prepare";

// One selected jet, in input order.
struct Selected {
  std::int32_t input;
  std::int64_t row;
  float mass;
  std::int32_t pid;
  std::int32_t truth;
  std::array<float, kGlobals> global;
};

constexpr std::int64_t kReadBlock = 1000;  // jets per read (10 chunks of the real files)

Layout detect_layout(const std::string& path, bool& written_by_prepare) {
  const h5::File f = h5::File::open(path);
  written_by_prepare = f.has_attribute(kPrepareAttribute);
  if (f.contains("jetConstituentList")) return Layout::Raw;
  if (f.contains("data")) return Layout::Ucluster;
  fail("file '", path, "' is neither a raw HLS4ML jet file (no dataset 'jetConstituentList') nor a UCluster-layout "
       "file (no dataset 'data')");
}

// Buffers rows for one output and writes them in order, a chunk at a time.
class Sink {
 public:
  Sink(UclusterWriter& writer, int n_particles, std::int64_t chunk)
      : writer_(writer), row_(static_cast<std::size_t>(n_particles) * kFeatures), chunk_(std::max<std::int64_t>(1, chunk)) {}

  void add(const float* features, const Selected& s) {
    data_.insert(data_.end(), features, features + row_);
    pid_.push_back(s.pid);
    truth_.push_back(s.truth);
    mass_.push_back(s.mass);
    global_.insert(global_.end(), s.global.begin(), s.global.end());
    if (static_cast<std::int64_t>(pid_.size()) >= chunk_) flush();
  }

  void flush() {
    const std::int64_t n = static_cast<std::int64_t>(pid_.size());
    if (n == 0) return;
    writer_.write(written_, n, data_.data(), pid_.data(), truth_.data(), mass_.data(), global_.data());
    written_ += n;
    data_.clear();
    pid_.clear();
    truth_.clear();
    mass_.clear();
    global_.clear();
  }

  std::int64_t written() const { return written_ + static_cast<std::int64_t>(pid_.size()); }

 private:
  UclusterWriter& writer_;
  std::size_t row_;
  std::int64_t chunk_;
  std::int64_t written_ = 0;
  std::vector<float> data_, mass_, global_;
  std::vector<std::int32_t> pid_, truth_;
};

void log_line(const PrepareOptions& o, const std::string& s) {
  if (o.log) o.log(s);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Pass 1: which jets are kept, with their labels and masses (the constituents are not read).
void index_input(const Input& in, std::int32_t k, std::vector<Selected>& selected) {
  if (in.layout == Layout::Raw) {
    const RawFile f(in.path);
    std::vector<double> rows;
    for (std::int64_t b = 0; b < in.n; b += kReadBlock) {
      const std::int64_t n = std::min(kReadBlock, in.n - b);
      f.read_jet_rows(b, n, rows);
      f.check_jet_rows(b, n, rows.data());
      for (std::int64_t i = 0; i < n; ++i) {
        const double* r = rows.data() + i * kJetColumns;
        if (!keep_jet(r)) continue;
        Selected s{k, b + i, static_cast<float>(r[kJetMass]), mass_bin(r[kJetMass]), truth_class(r), {}};
        global_features(r, s.global.data());
        selected.push_back(s);
      }
    }
    return;
  }
  const UclusterFile f(in.path);
  std::vector<std::int32_t> truth;
  std::vector<float> mass, global;
  for (std::int64_t b = 0; b < in.n; b += kReadBlock) {
    const std::int64_t n = std::min(kReadBlock, in.n - b);
    truth.resize(n);
    mass.resize(n);
    global.resize(n * kGlobals);
    f.read(b, n, nullptr, nullptr, truth.data(), mass.data(), global.data(), false);
    for (std::int64_t i = 0; i < n; ++i) {
      // The pid is recomputed from the mass (plain bin index, see mass_bin()): files from the
      // original script carry its per-file compacted ids.
      const int pid = mass_bin(mass[i]);
      UCLUSTER_CHECK(pid >= 0, "file '", in.path, "': jet ", b + i, ": mass ", mass[i], " is outside [0, 1e4) GeV");
      Selected s{k, b + i, mass[i], pid, truth[i], {}};
      std::copy_n(global.begin() + i * kGlobals, kGlobals, s.global.begin());
      selected.push_back(s);
    }
  }
}

// Pass 2: computes the features of the selected jets of one input in order and hands each to
// `emit(features, selected_index)`. Every jet of a raw file is checked, kept or not.
template <typename Emit>
void stream_input(const Input& in, std::int32_t k, const std::vector<Selected>& selected, std::size_t& cursor,
                  Emit emit) {
  const std::size_t row = static_cast<std::size_t>(in.n_particles) * kFeatures;
  std::vector<float> features(row * kReadBlock);
  if (in.layout == Layout::Raw) {
    const RawFile f(in.path);
    std::vector<double> cons, rows;
    const std::size_t raw_row = static_cast<std::size_t>(in.n_particles) * kRawParticleColumns;
    for (std::int64_t b = 0; b < in.n; b += kReadBlock) {
      const std::int64_t n = std::min(kReadBlock, in.n - b);
      f.read_constituents(b, n, cons);
      f.read_jet_rows(b, n, rows);
      f.check_jets(b, n, cons.data(), rows.data());
      while (cursor < selected.size() && selected[cursor].input == k && selected[cursor].row < b + n) {
        const std::int64_t i = selected[cursor].row - b;
        particle_features(cons.data() + i * raw_row, in.n_particles, features.data());
        emit(features.data(), cursor);
        ++cursor;
      }
    }
    return;
  }
  const UclusterFile f(in.path);
  for (std::int64_t b = 0; b < in.n; b += kReadBlock) {
    const std::int64_t n = std::min(kReadBlock, in.n - b);
    f.read(b, n, features.data(), nullptr, nullptr, nullptr, nullptr, true);
    while (cursor < selected.size() && selected[cursor].input == k && selected[cursor].row < b + n) {
      emit(features.data() + (selected[cursor].row - b) * row, cursor);
      ++cursor;
    }
  }
}

// Removes a scratch file when it goes out of scope.
struct ScratchFile {
  std::string path;
  ~ScratchFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

}  // namespace

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                                       std::vector<std::string>* skipped) {
  UCLUSTER_CHECK(!inputs.empty(), "no input files given");
  std::error_code ec;
  auto is_output = [&](const std::string& path) {
    return std::any_of(outputs.begin(), outputs.end(),
                       [&](const std::string& o) { return fs::exists(o, ec) && fs::equivalent(o, path, ec); });
  };
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    require_input_path("input", in, InputKind::FileOrDirectory);
    if (!fs::is_directory(in, ec)) {
      UCLUSTER_CHECK(!is_output(in), "input '", in, "' is also an output of this run (it would be read and ",
                     "replaced); write the outputs elsewhere with --out");
      out.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(in)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || name.size() <= 3 || name.substr(name.size() - 3) != ".h5" || name[0] == '.') continue;
      // This run's own outputs (from an earlier run into the same directory) are never inputs.
      if (is_output(e.path().string())) {
        if (skipped != nullptr) skipped->push_back(e.path().string());
        continue;
      }
      found.push_back(e.path().string());
    }
    UCLUSTER_CHECK(!found.empty(), "directory '", in, "' holds no .h5 file",
                   skipped != nullptr && !skipped->empty() ? " (only this run's outputs)" : "");
    std::sort(found.begin(), found.end());  // deterministic, unlike the reference's os.listdir order
    out.insert(out.end(), found.begin(), found.end());
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      UCLUSTER_CHECK(!fs::equivalent(out[i], out[j], ec), "input file '", out[i], "' is given twice (also as '",
                     out[j], "'): its jets would be counted twice");
  return out;
}

PrepareResult prepare_data(const PrepareOptions& o) {
  UCLUSTER_CHECK(o.eval || (o.train_fraction > 0.0 && o.train_fraction < 1.0), "train fraction ", o.train_fraction,
                 " must be in (0, 1)");
  UCLUSTER_CHECK(o.chunk_rows >= 1, "chunk rows must be positive, got ", o.chunk_rows);
  UCLUSTER_CHECK(o.gzip_level >= 0 && o.gzip_level <= 9, "gzip level must be in 0..9, got ", o.gzip_level);
  const std::vector<std::string> names = o.eval ? std::vector<std::string>{"eval"}
                                                 : std::vector<std::string>{"train", "test"};
  std::vector<std::string> output_paths;
  for (const std::string& name : names) output_paths.push_back((fs::path(o.out_dir) / (name + "_" + o.tag + ".h5")).string());
  std::vector<std::string> skipped;
  const std::vector<std::string> paths = expand_inputs(o.inputs, output_paths, &skipped);
  for (const std::string& p : skipped) log_line(o, make_message("skipping ", p, ": it is an output of this run"));

  // Pass 1: layouts, shapes, labels, selection.
  std::vector<Input> inputs;
  std::vector<Selected> selected;
  PrepareResult result;
  for (const std::string& p : paths) {
    Input in;
    in.path = p;
    in.layout = detect_layout(p, in.written_by_prepare);
    if (in.layout == Layout::Raw) {
      const RawFile f(p);
      in.n = f.n_jets();
      in.n_particles = f.n_particles();
    } else {
      const UclusterFile f(p);
      in.n = f.n_jets();
      in.n_particles = f.n_particles();
    }
    if (!inputs.empty()) {
      UCLUSTER_CHECK(in.n_particles == inputs.front().n_particles, "file '", p, "' has ", in.n_particles,
                     " particles per jet but '", inputs.front().path, "' has ", inputs.front().n_particles);
    }
    const std::size_t before = selected.size();
    index_input(in, static_cast<std::int32_t>(inputs.size()), selected);
    log_line(o, make_message(p, ": ", in.n, " jets, ", selected.size() - before, " selected (",
                             in.layout == Layout::Raw ? "raw HLS4ML" : "UCluster layout", ")"));
    result.scanned += in.n;
    inputs.push_back(in);
  }
  const auto raw = std::find_if(inputs.begin(), inputs.end(), [](const Input& in) { return in.layout == Layout::Raw; });
  const auto prepared = std::find_if(inputs.begin(), inputs.end(), [](const Input& in) { return in.written_by_prepare; });
  UCLUSTER_CHECK(raw == inputs.end() || prepared == inputs.end(), "the inputs mix raw HLS4ML files ('", raw->path,
                 "') and files written by prepare-data ('", prepared->path, "'): if those were prepared from these ",
                 "raw files, every jet would be counted twice; give the raw files alone or the prepared ones alone");
  const std::int64_t total = static_cast<std::int64_t>(selected.size());
  result.selected = total;
  std::string file_list;
  for (std::size_t i = 0; i < paths.size() && i < 5; ++i) file_list += (i ? ", " : "") + paths[i];
  if (paths.size() > 5) file_list += make_message(", ... (", paths.size(), " files)");
  UCLUSTER_CHECK(total > 0, "no jet passed the selection (W, Z or top with ", kMassMin, " < j_mass < ", kMassMax,
                 " GeV) in ", result.scanned, " jets of: ", file_list);

  // Split sizes (spec 1.7: NTRAIN = int(0.8 * N)).
  std::vector<std::int64_t> counts;
  if (o.eval) {
    counts = {total};
  } else {
    const auto n_train = static_cast<std::int64_t>(o.train_fraction * static_cast<double>(total));
    counts = {n_train, total - n_train};
  }
  for (std::size_t s = 0; s < names.size(); ++s) {
    UCLUSTER_CHECK(counts[s] > 0, "the ", names[s], " split is empty after selection: ", total,
                   " jet(s) passed (W, Z or top with ", kMassMin, " < j_mass < ", kMassMax, " GeV) in ", file_list,
                   ", and a train fraction of ", o.train_fraction, " leaves none for ", names[s]);
  }

  // Output order: selected index of output position o.
  std::vector<std::int64_t> order(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) order[i] = i;
  if (o.shuffle) {
    Rng rng(o.seed);
    for (std::int64_t i = total - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<std::uint64_t>(i + 1))]);
  }

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  UCLUSTER_CHECK(fs::is_directory(o.out_dir, ec), "cannot create output directory '", o.out_dir, "'");
  for (const std::string& stale : remove_stale_temporaries(o.out_dir, ".prepare-scratch-", ".bin"))
    log_line(o, make_message("removed ", stale, ", a scratch file left by a killed run"));
  const int P = inputs.front().n_particles;
  std::vector<std::unique_ptr<StagedFile>> staged;
  std::vector<std::unique_ptr<UclusterWriter>> writers;
  std::vector<std::unique_ptr<Sink>> sinks;
  for (std::size_t s = 0; s < names.size(); ++s) {
    staged.push_back(std::make_unique<StagedFile>(output_paths[s]));
    writers.push_back(std::make_unique<UclusterWriter>(staged.back()->temp_path(), counts[s], P,
                                                       UclusterWriterOptions{o.chunk_rows, o.gzip_level}));
    sinks.push_back(std::make_unique<Sink>(*writers.back(), P, o.chunk_rows));
  }
  auto sink_of = [&](std::int64_t position) -> std::pair<Sink*, std::int64_t> {
    return position < counts[0] ? std::make_pair(sinks[0].get(), position)
                                : std::make_pair(sinks[1].get(), position - counts[0]);
  };

  // Pass 2.
  const std::size_t row_floats = static_cast<std::size_t>(P) * kFeatures;
  std::size_t cursor = 0;
  if (!o.shuffle) {
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      stream_input(inputs[k], static_cast<std::int32_t>(k), selected, cursor, [&](const float* f, std::size_t idx) {
        sink_of(static_cast<std::int64_t>(idx)).first->add(f, selected[idx]);
      });
    }
  } else {
    // Bounded memory: features go to a scratch file in input order, then are gathered in the
    // shuffled order (random reads of one row each, served by the page cache).
    ScratchFile scratch{(fs::path(o.out_dir) / (".prepare-scratch-" + process_tag() + ".bin")).string()};
    {
      std::ofstream out(scratch.path, std::ios::binary | std::ios::trunc);
      UCLUSTER_CHECK(out.good(), "cannot create scratch file '", scratch.path, "'");
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        stream_input(inputs[k], static_cast<std::int32_t>(k), selected, cursor, [&](const float* f, std::size_t) {
          out.write(reinterpret_cast<const char*>(f), static_cast<std::streamsize>(row_floats * sizeof(float)));
        });
      }
      out.flush();
      const int err = out.fail() ? errno : 0;
      out.close();
      UCLUSTER_CHECK(err == 0 && !out.fail(), "cannot write scratch file '", scratch.path, "': ",
                     std::strerror(err != 0 ? err : errno));
    }
    std::ifstream in(scratch.path, std::ios::binary);
    std::vector<float> row(row_floats);
    for (std::int64_t pos = 0; pos < total; ++pos) {
      const std::int64_t idx = order[pos];
      in.seekg(static_cast<std::streamoff>(idx * row_floats * sizeof(float)));
      in.read(reinterpret_cast<char*>(row.data()), static_cast<std::streamsize>(row_floats * sizeof(float)));
      UCLUSTER_CHECK(in.good(), "cannot read scratch file '", scratch.path, "'");
      sink_of(pos).first->add(row.data(), selected[idx]);
    }
  }
  UCLUSTER_CHECK(cursor == selected.size(), "internal error: ", cursor, " of ", selected.size(), " jets streamed");

  std::string input_json;
  for (std::size_t i = 0; i < paths.size(); ++i) input_json += (i ? ", \"" : "\"") + json_escape(paths[i]) + "\"";
  for (std::size_t s = 0; s < names.size(); ++s) {
    sinks[s]->flush();
    UCLUSTER_CHECK(sinks[s]->written() == counts[s], "internal error: ", sinks[s]->written(), " rows written to ",
                   names[s], ", expected ", counts[s]);
    writers[s]->set_attribute(
        kPrepareAttribute,
        make_message("{\"split\": \"", names[s], "\", \"rows\": ", counts[s], ", \"selected\": ", total,
                     ", \"train_fraction\": ", o.eval ? 1.0 : o.train_fraction, ", \"shuffle\": ",
                     o.shuffle ? "true" : "false", ", \"seed\": ", o.seed,
                     ", \"selection\": \"W, Z or top with 10 < j_mass < 200 GeV\", \"pid\": \"floor(m / (200/19)), "
                     "plain bin index (no per-file compaction)\", \"inputs\": [",
                     input_json, "]}"));
    writers[s]->close();
  }
  for (std::size_t s = 0; s < names.size(); ++s) {
    staged[s]->commit();
    result.outputs.push_back(staged[s]->final_path());
    result.rows.push_back(counts[s]);
    log_line(o, make_message(staged[s]->final_path(), ": ", counts[s], " jets"));
  }
  return result;
}

}  // namespace ucluster::jets
