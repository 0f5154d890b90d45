#include "model/tf_bundle.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/error.h"

namespace ucluster::model {

namespace {

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  UCLUSTER_CHECK(in.good(), "cannot open TF checkpoint file '", path, "'");
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// A bounds-checked cursor over a byte range, for varints and protobuf fields.
struct Cursor {
  const unsigned char* p;
  const unsigned char* end;
  const std::string& file;

  bool done() const { return p >= end; }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      UCLUSTER_CHECK(p < end, "TF checkpoint '", file, "': truncated varint");
      const unsigned char b = *p++;
      v |= std::uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("TF checkpoint '", file, "': varint longer than 10 bytes");
  }
  std::uint32_t fixed32() {
    UCLUSTER_CHECK(end - p >= 4, "TF checkpoint '", file, "': truncated fixed32");
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    p += 4;
    return v;
  }
  Cursor sub(std::size_t n) {
    UCLUSTER_CHECK(std::size_t(end - p) >= n, "TF checkpoint '", file, "': truncated field");
    Cursor c{p, p + n, file};
    p += n;
    return c;
  }
  // Skips a field of the given wire type.
  void skip(int wire) {
    if (wire == 0) varint();
    else if (wire == 1) sub(8);
    else if (wire == 2) sub(varint());
    else if (wire == 5) sub(4);
    else fail("TF checkpoint '", file, "': unsupported protobuf wire type ", wire);
  }
};

struct BlockHandle {
  std::uint64_t offset = 0, size = 0;
};

// Returns the contents of a table block after checking its trailer (type byte + masked CRC).
Cursor read_block(const std::vector<unsigned char>& file_bytes, const BlockHandle& h, const std::string& file) {
  UCLUSTER_CHECK(h.offset + h.size + 5 <= file_bytes.size(), "TF checkpoint '", file, "': block [", h.offset, ", +",
                 h.size, ") is outside the file");
  const unsigned char* block = file_bytes.data() + h.offset;
  UCLUSTER_CHECK(block[h.size] == 0, "TF checkpoint '", file, "': compressed blocks are not supported");
  std::uint32_t stored;
  std::memcpy(&stored, block + h.size + 1, 4);
  UCLUSTER_CHECK(mask_crc(crc32c(block, h.size + 1)) == stored, "TF checkpoint '", file,
                 "': block checksum mismatch (corrupt file)");
  return Cursor{block, block + h.size, file};
}

// Iterates the key/value entries of a block (prefix-compressed keys, restart array at the end).
template <typename F>
void for_each_entry(Cursor block, F&& f) {
  UCLUSTER_CHECK(block.end - block.p >= 4, "TF checkpoint '", block.file, "': block too small");
  std::uint32_t restarts;
  std::memcpy(&restarts, block.end - 4, 4);
  UCLUSTER_CHECK(std::size_t(block.end - block.p) >= 4 + 4 * std::size_t(restarts), "TF checkpoint '", block.file,
                 "': bad restart count");
  Cursor c{block.p, block.end - 4 - 4 * restarts, block.file};
  std::string key;
  while (!c.done()) {
    const std::uint64_t shared = c.varint(), non_shared = c.varint(), value_len = c.varint();
    UCLUSTER_CHECK(shared <= key.size(), "TF checkpoint '", block.file, "': bad key prefix");
    Cursor delta = c.sub(non_shared);
    key = key.substr(0, shared) + std::string(delta.p, delta.end);
    f(key, c.sub(value_len));
  }
}

BlockHandle read_handle(Cursor& c) {
  BlockHandle h;
  h.offset = c.varint();
  h.size = c.varint();
  return h;
}

struct Entry {
  int dtype = 0;
  std::vector<std::int64_t> shape;
  std::uint64_t shard = 0, offset = 0, size = 0;
  std::uint32_t crc = 0;
};

Entry parse_entry(Cursor c) {
  Entry e;
  while (!c.done()) {
    const std::uint64_t tag = c.varint();
    const int field = int(tag >> 3), wire = int(tag & 7);
    if (field == 1 && wire == 0) e.dtype = int(c.varint());
    else if (field == 2 && wire == 2) {
      Cursor shape = c.sub(c.varint());
      while (!shape.done()) {
        const std::uint64_t stag = shape.varint();
        if ((stag >> 3) == 2 && (stag & 7) == 2) {
          Cursor dim = shape.sub(shape.varint());
          std::int64_t size = 0;
          while (!dim.done()) {
            const std::uint64_t dtag = dim.varint();
            if ((dtag >> 3) == 1 && (dtag & 7) == 0) size = std::int64_t(dim.varint());
            else dim.skip(int(dtag & 7));
          }
          e.shape.push_back(size);
        } else {
          shape.skip(int(stag & 7));
        }
      }
    } else if (field == 3 && wire == 0) e.shard = c.varint();
    else if (field == 4 && wire == 0) e.offset = c.varint();
    else if (field == 5 && wire == 0) e.size = c.varint();
    else if (field == 6 && wire == 5) e.crc = c.fixed32();
    else if (field == 7) fail("TF checkpoint '", c.file, "': partitioned (sliced) variables are not supported");
    else c.skip(wire);
  }
  return e;
}

}  // namespace

std::uint32_t crc32c(const unsigned char* data, std::size_t size, std::uint32_t crc) {
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::uint32_t mask_crc(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::int64_t TfTensor::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<float> TfTensor::as_floats() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  if (type == Type::Float) {
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
  } else {
    UCLUSTER_CHECK(type == Type::Double, "TF tensor is not floating point");
    for (std::size_t i = 0; i < out.size(); ++i) {
      double d;
      std::memcpy(&d, bytes.data() + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
  }
  return out;
}

std::int64_t TfTensor::as_int64() const {
  UCLUSTER_CHECK(numel() == 1, "TF tensor is not a scalar");
  if (type == Type::Int32) {
    std::int32_t v;
    std::memcpy(&v, bytes.data(), 4);
    return v;
  }
  UCLUSTER_CHECK(type == Type::Int64, "TF tensor is not an integer");
  std::int64_t v;
  std::memcpy(&v, bytes.data(), 8);
  return v;
}

std::map<std::string, TfTensor> read_tf_bundle(const std::string& prefix) {
  const std::string index_path = prefix + ".index", data_path = prefix + ".data-00000-of-00001";
  const std::vector<unsigned char> index = read_file(index_path);
  const std::vector<unsigned char> data = read_file(data_path);
  UCLUSTER_CHECK(index.size() >= 48, "TF checkpoint '", index_path, "': file too small for a table footer");
  std::uint64_t magic;
  std::memcpy(&magic, index.data() + index.size() - 8, 8);
  UCLUSTER_CHECK(magic == 0xdb4775248b80fb57ull, "TF checkpoint '", index_path, "': not a TF bundle index (bad magic)");
  Cursor footer{index.data() + index.size() - 48, index.data() + index.size() - 8, index_path};
  read_handle(footer);  // metaindex: unused
  const BlockHandle index_handle = read_handle(footer);

  std::map<std::string, TfTensor> tensors;
  for_each_entry(read_block(index, index_handle, index_path), [&](const std::string&, Cursor value) {
    const BlockHandle data_block = read_handle(value);
    for_each_entry(read_block(index, data_block, index_path), [&](const std::string& key, Cursor v) {
      if (key.empty()) return;  // BundleHeaderProto
      const Entry e = parse_entry(v);
      UCLUSTER_CHECK(e.shard == 0, "TF checkpoint '", index_path, "': tensor '", key, "' is in shard ", e.shard,
                     "; only single-shard bundles are supported");
      UCLUSTER_CHECK(e.offset + e.size <= data.size(), "TF checkpoint '", data_path, "': tensor '", key,
                     "' extends past the end of the file (truncated?)");
      TfTensor t;
      std::size_t elem = 0;
      switch (e.dtype) {
        case 1: t.type = TfTensor::Type::Float; elem = 4; break;
        case 2: t.type = TfTensor::Type::Double; elem = 8; break;
        case 3: t.type = TfTensor::Type::Int32; elem = 4; break;
        case 9: t.type = TfTensor::Type::Int64; elem = 8; break;
        default: fail("TF checkpoint '", index_path, "': tensor '", key, "' has unsupported dtype ", e.dtype);
      }
      t.shape = e.shape;
      UCLUSTER_CHECK(std::uint64_t(t.numel()) * elem == e.size, "TF checkpoint '", index_path, "': tensor '", key,
                     "' size ", e.size, " does not match its shape");
      t.bytes.assign(data.begin() + std::ptrdiff_t(e.offset), data.begin() + std::ptrdiff_t(e.offset + e.size));
      UCLUSTER_CHECK(mask_crc(crc32c(t.bytes.data(), t.bytes.size())) == e.crc, "TF checkpoint '", data_path,
                     "': checksum mismatch for tensor '", key, "' (corrupt file)");
      tensors.emplace(key, std::move(t));
    });
  });
  UCLUSTER_CHECK(!tensors.empty(), "TF checkpoint '", index_path, "' holds no tensors");
  return tensors;
}

}  // namespace ucluster::model
