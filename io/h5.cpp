#include "io/h5.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "engine/error.h"
#include "io/h5_write_safety.h"
#include "io/input_path.h"

namespace ucluster::h5 {

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (id_ >= 0 && closer_ != nullptr) {
    QuietErrors quiet;
    closer_(id_);
  }
  id_ = H5I_INVALID_HID;
}

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

namespace {

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  std::string msg = err->desc != nullptr ? err->desc : "";
  char minor[256] = {0};
  if (H5Eget_msg(err->min_num, nullptr, minor, sizeof(minor)) > 0 && msg.find(minor) == std::string::npos) {
    msg += msg.empty() ? minor : std::string(" (") + minor + ")";
  }
  if (!msg.empty()) *out = msg;  // walking downward: the last one is the innermost
  return 0;
}

// The filter pipeline of a dataset, in order: each filter's id and registered name ("" if none).
std::vector<std::pair<H5Z_filter_t, std::string>> filter_pipeline(hid_t dataset) {
  QuietErrors quiet;
  Id plist(H5Dget_create_plist(dataset), H5Pclose);
  std::vector<std::pair<H5Z_filter_t, std::string>> out;
  const int n = H5Pget_nfilters(plist.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nelem = 0;
    char name[128] = {0};
    const H5Z_filter_t id = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &nelem, nullptr,
                                           sizeof(name), name, &config);
    out.emplace_back(id, std::string(name));
  }
  return out;
}

std::string hdf5_detail() {
  const std::string m = last_error_message();
  return m.empty() ? std::string() : ": " + m;
}

// After a failed write to `object` (a dataset, attribute or file): throws the message with HDF5's
// reason, once the file has been given up (see io/h5_write_safety.h).
template <typename... Parts>
[[noreturn]] void fail_writing(hid_t object, const Parts&... parts) {
  const std::string detail = hdf5_detail();
  detail::abandon_file_of(object);
  fail(parts..., detail);
}

hid_t native_type(Element e) {
  switch (e) {
    case Element::F32: return H5T_NATIVE_FLOAT;
    case Element::F64: return H5T_NATIVE_DOUBLE;
    case Element::I32: return H5T_NATIVE_INT32;
    case Element::I64: return H5T_NATIVE_INT64;
    case Element::U8: return H5T_NATIVE_UINT8;
    case Element::I8: return H5T_NATIVE_INT8;
  }
  return H5T_NATIVE_FLOAT;
}

hid_t file_type(Element e) {
  switch (e) {
    case Element::F32: return H5T_IEEE_F32LE;
    case Element::F64: return H5T_IEEE_F64LE;
    case Element::I32: return H5T_STD_I32LE;
    case Element::I64: return H5T_STD_I64LE;
    case Element::U8: return H5T_STD_U8LE;
    case Element::I8: return H5T_STD_I8LE;
  }
  return H5T_IEEE_F32LE;
}

Id vlen_string_type() {
  Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_ASCII);
  return t;
}

std::string trim_fixed(const char* p, std::size_t n) {
  std::size_t len = 0;
  while (len < n && p[len] != '\0') ++len;
  while (len > 0 && p[len - 1] == ' ') --len;
  return std::string(p, len);
}

// Reads all strings of a dataset or attribute with file type `ftype` and `n` elements.
template <typename ReadFn>
std::vector<std::string> read_string_values(hid_t ftype, std::size_t n, const std::string& where, ReadFn read) {
  UCLUSTER_CHECK(H5Tget_class(ftype) == H5T_STRING, where, " does not hold strings");
  std::vector<std::string> out;
  out.reserve(n);
  // The memory type takes the file's character set: HDF5 converts neither way between ASCII and
  // UTF-8 (h5py writes UTF-8 by default; the HLS4ML files hold ASCII), and the bytes are the same.
  const H5T_cset_t cset = H5Tget_cset(ftype);
  if (H5Tis_variable_str(ftype) > 0) {
    Id mt = vlen_string_type();
    H5Tset_cset(mt.get(), cset);
    std::vector<char*> ptrs(n, nullptr);
    if (read(mt.get(), ptrs.data()) < 0) fail("cannot read strings of ", where, hdf5_detail());
    for (char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
    // Each variable-length string was allocated by HDF5 with malloc.
    for (char* p : ptrs) H5free_memory(p);
  } else {
    const std::size_t size = H5Tget_size(ftype);
    Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt.get(), size);
    H5Tset_cset(mt.get(), cset);
    std::vector<char> buf(size * n);
    if (read(mt.get(), buf.data()) < 0) fail("cannot read strings of ", where, hdf5_detail());
    for (std::size_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + i * size, size));
  }
  return out;
}

// Replaces attribute `name` of obj by a scalar of file type `type`, written from `value` in memory
// type `memory_type`.
void write_scalar_attr(hid_t obj, const std::string& name, hid_t type, hid_t memory_type, const void* value,
                       const std::string& where) {
  QuietErrors quiet;
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  Id attr(H5Acreate2(obj, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail_writing(obj, "cannot create attribute '", name, "' on ", where);
  if (H5Awrite(attr.get(), memory_type, value) < 0)
    fail_writing(obj, "cannot write attribute '", name, "' on ", where);
}

void write_attr(hid_t obj, const std::string& name, const std::string& value, const std::string& where) {
  Id type = vlen_string_type();
  const char* p = value.c_str();
  write_scalar_attr(obj, name, type.get(), type.get(), &p, where);
}

bool has_attr(hid_t obj, const std::string& name) {
  QuietErrors quiet;
  return H5Aexists(obj, name.c_str()) > 0;
}

std::string read_attr(hid_t obj, const std::string& name, const std::string& where) {
  QuietErrors quiet;
  UCLUSTER_CHECK(H5Aexists(obj, name.c_str()) > 0, where, " has no attribute '", name, "'");
  Id attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail("cannot open attribute '", name, "' of ", where, hdf5_detail());
  Id ftype(H5Aget_type(attr.get()), H5Tclose);
  Id space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  UCLUSTER_CHECK(n == 1, "attribute '", name, "' of ", where, " holds ", n, " values, expected one string");
  auto values = read_string_values(ftype.get(), 1, "attribute '" + name + "' of " + where,
                                   [&](hid_t mt, void* buf) { return H5Aread(attr.get(), mt, buf); });
  return values.front();
}

}  // namespace

std::string last_error_message() {
  std::string out;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &out);
  // A failed read or write of the file driver carries the system's message inside a long dump of
  // times, addresses and sizes: keep the message.
  const std::string key = "error message = '";
  const std::size_t at = out.find(key);
  if (at != std::string::npos) {
    const std::size_t end = out.find('\'', at + key.size());
    const bool read = out.find("read failed") != std::string::npos;
    const std::string verb = read ? "file read failed: " : "file write failed: ";
    out = verb + out.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
  }
  return out;
}

void skip_library_shutdown_at_exit() { H5dont_atexit(); }

bool library_is_threadsafe() {
  hbool_t ts = 0;
  H5is_library_threadsafe(&ts);
  return ts != 0;
}

const char* element_name(Element e) {
  switch (e) {
    case Element::F32: return "float32";
    case Element::F64: return "float64";
    case Element::I32: return "int32";
    case Element::I64: return "int64";
    case Element::U8: return "uint8";
    case Element::I8: return "int8";
  }
  return "?";
}

// ----------------------------------------------------------------------------------------------
// Dataset

Dataset::Dataset(Id id, std::string file, std::string name)
    : id_(std::move(id)), file_(std::move(file)), name_(std::move(name)) {}

std::string Dataset::where() const { return make_message("dataset '", name_, "' in file '", file_, "'"); }

Dims Dataset::shape() const {
  QuietErrors quiet;
  Id space(H5Dget_space(id_.get()), H5Sclose);
  if (!space.valid()) fail("cannot get the shape of ", where(), hdf5_detail());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  UCLUSTER_CHECK(rank >= 0, "cannot get the rank of ", where(), hdf5_detail());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return Dims(dims.begin(), dims.end());
}

TypeClass Dataset::type_class() const {
  QuietErrors quiet;
  Id t(H5Dget_type(id_.get()), H5Tclose);
  switch (H5Tget_class(t.get())) {
    case H5T_FLOAT: return TypeClass::Float;
    case H5T_INTEGER: return TypeClass::Integer;
    case H5T_STRING: return TypeClass::String;
    default: return TypeClass::Other;
  }
}

std::string Dataset::type_name() const {
  QuietErrors quiet;
  Id t(H5Dget_type(id_.get()), H5Tclose);
  const std::size_t size = H5Tget_size(t.get());
  switch (H5Tget_class(t.get())) {
    case H5T_FLOAT: return make_message("float", 8 * size);
    case H5T_INTEGER:
      return make_message(H5Tget_sign(t.get()) == H5T_SGN_NONE ? "uint" : "int", 8 * size);
    case H5T_STRING:
      if (H5Tis_variable_str(t.get()) > 0) return "variable-length string";
      return make_message("fixed-length string (", size, " bytes)");
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    default: return "another HDF5 type class";
  }
}

Dims Dataset::chunk() const {
  QuietErrors quiet;
  Id plist(H5Dget_create_plist(id_.get()), H5Pclose);
  if (H5Pget_layout(plist.get()) != H5D_CHUNKED) return {};
  std::vector<hsize_t> dims(32);
  const int rank = H5Pget_chunk(plist.get(), static_cast<int>(dims.size()), dims.data());
  if (rank < 0) fail("cannot read the chunk shape of ", where(), hdf5_detail());
  return Dims(dims.begin(), dims.begin() + rank);
}

std::vector<std::string> Dataset::filters() const {
  std::vector<std::string> out;
  for (const auto& [id, name] : filter_pipeline(id_.get()))
    out.push_back(!name.empty() ? name : make_message("filter ", id));
  return out;
}

void Dataset::check_filters_available() const {
  QuietErrors quiet;
  for (const auto& [id, name] : filter_pipeline(id_.get())) {
    if (H5Zfilter_avail(id) <= 0) {
      fail(where(), " is compressed with HDF5 filter ", id, " ('", name,
           "') which this libhdf5 cannot decode (LZF, for example, is an h5py-only filter); "
           "rewrite the file with gzip, e.g. h5repack -f GZIP=4");
    }
  }
}

void Dataset::transfer(bool write, std::int64_t first, std::int64_t count, hid_t mem_type, void* buf) const {
  QuietErrors quiet;
  const Dims dims = shape();
  const char* verb = write ? "write" : "read";
  if (first < 0) {  // whole dataset
    const herr_t rc = write ? H5Dwrite(id_.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)
                            : H5Dread(id_.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (rc < 0) failed_transfer(write, make_message("cannot ", verb, " ", where()));
    return;
  }
  UCLUSTER_CHECK(!dims.empty(), "cannot ", verb, " rows of scalar ", where());
  UCLUSTER_CHECK(count >= 0 && first + count <= dims[0], "cannot ", verb, " rows [", first, ", ", first + count,
                 ") of ", where(), ": it has ", dims[0], " rows");
  if (count == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), extent(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(first);
  extent[0] = static_cast<hsize_t>(count);
  Id fspace(H5Dget_space(id_.get()), H5Sclose);
  Id mspace(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose);
  if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr) < 0) {
    fail("cannot select rows of ", where(), hdf5_detail());
  }
  const herr_t rc = write ? H5Dwrite(id_.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, buf)
                          : H5Dread(id_.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, buf);
  if (rc < 0)
    failed_transfer(write, make_message("cannot ", verb, " rows [", first, ", ", first + count, ") of ", where()));
}

void Dataset::failed_transfer(bool write, const std::string& what) const {
  if (write) fail_writing(id_.get(), what);
  fail(what, hdf5_detail());
}

template <typename T>
void Dataset::read(T* out) const {
  transfer(false, -1, 0, native_type(ElementOf<T>::value), out);
}
template <typename T>
void Dataset::read_rows(std::int64_t first, std::int64_t count, T* out) const {
  transfer(false, first, count, native_type(ElementOf<T>::value), out);
}
template <typename T>
void Dataset::write(const T* in) {
  transfer(true, -1, 0, native_type(ElementOf<T>::value), const_cast<T*>(in));
}
template <typename T>
void Dataset::write_rows(std::int64_t first, std::int64_t count, const T* in) {
  transfer(true, first, count, native_type(ElementOf<T>::value), const_cast<T*>(in));
}

#define UCLUSTER_H5_INSTANTIATE(T)                                                  \
  template void Dataset::read<T>(T*) const;                                       \
  template void Dataset::read_rows<T>(std::int64_t, std::int64_t, T*) const;      \
  template void Dataset::write<T>(const T*);                                      \
  template void Dataset::write_rows<T>(std::int64_t, std::int64_t, const T*);
UCLUSTER_H5_INSTANTIATE(float)
UCLUSTER_H5_INSTANTIATE(double)
UCLUSTER_H5_INSTANTIATE(std::int32_t)
UCLUSTER_H5_INSTANTIATE(std::int64_t)
UCLUSTER_H5_INSTANTIATE(std::uint8_t)
UCLUSTER_H5_INSTANTIATE(std::int8_t)
#undef UCLUSTER_H5_INSTANTIATE

std::vector<std::string> Dataset::read_strings() const {
  QuietErrors quiet;
  const Dims dims = shape();
  UCLUSTER_CHECK(dims.size() == 1, where(), " has rank ", dims.size(), ", expected a 1-d list of strings");
  Id ftype(H5Dget_type(id_.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING) fail(where(), " holds ", type_name(), ", expected strings");
  return read_string_values(ftype.get(), static_cast<std::size_t>(dims[0]), where(), [&](hid_t mt, void* buf) {
    return H5Dread(id_.get(), mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
}

bool Dataset::has_attribute(const std::string& name) const { return has_attr(id_.get(), name); }
void Dataset::write_attribute(const std::string& name, const std::string& value) {
  write_attr(id_.get(), name, value, where());
}
std::string Dataset::read_string_attribute(const std::string& name) const {
  return read_attr(id_.get(), name, where());
}

// ----------------------------------------------------------------------------------------------
// File

File File::open(const std::string& path, Mode mode) {
  QuietErrors quiet;
  std::error_code ec;
  require_input_path("file", path);
  {
    std::ifstream probe(path, std::ios::binary);
    UCLUSTER_CHECK(probe.good(), "cannot read file '", path, "'");
  }
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    fail("file '", path, "' is not an HDF5 file (no HDF5 signature found",
         std::filesystem::file_size(path, ec) == 0 ? "; the file is empty)" : ")");
  }
  const unsigned flags = mode == Mode::ReadOnly ? H5F_ACC_RDONLY : H5F_ACC_RDWR;
  File f;
  f.path_ = path;
  f.id_ = Id(H5Fopen(path.c_str(), flags, H5P_DEFAULT), nullptr);
  if (!f.id_.valid()) {
    const std::string detail = last_error_message();
    const bool truncated = detail.find("truncated") != std::string::npos;
    fail("cannot open HDF5 file '", path, "'", truncated ? " (the file is truncated)" : " (damaged file?)",
         detail.empty() ? "" : ": ", detail);
  }
  return f;
}

File File::create(const std::string& path) {
  QuietErrors quiet;
  Id fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_obj_track_times(fcpl.get(), 0);  // no timestamps: same content, same bytes
  File f;
  f.path_ = path;
  f.id_ = Id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), nullptr);
  if (!f.id_.valid()) fail("cannot create HDF5 file '", path, "'", hdf5_detail());
  f.created_ = true;
  return f;
}

bool File::contains(const std::string& name) const {
  QuietErrors quiet;
  // H5Lexists needs every intermediate link to exist, so walk the path component by component.
  std::string prefix;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    const std::size_t next = name.find('/', pos);
    const std::string part = name.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      if (H5Lexists(id_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return !prefix.empty() && H5Oexists_by_name(id_.get(), prefix.c_str(), H5P_DEFAULT) > 0;
}

namespace {
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> File::list(const std::string& group) const {
  QuietErrors quiet;
  Id g(H5Gopen2(id_.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) fail("no group '", group, "' in file '", path_, "'", hdf5_detail());
  std::vector<std::string> names;
  hsize_t idx = 0;
  H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names);
  std::sort(names.begin(), names.end());
  return names;
}

Dataset File::open_dataset(const std::string& name, std::int64_t chunk_cache_bytes) const {
  QuietErrors quiet;
  UCLUSTER_CHECK(id_.valid(), "file '", path_, "' is not open");
  if (!contains(name)) fail("file '", path_, "' has no dataset '", name, "'");
  Id dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (chunk_cache_bytes >= 0) {
    H5Pset_chunk_cache(dapl.get(), 521, static_cast<std::size_t>(chunk_cache_bytes), 1.0);
  }
  Id d(H5Dopen2(id_.get(), name.c_str(), dapl.get()), H5Dclose);
  if (!d.valid()) fail("cannot open dataset '", name, "' in file '", path_, "'", hdf5_detail());
  return Dataset(std::move(d), path_, name);
}

Dataset File::create_dataset(const std::string& name, Element element, const Dims& shape,
                             const DatasetOptions& options) {
  QuietErrors quiet;
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  for (std::int64_t d : shape) UCLUSTER_CHECK(d >= 0, "dataset '", name, "': negative extent ", d);
  Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl.get(), 0);
  if (!options.chunk.empty()) {
    UCLUSTER_CHECK(options.chunk.size() == dims.size(), "dataset '", name, "': chunk rank ", options.chunk.size(),
                   " differs from dataset rank ", dims.size());
    std::vector<hsize_t> chunk(options.chunk.size());
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      // A chunk extent may not be 0; clamp to the dataset extent (at least 1).
      chunk[i] = static_cast<hsize_t>(std::max<std::int64_t>(1, std::min<std::int64_t>(options.chunk[i],
                                                                     std::max<std::int64_t>(1, shape[i]))));
    }
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (options.shuffle) H5Pset_shuffle(dcpl.get());
    if (options.gzip_level > 0) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(std::min(9, options.gzip_level)));
  } else {
    UCLUSTER_CHECK(options.gzip_level == 0 && !options.shuffle, "dataset '", name,
                   "': compression needs a chunked layout");
  }
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Id d(H5Dcreate2(id_.get(), name.c_str(), file_type(element), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
       H5Dclose);
  if (!d.valid()) fail_writing(id_.get(), "cannot create dataset '", name, "' in file '", path_, "'");
  return Dataset(std::move(d), path_, name);
}

Dataset File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  QuietErrors quiet;
  Id type = vlen_string_type();
  hsize_t n = values.size();
  Id space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl.get(), 0);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Id d(H5Dcreate2(id_.get(), name.c_str(), type.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
       H5Dclose);
  if (!d.valid()) fail_writing(id_.get(), "cannot create dataset '", name, "' in file '", path_, "'");
  std::vector<const char*> ptrs;
  for (const auto& s : values) ptrs.push_back(s.c_str());
  if (!values.empty() && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail_writing(id_.get(), "cannot write dataset '", name, "' in file '", path_, "'");
  return Dataset(std::move(d), path_, name);
}

std::vector<std::string> File::read_strings(const std::string& name) const {
  return open_dataset(name).read_strings();
}

bool File::has_attribute(const std::string& name) const { return has_attr(id_.get(), name); }
void File::write_attribute(const std::string& name, const std::string& value) {
  write_attr(id_.get(), name, value, "file '" + path_ + "'");
}
std::string File::read_string_attribute(const std::string& name) const {
  return read_attr(id_.get(), name, "file '" + path_ + "'");
}

namespace {

// An open group or dataset of `file` by path.
Id open_object(hid_t file, const std::string& path, const std::string& object) {
  QuietErrors quiet;
  Id obj(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid()) fail("file '", path, "' has no object '", object, "'");
  return obj;
}

}  // namespace

bool File::has_attribute(const std::string& object, const std::string& name) const {
  return contains(object) && has_attr(open_object(id_.get(), path_, object).get(), name);
}
std::string File::read_string_attribute(const std::string& object, const std::string& name) const {
  return read_attr(open_object(id_.get(), path_, object).get(), name, "'" + object + "' in file '" + path_ + "'");
}
void File::write_attribute(const std::string& object, const std::string& name, const std::string& value) {
  write_attr(open_object(id_.get(), path_, object).get(), name, value, "'" + object + "' in file '" + path_ + "'");
}

std::int64_t File::read_int_attribute(const std::string& object, const std::string& name) const {
  QuietErrors quiet;
  const Id obj = open_object(id_.get(), path_, object);
  const std::string where = "'" + object + "' in file '" + path_ + "'";
  UCLUSTER_CHECK(H5Aexists(obj.get(), name.c_str()) > 0, where, " has no attribute '", name, "'");
  Id attr(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail("cannot open attribute '", name, "' of ", where, hdf5_detail());
  Id ftype(H5Aget_type(attr.get()), H5Tclose);
  Id space(H5Aget_space(attr.get()), H5Sclose);
  const H5T_class_t cls = H5Tget_class(ftype.get());
  // PyTables stores numpy booleans (pandas' `transposed`) as an 8-bit bitfield, which HDF5 does
  // not convert to integers: bitfields and enums are read as their raw little-endian bytes.
  UCLUSTER_CHECK((cls == H5T_INTEGER || cls == H5T_BITFIELD || cls == H5T_ENUM) &&
                     H5Sget_simple_extent_npoints(space.get()) == 1,
                 "attribute '", name, "' of ", where, " is not an integer scalar");
  std::int64_t value = 0;
  if (cls != H5T_INTEGER) {
    const std::size_t size = H5Tget_size(ftype.get());
    UCLUSTER_CHECK(size <= sizeof(value), "attribute '", name, "' of ", where, " is wider than 64 bits");
    unsigned char raw[sizeof(value)] = {0};
    if (H5Aread(attr.get(), ftype.get(), raw) < 0) fail("cannot read attribute '", name, "' of ", where, hdf5_detail());
    for (std::size_t i = 0; i < size; ++i) value |= static_cast<std::int64_t>(raw[i]) << (8 * i);
    return value;
  }
  if (H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    fail("cannot read attribute '", name, "' of ", where, hdf5_detail());
  return value;
}

void File::write_int_attribute(const std::string& object, const std::string& name, std::int64_t value) {
  write_scalar_attr(open_object(id_.get(), path_, object).get(), name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value,
                    "'" + object + "' in '" + path_ + "'");
}

void File::write_bool_attribute(const std::string& object, const std::string& name, bool value) {
  const unsigned char byte = value ? 1 : 0;
  write_scalar_attr(open_object(id_.get(), path_, object).get(), name, H5T_STD_B8LE, H5T_NATIVE_B8, &byte,
                    "'" + object + "' in '" + path_ + "'");
}

void File::flush() {
  QuietErrors quiet;
  if (id_.valid() && H5Fflush(id_.get(), H5F_SCOPE_LOCAL) < 0)
    fail_writing(id_.get(), "cannot flush file '", path_, "'");
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close_quietly();
    id_ = std::move(other.id_);
    path_ = std::move(other.path_);
    created_ = other.created_;
  }
  return *this;
}

File::~File() { close_quietly(); }

void File::close_quietly() noexcept {
  if (!id_.valid()) return;
  QuietErrors quiet;
  const hid_t id = id_.release();
  if (created_) {
    detail::finish_created_file(id);
  } else {
    H5Fclose(id);
    H5Eclear2(H5E_DEFAULT);
  }
}

void File::close() {
  QuietErrors quiet;
  if (!id_.valid()) return;
  const hid_t id = id_.release();
  if (!created_) {
    const bool ok = H5Fclose(id) >= 0;
    const std::string detail = hdf5_detail();
    H5Eclear2(H5E_DEFAULT);
    UCLUSTER_CHECK(ok, "cannot close file '", path_, "'", detail);
    return;
  }
  const std::string problem = detail::finish_created_file(id);
  UCLUSTER_CHECK(problem.empty(), "cannot finish writing file '", path_, "': ", problem);
}

}  // namespace ucluster::h5
