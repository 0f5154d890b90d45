#include "io/ucluster_file.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "io/jet_layout.h"

namespace ucluster::jets {

UclusterWriter::UclusterWriter(const std::string& path, std::int64_t n_jets, int n_particles,
                               const UclusterWriterOptions& options)
    : file_(h5::File::create(path)), n_particles_(n_particles) {
  const std::int64_t c = std::max<std::int64_t>(1, options.chunk_rows);
  const int z = options.gzip_level;
  data_ = file_.create_dataset("data", h5::Element::F32, {n_jets, n_particles, kFeatures},
                               {{c, n_particles, kFeatures}, z, z > 0});
  label_ = file_.create_dataset("label", h5::Element::F32, {n_jets, kClasses}, {{c, kClasses}, z, false});
  pid_ = file_.create_dataset("pid", h5::Element::I32, {n_jets}, {{c}, z, false});
  masses_ = file_.create_dataset("masses", h5::Element::F32, {n_jets}, {{c}, z, false});
  global_ = file_.create_dataset("global", h5::Element::F32, {n_jets, kGlobals}, {{c, kGlobals}, z, false});
}

void UclusterWriter::write(std::int64_t first, std::int64_t count, const float* data, const std::int32_t* pid,
                           const std::int32_t* truth, const float* mass, const float* global) {
  std::vector<float> label(static_cast<std::size_t>(count) * kClasses, 0.0f);
  for (std::int64_t i = 0; i < count; ++i) {
    UCLUSTER_CHECK(truth[i] >= 0 && truth[i] < kClasses, "file '", path(), "': truth class ", truth[i], " of row ",
                   first + i, " is not 0, 1 or 2");
    label[i * kClasses + truth[i]] = 1.0f;
  }
  data_.write_rows(first, count, data);
  label_.write_rows(first, count, label.data());
  pid_.write_rows(first, count, pid);
  masses_.write_rows(first, count, mass);
  global_.write_rows(first, count, global);
}

void UclusterWriter::close() {
  for (h5::Dataset* d : {&data_, &label_, &pid_, &masses_, &global_}) *d = h5::Dataset();
  file_.close();
}

// ------------------------------------------------------------------------------------------------

namespace {

std::string shape_string(const h5::Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += make_message(i ? ", " : "", d[i]);
  return s + "]";
}

// True when no value is NaN or +-inf: an all-ones exponent, tested on the bits so that the loop
// vectorises (this check runs on every row the loader reads).
bool all_finite(const float* v, std::size_t n) {
  std::uint32_t bad = 0;
  for (std::size_t k = 0; k < n; ++k) {
    std::uint32_t bits;
    std::memcpy(&bits, v + k, sizeof(bits));
    bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

void require_numeric(const h5::Dataset& d) {
  const auto t = d.type_class();
  if (t != h5::TypeClass::Float && t != h5::TypeClass::Integer) {
    fail("dataset '", d.name(), "' in file '", d.file(), "' holds ", d.type_name(), ", expected numbers");
  }
}

}  // namespace

UclusterFile::UclusterFile(const std::string& path) : file_(h5::File::open(path)) {
  UCLUSTER_CHECK(file_.contains("data") || !file_.contains("jetConstituentList"), "file '", path,
                 "' is a raw HLS4ML jet file, not a prepared one: run prepare-data on it first");
  for (const char* name : {"data", "label", "pid", "masses"}) {
    UCLUSTER_CHECK(file_.contains(name), "file '", path, "' has no dataset '", name, "' (not a UCluster-layout file?)");
  }
  data_ = file_.open_dataset("data");
  const h5::Dims dd = data_.shape();
  UCLUSTER_CHECK(dd.size() == 3 && dd[2] == kFeatures && dd[1] >= 1, "dataset 'data' in file '", path,
                 "' has shape ", shape_string(dd), ", expected [N, P, ", kFeatures, "]");
  if (data_.type_class() != h5::TypeClass::Float) {
    fail("dataset 'data' in file '", path, "' holds ", data_.type_name(), ", expected floating point (float32)");
  }
  n_jets_ = dd[0];
  UCLUSTER_CHECK(dd[1] <= kMaxParticles, "dataset 'data' in file '", path, "' declares ", dd[1],
                 " particles per jet; at most ", kMaxParticles, " are supported (damaged file?)");
  n_particles_ = static_cast<int>(dd[1]);
  n_features_ = static_cast<int>(dd[2]);
  const h5::Dims chunk = data_.chunk();
  chunk_rows_ = chunk.empty() ? 0 : chunk[0];
  if (chunk_rows_ > 0) {
    // Compressed: room for a few decompressed chunks, so that consecutive partial reads of a
    // chunk decompress it once. Uncompressed: no cache, HDF5 reads into the batch directly.
    const std::int64_t bytes = chunk_rows_ * n_particles_ * n_features_ * static_cast<std::int64_t>(sizeof(float));
    data_ = file_.open_dataset("data", data_.filters().empty() ? 0 : std::min<std::int64_t>(4 * bytes, 256 << 20));
  }
  label_ = file_.open_dataset("label");
  pid_ = file_.open_dataset("pid");
  masses_ = file_.open_dataset("masses");
  const h5::Dims ld = label_.shape(), pd = pid_.shape(), md = masses_.shape();
  UCLUSTER_CHECK(ld.size() == 2 && ld[0] == n_jets_ && ld[1] == kClasses, "dataset 'label' in file '", path,
                 "' has shape ", shape_string(ld), ", expected [", n_jets_, ", ", kClasses, "]");
  UCLUSTER_CHECK(pd.size() == 1 && pd[0] == n_jets_, "dataset 'pid' in file '", path, "' has shape ",
                 shape_string(pd), ", expected [", n_jets_, "]");
  UCLUSTER_CHECK(md.size() == 1 && md[0] == n_jets_, "dataset 'masses' in file '", path, "' has shape ",
                 shape_string(md), ", expected [", n_jets_, "]");
  for (const h5::Dataset* d : {&label_, &pid_, &masses_}) require_numeric(*d);
  has_global_ = file_.contains("global");
  if (has_global_) {
    global_ = file_.open_dataset("global");
    const h5::Dims gd = global_.shape();
    UCLUSTER_CHECK(gd.size() == 2 && gd[0] == n_jets_ && gd[1] == kGlobals, "dataset 'global' in file '", path,
                   "' has shape ", shape_string(gd), ", expected [", n_jets_, ", ", kGlobals, "]");
    require_numeric(global_);
  }
  for (const h5::Dataset* d : {&data_, &label_, &pid_, &masses_}) d->check_filters_available();
}

void UclusterFile::read(std::int64_t first, std::int64_t count, float* data, std::int32_t* pid, std::int32_t* truth,
                        float* mass, float* global, bool check_data) const {
  if (data != nullptr) {
    data_.read_rows(first, count, data);
    if (check_data) {
      const std::size_t row = static_cast<std::size_t>(n_particles_) * n_features_;
      for (std::int64_t i = 0; i < count; ++i) {
        UCLUSTER_CHECK(all_finite(data + i * row, row), "file '", path(), "': jet ", first + i,
                       ": NaN or infinity in 'data'");
      }
    }
  }
  if (truth != nullptr) {
    std::vector<float> label(static_cast<std::size_t>(count) * kClasses);
    label_.read_rows(first, count, label.data());
    for (std::int64_t i = 0; i < count; ++i) {
      const float* l = label.data() + i * kClasses;
      int ones = 0, which = -1;
      bool binary = true;
      for (int c = 0; c < kClasses; ++c) {
        if (l[c] == 1.0f) {
          ++ones;
          which = c;
        } else if (l[c] != 0.0f) {
          binary = false;
        }
      }
      UCLUSTER_CHECK(ones == 1 && binary, "file '", path(), "': jet ", first + i, ": label [", l[0], ", ", l[1], ", ",
                     l[2], "] is not one-hot (W, Z, top)");
      truth[i] = which;
    }
  }
  if (pid != nullptr) {
    std::vector<double> p(static_cast<std::size_t>(count));
    pid_.read_rows(first, count, p.data());
    for (std::int64_t i = 0; i < count; ++i) {
      UCLUSTER_CHECK(p[i] >= 0 && p[i] < kMassBins && p[i] == std::floor(p[i]), "file '", path(), "': jet ",
                     first + i, ": pid ", p[i], " is not a mass-bin index in [0, ", kMassBins, ")");
      pid[i] = static_cast<std::int32_t>(p[i]);
    }
  }
  if (mass != nullptr) {
    masses_.read_rows(first, count, mass);
    for (std::int64_t i = 0; i < count; ++i) {
      UCLUSTER_CHECK(std::isfinite(mass[i]), "file '", path(), "': jet ", first + i, ": mass is ", mass[i]);
    }
  }
  if (global != nullptr) {
    if (has_global_) global_.read_rows(first, count, global);
    else std::fill(global, global + count * kGlobals, 0.0f);
  }
}

}  // namespace ucluster::jets
