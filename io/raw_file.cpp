#include "io/raw_file.h"

#include "engine/error.h"
#include "io/preprocess.h"

namespace ucluster::jets {

namespace {

std::string shape_string(const h5::Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += make_message(i ? ", " : "", d[i]);
  return s + "]";
}

void require_float(const h5::Dataset& d) {
  if (d.type_class() != h5::TypeClass::Float) {
    fail("dataset '", d.name(), "' in file '", d.file(), "' holds ", d.type_name(),
         ", expected floating point (float64)");
  }
}

std::size_t chunk_bytes(const h5::Dataset& d) {
  std::size_t b = 8;
  for (std::int64_t c : d.chunk()) b *= static_cast<std::size_t>(c);
  return d.chunk().empty() ? 0 : b;
}

}  // namespace

RawFile::RawFile(const std::string& path) : file_(h5::File::open(path)) {
  for (const char* name : {"jetConstituentList", "jets", "particleFeatureNames", "jetFeatureNames"}) {
    UCLUSTER_CHECK(file_.contains(name), "file '", path, "' has no dataset '", name,
                   "' (not a raw HLS4ML jet file?)");
  }
  constituents_ = file_.open_dataset("jetConstituentList");
  // A few decompressed chunks, so that reads not aligned to chunks decompress each chunk once.
  const std::int64_t cb = static_cast<std::int64_t>(chunk_bytes(constituents_));
  if (cb > 0) {
    constituents_ = file_.open_dataset("jetConstituentList",
                                       constituents_.filters().empty() ? 0 : std::min<std::int64_t>(4 * cb, 256 << 20));
  }
  jets_ = file_.open_dataset("jets");
  require_float(constituents_);
  require_float(jets_);
  const h5::Dims cd = constituents_.shape(), jd = jets_.shape();
  UCLUSTER_CHECK(cd.size() == 3 && cd[2] == kRawParticleColumns && cd[1] >= 1, "dataset 'jetConstituentList' in file '",
                 path, "' has shape ", shape_string(cd), ", expected [N, P, ", kRawParticleColumns, "]");
  UCLUSTER_CHECK(jd.size() == 2 && jd[1] == kJetColumns, "dataset 'jets' in file '", path, "' has shape ",
                 shape_string(jd), ", expected [N, ", kJetColumns, "]");
  UCLUSTER_CHECK(jd[0] == cd[0], "file '", path, "': 'jets' has ", jd[0], " rows but 'jetConstituentList' has ",
                 cd[0]);
  n_jets_ = cd[0];
  UCLUSTER_CHECK(cd[1] <= kMaxParticles, "dataset 'jetConstituentList' in file '", path, "' declares ", cd[1],
                 " particles per jet; at most ", kMaxParticles, " are supported (damaged or not an HLS4ML file?)");
  n_particles_ = static_cast<int>(cd[1]);
  constituents_.check_filters_available();
  jets_.check_filters_available();

  const auto pnames = file_.read_strings("particleFeatureNames");
  const bool dangling = pnames.size() == kRawParticleColumns + 1 && pnames.back() == kDanglingParticleName;
  UCLUSTER_CHECK(pnames.size() == kRawParticleColumns || dangling, "file '", path, "': particleFeatureNames has ",
                 pnames.size(), " names, expected ", kRawParticleColumns, " (plus an optional trailing '",
                 kDanglingParticleName, "')");
  for (int c = 0; c < kRawParticleColumns; ++c) {
    UCLUSTER_CHECK(pnames[c] == kParticleNames[c], "file '", path, "': particleFeatureNames[", c, "] is '",
                   pnames[c], "' but column ", c, " of jetConstituentList must be '", kParticleNames[c],
                   "' (feature names in another order)");
  }
  const auto jnames = file_.read_strings("jetFeatureNames");
  UCLUSTER_CHECK(jnames.size() == kJetColumns, "file '", path, "': jetFeatureNames has ", jnames.size(),
                 " names, expected ", kJetColumns);
  for (int c : kCheckedJetColumns) {
    UCLUSTER_CHECK(jnames[c] == kJetNames[c], "file '", path, "': jetFeatureNames[", c, "] is '", jnames[c],
                   "' but column ", c, " of jets must be '", kJetNames[c], "' (feature names in another order)");
  }
}

void RawFile::read_constituents(std::int64_t first, std::int64_t count, std::vector<double>& out) const {
  out.resize(static_cast<std::size_t>(count) * n_particles_ * kRawParticleColumns);
  constituents_.read_rows(first, count, out.data());
}

void RawFile::read_jet_rows(std::int64_t first, std::int64_t count, std::vector<double>& out) const {
  out.resize(static_cast<std::size_t>(count) * kJetColumns);
  jets_.read_rows(first, count, out.data());
}

void RawFile::check_jets(std::int64_t first, std::int64_t count, const double* constituents,
                         const double* jet_rows) const {
  const std::size_t stride = static_cast<std::size_t>(n_particles_) * kRawParticleColumns;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string problem = check_raw_jet(constituents + i * stride, n_particles_, jet_rows + i * kJetColumns);
    if (!problem.empty()) fail("file '", path(), "': jet ", first + i, ": ", problem);
  }
}

void RawFile::check_jet_rows(std::int64_t first, std::int64_t count, const double* jet_rows) const {
  // A padding-only constituent row passes the finite check; the label check is what matters here.
  std::vector<double> dummy(kRawParticleColumns, 0.0);
  dummy[kPt] = 1.0;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string problem = check_raw_jet(dummy.data(), 1, jet_rows + i * kJetColumns);
    if (!problem.empty()) fail("file '", path(), "': jet ", first + i, ": ", problem);
  }
}

// ------------------------------------------------------------------------------------------------

RawFileWriter::RawFileWriter(const std::string& path, std::int64_t n_jets, int n_particles,
                             const RawWriterOptions& options)
    : file_(h5::File::create(path)) {
  const std::int64_t cj = std::max<std::int64_t>(1, std::min(options.chunk_jets, n_jets));
  h5::DatasetOptions copt{{cj, n_particles, kRawParticleColumns}, options.gzip_level, false};
  constituents_ = file_.create_dataset("jetConstituentList", h5::Element::F64, {n_jets, n_particles,
                                                                                kRawParticleColumns}, copt);
  h5::DatasetOptions jopt{{std::max<std::int64_t>(1, std::min<std::int64_t>(10 * cj, n_jets)), kJetColumns},
                          options.gzip_level, false};
  jets_ = file_.create_dataset("jets", h5::Element::F64, {n_jets, kJetColumns}, jopt);
  std::vector<std::string> pn(kParticleNames.begin(), kParticleNames.end());
  pn.emplace_back(kDanglingParticleName);  // as in the real files: 17 names for 16 columns
  file_.write_strings("particleFeatureNames", pn);
  file_.write_strings("jetFeatureNames", std::vector<std::string>(kJetNames.begin(), kJetNames.end()));
  if (options.images) {
    h5::DatasetOptions iopt{{std::max<std::int64_t>(1, std::min<std::int64_t>(10, n_jets)), kImageSize, kImageSize},
                            std::max(1, options.gzip_level), false};
    const char* names[3] = {"jetImage", "jetImageECAL", "jetImageHCAL"};
    for (int i = 0; i < 3; ++i) {
      images_[i] = file_.create_dataset(names[i], h5::Element::F64, {n_jets, kImageSize, kImageSize}, iopt);
    }
  }
}

void RawFileWriter::write(std::int64_t first, std::int64_t count, const double* constituents,
                          const double* jet_rows) {
  constituents_.write_rows(first, count, constituents);
  jets_.write_rows(first, count, jet_rows);
}

void RawFileWriter::write_images(std::int64_t first, std::int64_t count, const double* all, const double* ecal,
                                 const double* hcal) {
  UCLUSTER_CHECK(images_[0].id() >= 0, "file '", file_.path(), "': images were not enabled for this writer");
  images_[0].write_rows(first, count, all);
  images_[1].write_rows(first, count, ecal);
  images_[2].write_rows(first, count, hcal);
}

void RawFileWriter::close() {
  constituents_ = h5::Dataset();
  jets_ = h5::Dataset();
  for (auto& d : images_) d = h5::Dataset();
  file_.close();
}

}  // namespace ucluster::jets
