// A small RAII wrapper over the HDF5 C API, shared by the data readers/writers and the checkpoint
// code.
//
// - Every handle is owned by an Id that closes it with the right H5?close.
// - HDF5's own error printing is switched off for the duration of every call made here (per
//   thread; the library build is thread-safe), and every failure throws ucluster::Error naming
//   the file, the dataset and the innermost message from the HDF5 error stack.
// - Datasets are read/written whole or as hyperslabs of whole rows along the first axis, with a
//   memory type chosen from the C++ element type (HDF5 converts, e.g. float64 file -> float).
// - Strings are variable-length ASCII (what h5py writes for the HLS4ML name lists); fixed-length
//   string datasets/attributes are also read.
// - Files are written without object timestamps, so the same content gives the same bytes.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ucluster::h5 {

using Dims = std::vector<std::int64_t>;

// An owned HDF5 identifier, closed with the function given at construction. Move-only.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  // Gives up ownership without closing.
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// While alive, HDF5 prints nothing on errors on this thread (restores the previous handler).
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The innermost message of this thread's HDF5 error stack ("" when empty).
std::string last_error_message();

// Call first thing in main(), before any other HDF5 call, in a program that writes HDF5 files: HDF5
// then does not register its shutdown at exit. That shutdown retries every write that failed (a
// full disk) and, in HDF5 1.10, crashes or loops forever on them, after the program has already
// reported the error; this wrapper closes and checks every file itself, so there is nothing left
// for it to do.
void skip_library_shutdown_at_exit();

// True when the linked libhdf5 was built thread-safe (then a reader thread may use it while other
// threads use other files).
bool library_is_threadsafe();

enum class Element { F32, F64, I32, I64, U8, I8 };
const char* element_name(Element e);

template <typename T>
struct ElementOf;
template <> struct ElementOf<float> { static constexpr Element value = Element::F32; };
template <> struct ElementOf<double> { static constexpr Element value = Element::F64; };
template <> struct ElementOf<std::int32_t> { static constexpr Element value = Element::I32; };
template <> struct ElementOf<std::int64_t> { static constexpr Element value = Element::I64; };
template <> struct ElementOf<std::uint8_t> { static constexpr Element value = Element::U8; };
template <> struct ElementOf<std::int8_t> { static constexpr Element value = Element::I8; };

// What kind of values a dataset holds in the file.
enum class TypeClass { Float, Integer, String, Other };

struct DatasetOptions {
  Dims chunk;          // empty: contiguous layout (no filters possible)
  int gzip_level = 0;  // 1..9: deflate filter (needs chunk); 0: none
  bool shuffle = false;  // byte-shuffle filter before deflate
};

class Dataset {
 public:
  Dataset() = default;
  Dataset(Id id, std::string file, std::string name);

  const std::string& file() const { return file_; }
  const std::string& name() const { return name_; }
  hid_t id() const { return id_.get(); }

  Dims shape() const;
  int rank() const { return static_cast<int>(shape().size()); }
  TypeClass type_class() const;
  // "float64", "int32", "variable-length string", "fixed-length string (12 bytes)", ...
  std::string type_name() const;
  Dims chunk() const;                    // empty when not chunked
  std::vector<std::string> filters() const;  // filter names in pipeline order
  // Throws, naming the filter, when the pipeline uses a filter this libhdf5 cannot decode.
  void check_filters_available() const;

  // Whole dataset; `out` must hold all elements.
  template <typename T>
  void read(T* out) const;
  // Rows [first, first + count) along axis 0 (all of the other axes).
  template <typename T>
  void read_rows(std::int64_t first, std::int64_t count, T* out) const;
  template <typename T>
  void write(const T* in);
  template <typename T>
  void write_rows(std::int64_t first, std::int64_t count, const T* in);

  // A 1-d dataset of strings (variable- or fixed-length).
  std::vector<std::string> read_strings() const;

  bool has_attribute(const std::string& name) const;
  void write_attribute(const std::string& name, const std::string& value);
  std::string read_string_attribute(const std::string& name) const;

 private:
  void transfer(bool write, std::int64_t first, std::int64_t count, hid_t mem_type, void* buf) const;
  // Throws `what` with HDF5's reason; a failed write first gives the file up (io/h5_write_safety.h).
  [[noreturn]] void failed_transfer(bool write, const std::string& what) const;
  std::string where() const;

  Id id_;
  std::string file_;
  std::string name_;
};

class File {
 public:
  enum class Mode { ReadOnly, ReadWrite };
  // Opens an existing file; a missing file, a non-HDF5 file and a truncated/damaged file each
  // give their own message.
  static File open(const std::string& path, Mode mode = Mode::ReadOnly);
  // Creates (truncates) a file. A created file is complete only once close() has returned without
  // an error: publish it (StagedFile::commit) only then. When a write to it fails (a full disk),
  // the file is given up: HDF5's pending writes go to memory, so that closing it, and HDF5 at
  // exit, have nothing left that can fail (io/h5_write_safety.h).
  static File create(const std::string& path);

  File() = default;
  File(File&& other) noexcept = default;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();
  const std::string& path() const { return path_; }
  bool is_open() const { return id_.valid(); }

  // True when the path ("a", "group/a") names an existing object.
  bool contains(const std::string& name) const;
  // Names of the objects directly under a group ("/" = root), sorted.
  std::vector<std::string> list(const std::string& group = "/") const;

  // chunk_cache_bytes >= 0 sets the dataset's chunk cache (bytes): a few decompressed chunks for
  // compressed data, so that two consecutive partial reads of a chunk decompress it once; 0 for
  // uncompressed data, which HDF5 then reads straight into the caller's buffer (a cached chunk
  // is copied twice). -1 keeps HDF5's default (1 MiB).
  Dataset open_dataset(const std::string& name, std::int64_t chunk_cache_bytes = -1) const;
  // Creates a dataset; "a/b/c" creates the groups a and a/b as needed.
  Dataset create_dataset(const std::string& name, Element element, const Dims& shape,
                         const DatasetOptions& options = {});
  // A 1-d variable-length ASCII string dataset.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;

  // String attributes of the root group (e.g. JSON metadata).
  bool has_attribute(const std::string& name) const;
  void write_attribute(const std::string& name, const std::string& value);
  std::string read_string_attribute(const std::string& name) const;

  // Attributes of any group or dataset by path ("df", "df/block0_values"): strings as above, and
  // int64 scalars (pandas' fixed-format frames store ndim and nblocks as integers). Integers of any
  // width, bitfields and enums (PyTables' booleans) are read as int64.
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::string read_string_attribute(const std::string& object, const std::string& name) const;
  void write_attribute(const std::string& object, const std::string& name, const std::string& value);
  std::int64_t read_int_attribute(const std::string& object, const std::string& name) const;
  void write_int_attribute(const std::string& object, const std::string& name, std::int64_t value);
  // An 8-bit bitfield, as PyTables stores numpy booleans; read back with read_int_attribute.
  void write_bool_attribute(const std::string& object, const std::string& name, bool value);

  void flush();
  // Closes the file now and reports a failure (a full disk) as an error. Datasets of a created file
  // that are still open are closed first, so that everything is written when close() returns
  // (HDF5 alone would report success and write them whenever they close). After a failed close a
  // created file is discarded (see create()). Close (destroy) the Datasets first where you can: a
  // Dataset whose data failed to write must not be destroyed after its file is gone (HDF5 1.10
  // crashes in H5Dclose).
  void close();

 private:
  // Closes without reporting: a created file whose objects or close fail is discarded.
  void close_quietly() noexcept;

  Id id_;  // owned here, not by the Id (no closer): closing a written file needs the steps above
  std::string path_;
  bool created_ = false;
};

}  // namespace ucluster::h5
