// Access to the golden data of ../shared/golden (README there): the compact extract committed in
// tests/data/golden_small.h5 and, when present, the full float64 file. Read-only, test support.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/param_store.h"

namespace ucluster::test {

struct GoldenArray {
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // integer datasets are converted too
  std::int64_t numel() const { return static_cast<std::int64_t>(values.size()); }
};

class GoldenFile {
 public:
  explicit GoldenFile(const std::string& path);
  ~GoldenFile();
  GoldenFile(const GoldenFile&) = delete;
  GoldenFile& operator=(const GoldenFile&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const;
  GoldenArray read(const std::string& name) const;

  // The tensor `name` as a float32 (or int32 for integer data) CPU tensor.
  Tensor tensor(Context& ctx, const std::string& name, DType dtype = DType::F32) const;
  // Copies `<group>/<param>` for every parameter (and buffer, when with_buffers) of the store.
  void load_params(Context& ctx, const ParamStore& store, const std::string& group, bool with_buffers) const;

 private:
  std::string path_;
  hid_t file_ = -1;
};

// tests/data/golden_small.h5 in the source tree.
std::string compact_golden_path();
// ../shared/golden/ucluster_golden.h5 beside the checkout, or "" when absent.
std::string full_golden_path();

}  // namespace ucluster::test
