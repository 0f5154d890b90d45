// Reader for TensorFlow tensor-bundle V2 checkpoints (`<prefix>.index` + `<prefix>.data-00000-of-00001`)
// without TensorFlow: the .index is a LevelDB-format table of BundleEntryProto records, the .data
// file the raw tensor bytes (format: ../shared/reference/ucluster-published/README.md). Both the
// table blocks' and every tensor's masked CRC-32C are verified.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ucluster::model {

struct TfTensor {
  enum class Type { Float, Double, Int32, Int64 } type = Type::Float;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> bytes;  // little-endian, row-major

  std::int64_t numel() const;
  std::vector<float> as_floats() const;  // Float or Double tensors
  std::int64_t as_int64() const;         // scalar Int32 / Int64 tensors
};

// Reads every tensor of the bundle; throws ucluster::Error naming the file and the problem
// (missing file, bad magic, CRC mismatch, truncated data, unsupported dtype or sharding).
std::map<std::string, TfTensor> read_tf_bundle(const std::string& prefix);

// CRC-32C (Castagnoli) and LevelDB's masking of it, exposed for tests.
std::uint32_t crc32c(const unsigned char* data, std::size_t size, std::uint32_t crc = 0);
std::uint32_t mask_crc(std::uint32_t crc);

}  // namespace ucluster::model
