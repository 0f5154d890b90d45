#include "io/lhco_file.h"

#include <hdf5.h>

#include <algorithm>
#include <numeric>

#include "engine/error.h"

namespace ucluster::lhco {

namespace {

std::string where(const std::string& path) { return "file '" + path + "'"; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(none)" : s;
}

// Throws with missing_filter_advice() for the first filter of the pipeline that libhdf5 cannot
// decode. Dataset::check_filters_available() gives generic advice; the R&D file's likely filter
// (blosc, spec 1.1) needs a specific plugin, so the pipeline is walked here by filter id.
void check_filters(const h5::Dataset& d) {
  h5::QuietErrors quiet;
  h5::Id plist(H5Dget_create_plist(d.id()), H5Pclose);
  const int n = H5Pget_nfilters(plist.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nelem = 0;
    char name[128] = {0};
    const H5Z_filter_t id =
        H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &nelem, nullptr, sizeof(name), name, &config);
    if (H5Zfilter_avail(id) <= 0) {
      fail("dataset '", d.name(), "' in ", where(d.file()), " cannot be decoded: ",
           missing_filter_advice(static_cast<int>(id), name));
    }
  }
}

}  // namespace

std::string missing_filter_advice(int filter_id, const std::string& registered_name) {
  const std::string plugin_path =
      " and set HDF5_PLUGIN_PATH to the directory holding the plugin library (e.g. /usr/lib/x86_64-linux-gnu/hdf5/plugins)";
  std::string what;
  switch (filter_id) {
    case 32001:
      // pandas' complib='blosc' (PyTables bundles blosc, so pandas users never notice).
      return "it is compressed with blosc (HDF5 filter 32001), which this libhdf5 has no plugin for; install the "
             "blosc HDF5 filter plugin (libH5Zblosc from github.com/Blosc/hdf5-blosc, or the one shipped in Python's "
             "hdf5plugin package; Debian's hdf5-filter-plugin has no blosc)" +
             plugin_path + ", or rewrite the file with zlib: ptrepack --complib=zlib --complevel=4 in.h5:/ out.h5:/";
    case 32004: what = "LZ4 (HDF5 filter 32004)"; break;
    case 32008: what = "bitshuffle (HDF5 filter 32008)"; break;
    case 307: what = "bzip2 (HDF5 filter 307)"; break;
    case 32000:
      return "it is compressed with LZF (HDF5 filter 32000), an h5py-only filter; rewrite it with gzip: "
             "h5repack -f GZIP=4 in.h5 out.h5";
    default:
      return "it uses HDF5 filter " + std::to_string(filter_id) +
             (registered_name.empty() ? "" : " ('" + registered_name + "')") +
             ", which this libhdf5 cannot decode; install its plugin" + plugin_path +
             ", or rewrite the file with gzip: h5repack -f GZIP=4 in.h5 out.h5";
  }
  return "it is compressed with " + what + ", which this libhdf5 has no plugin for; install Debian's " +
         "hdf5-filter-plugin" + plugin_path;
}

LhcoFile::LhcoFile(const std::string& path) : file_(h5::File::open(path)) {
  if (!file_.contains(kKey)) {
    fail(where(path), " has no pandas key '", kKey, "' (the LHCO R&D and black-box files store their frame there, ",
         "spec 1.1); its top-level objects: ", join(file_.list("/")));
  }
  if (!file_.contains(kValues)) {
    if (file_.contains("df/table")) {
      fail(where(path), ": '", kKey, "' is a pandas 'table'-format frame; only the 'fixed' format of the R&D files is ",
           "read (rewrite it with df.to_hdf(path, key='df', format='fixed'))");
    }
    fail(where(path), ": '", kKey, "' is not a pandas fixed-format frame (no '", kValues, "'; it holds ",
         join(file_.list(kKey)), ")");
  }
  if (file_.has_attribute(kKey, "pandas_type")) {
    const std::string type = file_.read_string_attribute(kKey, "pandas_type");
    UCLUSTER_CHECK(type == "frame", where(path), ": '", kKey, "' is a pandas '", type, "', expected a 'frame'");
  }
  if (file_.has_attribute(kKey, "nblocks")) {
    const std::int64_t blocks = file_.read_int_attribute(kKey, "nblocks");
    UCLUSTER_CHECK(blocks == 1, where(path), ": the frame has ", blocks,
                   " blocks (columns of mixed dtypes); the R&D layout is one float64 block");
  }
  values_ = file_.open_dataset(kValues);
  const h5::Dims d = values_.shape();
  UCLUSTER_CHECK(d.size() == 2, where(path), ": '", kValues, "' has rank ", d.size(), ", expected [events, columns]");
  UCLUSTER_CHECK(values_.type_name() == "float64", where(path), ": '", kValues, "' holds ", values_.type_name(),
                 ", expected float64 (spec 1.1)");
  if (file_.has_attribute(kValues, "transposed")) {
    UCLUSTER_CHECK(file_.read_int_attribute(kValues, "transposed") != 0, where(path), ": '", kValues,
                   "' is stored column by column (transposed = 0); the R&D frame is stored row by row");
  }
  UCLUSTER_CHECK(d[1] == kLabelledColumns || d[1] == kParticleColumns, where(path), ": the frame has ", d[1],
                 " columns, expected ", kLabelledColumns, " (700 particles x (pT, eta, phi) + the label) or ",
                 kParticleColumns, " (a black box without labels)");
  n_events_ = d[0];
  columns_ = static_cast<int>(d[1]);
  for (const char* axis : {"df/axis0", "df/axis1"}) {
    if (!file_.contains(axis)) continue;
    const h5::Dims a = file_.open_dataset(axis).shape();
    const std::int64_t expected = axis[7] == '0' ? d[1] : d[0];
    UCLUSTER_CHECK(a.size() == 1 && a[0] == expected, where(path), ": '", axis, "' has ",
                   a.empty() ? 0 : a[0], " entries but the values have ", expected,
                   axis[7] == '0' ? " columns" : " rows", " (damaged frame?)");
  }
  check_filters(values_);
  // A few decompressed chunks, so that reads not aligned to chunks decompress each chunk once.
  const h5::Dims chunk = values_.chunk();
  if (!chunk.empty() && !values_.filters().empty()) {
    const std::int64_t chunk_bytes = 8 * chunk[0] * chunk[1];
    values_ = file_.open_dataset(kValues, std::min<std::int64_t>(4 * chunk_bytes, std::int64_t{256} << 20));
  }
}

void LhcoFile::read_rows(std::int64_t first, std::int64_t count, std::vector<double>& out) const {
  UCLUSTER_CHECK(first >= 0 && count >= 0 && first + count <= n_events_, where(path()), ": rows [", first, ", ",
                 first + count, ") requested, the file has ", n_events_, " events");
  out.resize(static_cast<std::size_t>(count) * static_cast<std::size_t>(columns_));
  values_.read_rows(first, count, out.data());
}

std::vector<std::int8_t> LhcoFile::read_labels(std::int64_t first, std::int64_t count) const {
  UCLUSTER_CHECK(has_labels(), where(path()), " has no label column (2100 columns: a black box)");
  std::vector<double> rows;
  read_rows(first, count, rows);
  std::vector<std::int8_t> labels(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const double l = rows[static_cast<std::size_t>(i) * columns_ + kParticleColumns];
    UCLUSTER_CHECK(l == 0.0 || l == 1.0, where(path()), ": event ", first + i, " has label ", l,
                   ", expected 0 or 1");
    labels[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(l);
  }
  return labels;
}

LhcoFileWriter::LhcoFileWriter(const std::string& path, std::int64_t n_events, const LhcoWriterOptions& options)
    : file_(h5::File::create(path)), columns_(options.labels ? kLabelledColumns : kParticleColumns) {
  UCLUSTER_CHECK(n_events >= 1, "LHCO writer: ", n_events, " events requested, need at least 1");
  // Index nodes as pandas writes them (spec 1.1); `kind` is read by pandas for every index.
  std::vector<std::int64_t> labels(static_cast<std::size_t>(columns_));
  std::iota(labels.begin(), labels.end(), std::int64_t{0});
  for (const char* name : {"df/axis0", "df/block0_items"}) {
    h5::Dataset a = file_.create_dataset(name, h5::Element::I64, {columns_});
    a.write(labels.data());
    a.write_attribute("kind", "integer");
  }
  {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(n_events));
    std::iota(rows.begin(), rows.end(), std::int64_t{0});
    h5::Dataset a = file_.create_dataset("df/axis1", h5::Element::I64, {n_events});
    a.write(rows.data());
    a.write_attribute("kind", "integer");
  }
  h5::DatasetOptions o;
  o.chunk = {std::min(options.chunk_rows, n_events), columns_};
  o.gzip_level = options.gzip_level;
  values_ = file_.create_dataset(kValues, h5::Element::F64, {n_events, columns_}, o);
  file_.write_bool_attribute(kValues, "transposed", true);  // numpy bool, as PyTables writes it
  for (const auto& [name, value] :
       {std::pair<const char*, const char*>{"pandas_type", "frame"}, {"pandas_version", "0.15.2"},
        {"encoding", "UTF-8"}, {"errors", "strict"}, {"axis0_variety", "regular"}, {"axis1_variety", "regular"},
        {"block0_items_variety", "regular"}}) {
    file_.write_attribute(kKey, name, value);
  }
  file_.write_int_attribute(kKey, "ndim", 2);
  file_.write_int_attribute(kKey, "nblocks", 1);
}

void LhcoFileWriter::write(std::int64_t first, std::int64_t count, const double* rows) {
  values_.write_rows(first, count, rows);
}

void LhcoFileWriter::close() {
  values_ = h5::Dataset();
  file_.close();
}

}  // namespace ucluster::lhco
