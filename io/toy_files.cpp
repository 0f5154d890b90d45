#include "io/toy_files.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "engine/rng.h"
#include "io/jet_layout.h"
#include "io/raw_file.h"
#include "io/staged_file.h"

namespace ucluster::toy {

namespace fs = std::filesystem;

std::vector<JetClass> parse_classes(const std::string& list) {
  std::vector<JetClass> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t next = list.find(',', pos);
    std::string n = list.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n == "g" || n == "gluon") out.push_back(JetClass::Gluon);
    else if (n == "q" || n == "quark") out.push_back(JetClass::Quark);
    else if (n == "w") out.push_back(JetClass::W);
    else if (n == "z") out.push_back(JetClass::Z);
    else if (n == "t" || n == "top") out.push_back(JetClass::Top);
    else fail("unknown jet class '", n, "' (use g, q, W, Z, top)");
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

void ToySummary::add(const double* rows, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double* r = rows + i * jets::kJetColumns;
    for (int c = 0; c < 5; ++c) {
      if (r[jets::kJetG + c] == 1.0) {
        mass_[c].push_back(r[jets::kJetMass]);
        mult_[c].push_back(r[jets::kJetMultiplicity]);
      }
    }
  }
}

void ToySummary::fill(ToyFilesResult& r) const {
  double msum = 0;
  std::int64_t total = 0;
  for (int c = 0; c < 5; ++c) {
    if (mass_[c].empty()) continue;
    ClassSummary s;
    s.name = class_name(static_cast<JetClass>(c));
    s.jets = static_cast<std::int64_t>(mass_[c].size());
    std::vector<double> m = mass_[c], k = mult_[c];
    double sum = 0, sum2 = 0, ksum = 0;
    std::int64_t low = 0;
    for (double x : m) {
      sum += x;
      sum2 += x * x;
      low += x < 60.0;
    }
    for (double x : k) ksum += x;
    s.mass_mean = sum / s.jets;
    s.mass_std = std::sqrt(std::max(0.0, sum2 / s.jets - s.mass_mean * s.mass_mean));
    std::sort(m.begin(), m.end());
    std::sort(k.begin(), k.end());
    auto q = [](const std::vector<double>& v, double f) { return v[static_cast<std::size_t>(f * (v.size() - 1))]; };
    s.mass_median = q(m, 0.5);
    s.mass_p16 = q(m, 0.16);
    s.mass_p84 = q(m, 0.84);
    s.frac_below_60 = static_cast<double>(low) / s.jets;
    s.multiplicity_mean = ksum / s.jets;
    s.multiplicity_p5 = q(k, 0.05);
    s.multiplicity_p95 = q(k, 0.95);
    msum += ksum;
    total += s.jets;
    r.classes.push_back(s);
  }
  r.multiplicity_mean = total > 0 ? msum / total : 0.0;
}

std::string ToyFilesResult::summary_json() const {
  std::string s = "{\"seconds\": " + make_message(seconds) + ", \"multiplicity_mean\": " +
                  make_message(multiplicity_mean) + ", \"classes\": [";
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const ClassSummary& c = classes[i];
    s += make_message(i ? ", " : "", "{\"class\": \"", c.name, "\", \"jets\": ", c.jets, ", \"mass_mean\": ", c.mass_mean,
                      ", \"mass_std\": ", c.mass_std, ", \"mass_median\": ", c.mass_median, ", \"mass_p16\": ",
                      c.mass_p16, ", \"mass_p84\": ", c.mass_p84, ", \"frac_mass_below_60\": ", c.frac_below_60,
                      ", \"multiplicity_mean\": ", c.multiplicity_mean, ", \"multiplicity_p5\": ", c.multiplicity_p5,
                      ", \"multiplicity_p95\": ", c.multiplicity_p95, "}");
  }
  return s + "]}";
}

namespace {

// pT images of data-format.md 1.2 from the stored constituent rows (cells of 0.016 in
// (etarel, phirel) over +-0.8): all, ECAL-only and HCAL-only candidates.
void fill_images(const double* raw, const std::uint8_t* kinds, int P, double* all, double* ecal, double* hcal) {
  const std::size_t cells = static_cast<std::size_t>(jets::kImageSize) * jets::kImageSize;
  std::fill(all, all + cells, 0.0);
  std::fill(ecal, ecal + cells, 0.0);
  std::fill(hcal, hcal + cells, 0.0);
  for (int p = 0; p < P; ++p) {
    const double* r = raw + static_cast<std::size_t>(p) * jets::kRawParticleColumns;
    if (kinds[p] == 255) break;
    const int i = static_cast<int>(std::floor((r[jets::kEtaRel] + 0.8) / jets::kImageCell));
    const int j = static_cast<int>(std::floor((r[jets::kPhiRel] + 0.8) / jets::kImageCell));
    if (i < 0 || i >= jets::kImageSize || j < 0 || j >= jets::kImageSize) continue;
    const std::size_t c = static_cast<std::size_t>(i) * jets::kImageSize + j;
    all[c] += r[jets::kPt];
    if (kinds[p] == static_cast<std::uint8_t>(CandidateKind::Ecal)) ecal[c] += r[jets::kPt];
    if (kinds[p] == static_cast<std::uint8_t>(CandidateKind::Hcal)) hcal[c] += r[jets::kPt];
  }
}

bool is_jet_file(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.rfind("jetImage_", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".h5";
}

}  // namespace

ToyFilesResult write_toy_files(const ToyFilesOptions& o) {
  UCLUSTER_CHECK(o.jets >= 1, "number of jets must be positive, got ", o.jets);
  UCLUSTER_CHECK(o.val_jets >= 0, "number of validation jets must not be negative");
  UCLUSTER_CHECK(o.per_file >= 1, "jets per file must be positive");
  UCLUSTER_CHECK(o.particles >= 1, "particles per jet must be positive");
  UCLUSTER_CHECK(!o.classes.empty(), "no jet classes selected");
  const auto start = std::chrono::steady_clock::now();
  struct Set {
    std::string name;
    std::int64_t jets;
    std::uint64_t seed;
  };
  // The val set is an independent stream derived from the same seed.
  std::vector<Set> sets = {{"train", o.jets, o.seed}};
  if (o.val_jets > 0) sets.push_back({"val", o.val_jets, mix_seed(o.seed ^ 0x76616c5f6a657473ull)});

  std::vector<fs::path> stale;
  for (const Set& set : sets) {
    const fs::path dir = fs::path(o.out_dir) / set.name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (is_jet_file(e.path())) stale.push_back(e.path());
    }
  }
  UCLUSTER_CHECK(stale.empty() || o.overwrite, "'", stale.empty() ? "" : stale.front().parent_path().string(),
                 "' already holds jet files (", stale.size(), " jetImage_*.h5); use --overwrite to replace them or "
                 "choose another --out");

  ToyFilesResult result;
  ToySummary summary;
  std::vector<std::unique_ptr<StagedFile>> staged;
  const std::int64_t block = o.images ? 100 : 1000;
  const int P = o.particles;
  std::vector<double> raw, rows, img[3];
  std::vector<std::uint8_t> kinds;
  for (const Set& set : sets) {
    const fs::path dir = fs::path(o.out_dir) / set.name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    UCLUSTER_CHECK(fs::is_directory(dir, ec), "cannot create directory '", dir.string(), "'");
    const Generator gen(set.seed, o.classes, o.config);
    std::int64_t k = 0;
    for (std::int64_t first = 0; first < set.jets; first += o.per_file, ++k) {
      const std::int64_t n = std::min(o.per_file, set.jets - first);
      const std::string name = make_message("jetImage_", k, "_", P, "p_", first, "_", first + n, ".h5");
      staged.push_back(std::make_unique<StagedFile>((dir / name).string()));
      jets::RawFileWriter writer(staged.back()->temp_path(), n, P, {o.gzip_level, 100, o.images});
      for (std::int64_t b = 0; b < n; b += block) {
        const std::int64_t m = std::min(block, n - b);
        raw.resize(static_cast<std::size_t>(m) * P * jets::kRawParticleColumns);
        rows.resize(static_cast<std::size_t>(m) * jets::kJetColumns);
        kinds.resize(static_cast<std::size_t>(m) * P);
        gen.generate_block(first + b, m, P, raw.data(), rows.data(), o.images ? kinds.data() : nullptr, o.threads);
        writer.write(b, m, raw.data(), rows.data());
        if (o.images) {
          const std::size_t cells = static_cast<std::size_t>(jets::kImageSize) * jets::kImageSize;
          for (auto& v : img) v.resize(m * cells);
          for (std::int64_t i = 0; i < m; ++i) {
            fill_images(raw.data() + i * P * jets::kRawParticleColumns, kinds.data() + i * P, P,
                        img[0].data() + i * cells, img[1].data() + i * cells, img[2].data() + i * cells);
          }
          writer.write_images(b, m, img[0].data(), img[1].data(), img[2].data());
        }
        if (set.name == "train") summary.add(rows.data(), m);
      }
      writer.close();
      if (o.log) o.log(make_message((dir / name).string(), ": ", n, " jets"));
    }
  }
  // Everything is written: replace stale files, then publish the new ones.
  for (const fs::path& p : stale) {
    std::error_code ec;
    fs::remove(p, ec);
  }
  for (auto& s : staged) {
    s->commit();
    result.files.push_back(s->final_path());
  }
  summary.fill(result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ucluster::toy
