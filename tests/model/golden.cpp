#include "tests/model/golden.h"

#include <filesystem>

#include "engine/error.h"

namespace ucluster::test {

GoldenFile::GoldenFile(const std::string& path) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  UCLUSTER_CHECK(file_ >= 0, "cannot open golden file '", path, "'");
}

GoldenFile::~GoldenFile() {
  if (file_ >= 0) H5Fclose(file_);
}

bool GoldenFile::has(const std::string& name) const {
  // Check every path component, as H5Lexists requires the parents to exist.
  std::string prefix;
  for (std::size_t pos = 0; pos != std::string::npos;) {
    const std::size_t next = name.find('/', pos);
    prefix = name.substr(0, next);
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next == std::string::npos ? next : next + 1;
  }
  return true;
}

GoldenArray GoldenFile::read(const std::string& name) const {
  UCLUSTER_CHECK(has(name), "golden file '", path_, "' has no dataset '", name, "'");
  const hid_t ds = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Dget_space(ds);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  GoldenArray a;
  std::size_t n = 1;
  for (hsize_t d : dims) {
    a.shape.push_back(static_cast<std::int64_t>(d));
    n *= d;
  }
  a.values.resize(n);
  const herr_t status = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data());
  H5Sclose(space);
  H5Dclose(ds);
  UCLUSTER_CHECK(status >= 0, "cannot read '", name, "' from golden file '", path_, "'");
  return a;
}

Tensor GoldenFile::tensor(Context& ctx, const std::string& name, DType dtype) const {
  const GoldenArray a = read(name);
  Tensor t = ctx.empty(Shape(a.shape), dtype, Device::cpu());
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (dtype == DType::F32) t.data<float>()[i] = static_cast<float>(a.values[i]);
    else if (dtype == DType::F64) t.data<double>()[i] = a.values[i];
    else t.data<std::int32_t>()[i] = static_cast<std::int32_t>(a.values[i]);
  }
  return t;
}

void GoldenFile::load_params(Context& ctx, const ParamStore& store, const std::string& group,
                             bool with_buffers) const {
  auto load = [&](const std::vector<ParamStore::Entry>& entries, bool buffers) {
    for (const auto& e : entries) {
      Tensor src = tensor(ctx, group + "/" + e.name, store.dtype());
      UCLUSTER_CHECK(src.numel() == e.shape.numel(), "golden '", group, "/", e.name, "' has ", src.numel(),
                     " elements, the model expects ", e.shape.str());
      ctx.copy(buffers ? store.buffer(e.name) : store.param(e.name), src);
    }
  };
  load(store.param_entries(), false);
  if (with_buffers) load(store.buffer_entries(), true);
}

std::string compact_golden_path() { return std::string(UCLUSTER_SOURCE_DIR) + "/tests/data/golden_small.h5"; }

std::string full_golden_path() {
  const std::filesystem::path p =
      std::filesystem::path(UCLUSTER_SOURCE_DIR).parent_path() / "shared" / "golden" / "ucluster_golden.h5";
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace ucluster::test
