// Files in the UCluster layout (spec 1.6): data [N, P, 8] float32, label [N, 3] one-hot (W, Z,
// top), pid [N] mass-bin index, masses [N], global [N, 4].
//
// Written here as: data float32, label float32, pid int32, masses float32, global float32, all
// chunked along the jet axis with the same chunk rows (default 256 jets = 800 kB of data) and
// uncompressed by default: the training loader reads well over 10^6 jets/s from such a file,
// which gzip (a few 10^5 jets/s per core to decompress) would cap. Files written by the original
// project's script (float64 label/pid/masses, contiguous layout) are read as well.
#pragma once

#include <cstdint>
#include <string>

#include "io/h5.h"

namespace ucluster::jets {

struct UclusterWriterOptions {
  std::int64_t chunk_rows = 256;
  int gzip_level = 0;
};

class UclusterWriter {
 public:
  UclusterWriter(const std::string& path, std::int64_t n_jets, int n_particles,
                 const UclusterWriterOptions& options = {});
  // Rows [first, first + count): data [count, P, 8], pid, truth class (0..2, written as one-hot
  // label rows), mass, global [count, 4].
  void write(std::int64_t first, std::int64_t count, const float* data, const std::int32_t* pid,
             const std::int32_t* truth, const float* mass, const float* global);
  void set_attribute(const std::string& name, const std::string& value) { file_.write_attribute(name, value); }
  const std::string& path() const { return file_.path(); }
  void close();

 private:
  h5::File file_;
  h5::Dataset data_, label_, pid_, masses_, global_;
  int n_particles_ = 0;
};

class UclusterFile {
 public:
  // Opens and checks the layout: data [N, P, 8] floating point, label [N, 3], pid [N],
  // masses [N] (numeric), global [N, 4] when present; each failure names the file and dataset.
  explicit UclusterFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::int64_t n_jets() const { return n_jets_; }
  int n_particles() const { return n_particles_; }
  int n_features() const { return n_features_; }
  // Rows per chunk of `data` (0 when the dataset is not chunked).
  std::int64_t chunk_rows() const { return chunk_rows_; }
  bool has_global() const { return has_global_; }

  // Rows [first, first + count) into the given buffers (any may be null to skip, except that
  // truth needs the label read and is validated: exactly one 1 per row). pid must be an integer in
  // [0, 20). With check_data, every data value must be finite. Errors name the file and the row.
  void read(std::int64_t first, std::int64_t count, float* data, std::int32_t* pid, std::int32_t* truth, float* mass,
            float* global, bool check_data) const;

 private:
  h5::File file_;
  h5::Dataset data_, label_, pid_, masses_, global_;
  std::int64_t n_jets_ = 0, chunk_rows_ = 0;
  int n_particles_ = 0, n_features_ = 0;
  bool has_global_ = false;
};

}  // namespace ucluster::jets
