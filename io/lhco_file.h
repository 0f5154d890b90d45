// The LHC Olympics 2020 R&D event file (ucluster-ad-spec.md 1.1): a pandas "fixed"-format
// DataFrame under key `df`, float64 rows of 700 x (pT, eta, phi) zero-padded, then (R&D file only)
// the truth label; the black-box files have no label column. The reader validates the layout and
// reads row ranges (hyperslabs of /df/block0_values), never the whole 1.1 M-event file; the writer
// produces exactly that layout for the stand-in (make-toy-events, spec 5.2/5.3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5.h"

namespace ucluster::lhco {

inline constexpr int kParticles = 700;
inline constexpr int kParticleColumns = 3 * kParticles;      // 2100: unlabelled (black box)
inline constexpr int kLabelledColumns = kParticleColumns + 1;  // 2101: the R&D file
inline constexpr const char* kKey = "df";
inline constexpr const char* kValues = "df/block0_values";

// What a filter needs when this libhdf5 cannot decode it: "blosc (HDF5 filter 32001): install ...".
// Exposed for the tests.
std::string missing_filter_advice(int filter_id, const std::string& registered_name);

class LhcoFile {
 public:
  // Opens and validates `path`; each problem gets its own message naming the file: not HDF5,
  // truncated, no `df` key (with the keys found), a `table`-format frame, several blocks (mixed
  // dtypes), a dtype other than float64, a column count other than 2101/2100, axis lengths that
  // disagree with the values, a filter that is not available (naming the plugin it needs).
  explicit LhcoFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::int64_t n_events() const { return n_events_; }
  int columns() const { return columns_; }
  // True for 2101 columns (the label is the last one), false for a 2100-column black box.
  bool has_labels() const { return columns_ == kLabelledColumns; }
  // The filter pipeline of the values, in order ("deflate", "shuffle", ...; empty: none).
  std::vector<std::string> filters() const { return values_.filters(); }

  // Rows [first, first + count) into `out` (resized to count * columns()), row-major.
  void read_rows(std::int64_t first, std::int64_t count, std::vector<double>& out) const;
  // The labels of rows [first, first + count) (has_labels() only): 0 or 1, any other value throws.
  std::vector<std::int8_t> read_labels(std::int64_t first, std::int64_t count) const;

 private:
  h5::File file_;
  h5::Dataset values_;
  std::int64_t n_events_ = 0;
  int columns_ = 0;
};

struct LhcoWriterOptions {
  bool labels = true;           // 2101 columns; false: the 2100-column black-box layout
  int gzip_level = 4;           // deflate (readable by pandas/PyTables with no plugin)
  std::int64_t chunk_rows = 64;  // chunks of 64 x 2101 float64 (about 1 MiB)
};

class LhcoFileWriter {
 public:
  // Creates the frame: /df with pandas' attributes, axis0 = block0_items = column labels 0..C-1,
  // axis1 = row index 0..N-1, block0_values float64 [N, C] (transposed = 1).
  LhcoFileWriter(const std::string& path, std::int64_t n_events, const LhcoWriterOptions& options = {});
  int columns() const { return columns_; }
  // Rows [first, first + count), each of columns() doubles.
  void write(std::int64_t first, std::int64_t count, const double* rows);
  void close();

 private:
  h5::File file_;
  h5::Dataset values_;
  int columns_ = 0;
};

}  // namespace ucluster::lhco
