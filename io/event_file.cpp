#include "io/event_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/error.h"

namespace ucluster::events {

namespace {

constexpr int kMaxParticles = 10000;  // a bound on P for damaged files (the task writes 100)

std::string shape_string(const h5::Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += make_message(i ? ", " : "", d[i]);
  return s + "]";
}

std::string in_file(const std::string& dataset, const std::string& path) {
  return "dataset '" + dataset + "' in file '" + path + "'";
}

// True when no value is NaN or +-inf (tested on the bits, so that the loop vectorises).
bool all_finite(const float* v, std::size_t n) {
  std::uint32_t bad = 0;
  for (std::size_t k = 0; k < n; ++k) {
    std::uint32_t bits;
    std::memcpy(&bits, v + k, sizeof(bits));
    bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

void require_class(const h5::Dataset& d, h5::TypeClass want, const char* what) {
  if (d.type_class() != want) fail(in_file(d.name(), d.file()), " holds ", d.type_name(), ", expected ", what);
}

}  // namespace

namespace {

// Checks the writer's arguments before the file is created.
h5::File create_checked(const std::string& path, std::int64_t n_events, int n_particles,
                        const EventWriterOptions& options) {
  UCLUSTER_CHECK(n_events >= 1, "event file '", path, "': ", n_events, " events requested, need at least 1");
  UCLUSTER_CHECK(n_particles >= 1 && n_particles <= kMaxParticles, "event file '", path, "': ", n_particles,
                 " particles per event requested, need 1..", kMaxParticles);
  UCLUSTER_CHECK(options.gzip_level >= 0 && options.gzip_level <= 9, "event file '", path, "': gzip level ",
                 options.gzip_level, " is outside 0..9");
  return h5::File::create(path);
}

}  // namespace

EventFileWriter::EventFileWriter(const std::string& path, std::int64_t n_events, int n_particles,
                                 const EventWriterOptions& options)
    : file_(create_checked(path, n_events, n_particles, options)), n_events_(n_events), n_particles_(n_particles) {
  // Chunks may not exceed a fixed-size axis: a file of fewer events than chunk_rows has one chunk.
  const std::int64_t c = std::min(std::max<std::int64_t>(1, options.chunk_rows), n_events);
  const int z = options.gzip_level;
  const int P = n_particles;
  data_ = file_.create_dataset("data", h5::Element::F32, {n_events, P, kEventFeatures}, {{c, P, kEventFeatures}, z, z > 0});
  target_ = file_.create_dataset("target_bin", h5::Element::I8, {n_events, P}, {{c, P}, z, false});
  global_ = file_.create_dataset("global", h5::Element::F32, {n_events, kEventGlobals}, {{c, kEventGlobals}, z, false});
  mjj_ = file_.create_dataset("mjj", h5::Element::F32, {n_events}, {{c}, z, false});
  signal_ = file_.create_dataset("is_signal", h5::Element::I8, {n_events}, {{c}, z, false});
  row_ = file_.create_dataset("source_row", h5::Element::I64, {n_events}, {{c}, z, false});
  file_.write_attribute("layout", kLayout);
  file_.write_attribute("task", options.task);
}

void EventFileWriter::write(std::int64_t first, std::int64_t count, const float* data, const std::int8_t* target_bin,
                            const float* global, const float* mjj, const std::int8_t* is_signal,
                            const std::int64_t* source_row) {
  UCLUSTER_CHECK(first >= 0 && count >= 0 && first + count <= n_events_, "event file '", path(), "': rows [", first,
                 ", ", first + count, ") written, the file has ", n_events_, " events");
  for (std::int64_t i = 0; i < count; ++i) {
    for (int p = 0; p < n_particles_; ++p) {
      const int t = target_bin[i * n_particles_ + p];
      UCLUSTER_CHECK(t >= 0 && t < kMassClasses, "event file '", path(), "': event ", first + i, ", particle ", p,
                     ": target_bin ", t, " is outside 0..", kMassClasses - 1);
    }
    UCLUSTER_CHECK(is_signal[i] == 0 || is_signal[i] == 1, "event file '", path(), "': event ", first + i,
                   ": is_signal ", int{is_signal[i]}, " is not 0 or 1");
  }
  data_.write_rows(first, count, data);
  target_.write_rows(first, count, target_bin);
  global_.write_rows(first, count, global);
  mjj_.write_rows(first, count, mjj);
  signal_.write_rows(first, count, is_signal);
  row_.write_rows(first, count, source_row);
}

void EventFileWriter::set_events(std::int64_t n_events) {
  UCLUSTER_CHECK(n_events >= 0 && n_events <= n_events_, "event file '", path(), "': cannot resize to ", n_events,
                 " events (created for ", n_events_, ")");
  h5::QuietErrors quiet;
  for (h5::Dataset* d : {&data_, &target_, &global_, &mjj_, &signal_, &row_}) {
    h5::Dims dims = d->shape();
    dims[0] = n_events;
    std::vector<hsize_t> h(dims.begin(), dims.end());
    // Shrinking within the maximum shape (the created one) is allowed for chunked datasets;
    // chunks wholly beyond the new end are freed (none were written there).
    UCLUSTER_CHECK(H5Dset_extent(d->id(), h.data()) >= 0, in_file(d->name(), path()), ": cannot resize to ",
                   n_events, " events: ", h5::last_error_message());
  }
  n_events_ = n_events;
}

void EventFileWriter::set_attribute(const std::string& name, const std::string& value) {
  file_.write_attribute(name, value);
}

void EventFileWriter::close() {
  for (h5::Dataset* d : {&data_, &target_, &global_, &mjj_, &signal_, &row_}) *d = h5::Dataset();
  file_.close();
}

// ------------------------------------------------------------------------------------------------

bool EventFile::is_event_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  {
    h5::QuietErrors quiet;
    if (H5Fis_hdf5(path.c_str()) <= 0) return false;
  }
  try {
    const h5::File f = h5::File::open(path);
    return f.has_attribute("layout") && f.read_string_attribute("layout") == kLayout;
  } catch (const std::exception&) {
    return false;
  }
}

EventFile::EventFile(const std::string& path) : file_(h5::File::open(path)) {
  UCLUSTER_CHECK(file_.has_attribute("layout"), "file '", path, "' is not a prepared event file: it has no 'layout' ",
                 "attribute (expected '", kLayout, "'; prepare it with prepare-data --task lhco)");
  const std::string layout = file_.read_string_attribute("layout");
  UCLUSTER_CHECK(layout == kLayout, "file '", path, "' has layout '", layout, "', expected '", kLayout, "'");
  task_ = file_.has_attribute("task") ? file_.read_string_attribute("task") : "";
  for (const char* name : {"data", "target_bin", "global", "mjj", "is_signal", "source_row"}) {
    UCLUSTER_CHECK(file_.contains(name), "file '", path, "' has no dataset '", name, "' (damaged event file?)");
  }
  data_ = file_.open_dataset("data");
  const h5::Dims dd = data_.shape();
  UCLUSTER_CHECK(dd.size() == 3 && dd[2] == kEventFeatures && dd[1] >= 1 && dd[1] <= kMaxParticles,
                 in_file("data", path), " has shape ", shape_string(dd), ", expected [N, P, ", kEventFeatures,
                 "] with 1 <= P <= ", kMaxParticles);
  require_class(data_, h5::TypeClass::Float, "floating point (float32)");
  n_events_ = dd[0];
  n_particles_ = static_cast<int>(dd[1]);
  const h5::Dims chunk = data_.chunk();
  chunk_rows_ = chunk.empty() ? 0 : chunk[0];
  if (chunk_rows_ > 0) {
    // As io/ucluster_file.cpp: a few decompressed chunks for compressed data, none otherwise (HDF5
    // then reads straight into the caller's buffer).
    const std::int64_t bytes = chunk_rows_ * n_particles_ * kEventFeatures * static_cast<std::int64_t>(sizeof(float));
    data_ = file_.open_dataset("data", data_.filters().empty() ? 0 : std::min<std::int64_t>(4 * bytes, 256 << 20));
  }
  target_ = file_.open_dataset("target_bin");
  global_ = file_.open_dataset("global");
  mjj_ = file_.open_dataset("mjj");
  signal_ = file_.open_dataset("is_signal");
  row_ = file_.open_dataset("source_row");
  const auto expect_shape = [&](const h5::Dataset& d, const h5::Dims& want) {
    const h5::Dims got = d.shape();
    UCLUSTER_CHECK(got == want, in_file(d.name(), path), " has shape ", shape_string(got), ", expected ",
                   shape_string(want));
  };
  expect_shape(target_, {n_events_, n_particles_});
  expect_shape(global_, {n_events_, kEventGlobals});
  expect_shape(mjj_, {n_events_});
  expect_shape(signal_, {n_events_});
  expect_shape(row_, {n_events_});
  require_class(target_, h5::TypeClass::Integer, "integers (int8)");
  require_class(global_, h5::TypeClass::Float, "floating point (float32)");
  require_class(mjj_, h5::TypeClass::Float, "floating point (float32)");
  require_class(signal_, h5::TypeClass::Integer, "integers (int8)");
  require_class(row_, h5::TypeClass::Integer, "integers (int64)");
  for (const h5::Dataset* d : {&data_, &target_, &global_, &mjj_, &signal_, &row_}) d->check_filters_available();
}

std::string EventFile::attribute(const std::string& name) const {
  UCLUSTER_CHECK(file_.has_attribute(name), "file '", path(), "' has no attribute '", name, "'");
  return file_.read_string_attribute(name);
}

void EventFile::check_range(std::int64_t first, std::int64_t count) const {
  UCLUSTER_CHECK(first >= 0 && count >= 0 && first + count <= n_events_, "file '", path(), "': events [", first, ", ",
                 first + count, ") requested, the file has ", n_events_);
}

void EventFile::read(std::int64_t first, std::int64_t count, float* data, std::int32_t* target_bin, float* global,
                     float* mjj, std::int32_t* is_signal, bool check_data) const {
  check_range(first, count);
  if (data != nullptr) {
    data_.read_rows(first, count, data);
    if (check_data) {
      const std::size_t row = static_cast<std::size_t>(n_particles_) * kEventFeatures;
      for (std::int64_t i = 0; i < count; ++i) {
        UCLUSTER_CHECK(all_finite(data + i * row, row), "file '", path(), "': event ", first + i,
                       ": NaN or infinity in 'data'");
      }
    }
  }
  if (target_bin != nullptr) {
    target_.read_rows(first, count, target_bin);
    for (std::int64_t i = 0; i < count; ++i) {
      for (int p = 0; p < n_particles_; ++p) {
        const std::int32_t t = target_bin[i * n_particles_ + p];
        UCLUSTER_CHECK(t >= 0 && t < kMassClasses, "file '", path(), "': event ", first + i, ", particle ", p,
                       ": target_bin ", t, " is outside 0..", kMassClasses - 1);
      }
    }
  }
  if (global != nullptr) {
    global_.read_rows(first, count, global);
    if (check_data) {
      for (std::int64_t i = 0; i < count; ++i) {
        UCLUSTER_CHECK(all_finite(global + i * kEventGlobals, kEventGlobals), "file '", path(), "': event ",
                       first + i, ": NaN or infinity in 'global'");
      }
    }
  }
  if (mjj != nullptr) {
    mjj_.read_rows(first, count, mjj);
    for (std::int64_t i = 0; i < count; ++i) {
      UCLUSTER_CHECK(std::isfinite(mjj[i]), "file '", path(), "': event ", first + i, ": mjj is ", mjj[i]);
    }
  }
  if (is_signal != nullptr) {
    signal_.read_rows(first, count, is_signal);
    for (std::int64_t i = 0; i < count; ++i) {
      UCLUSTER_CHECK(is_signal[i] == 0 || is_signal[i] == 1, "file '", path(), "': event ", first + i,
                     ": is_signal ", is_signal[i], " is not 0 or 1");
    }
  }
}

void EventFile::read_source_rows(std::int64_t first, std::int64_t count, std::int64_t* source_row) const {
  check_range(first, count);
  row_.read_rows(first, count, source_row);
}

}  // namespace ucluster::events
