// ParamStore: all trainable parameters of a model in one flat buffer, all their gradients in a
// second flat buffer of the same layout, and all non-trainable state (batch-norm moving statistics)
// in a third, each tensor reachable as a named view. The flat layout is what the data-parallel
// all-reduce sends in one call and what the optimiser updates in one kernel.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/context.h"

namespace ucluster {

class ParamStore {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    std::int64_t offset = 0;  // in elements, inside the flat buffer
  };

  explicit ParamStore(DType dtype = DType::F32) : dtype_(dtype) {}

  // Declaration phase: names must be unique; order of declaration is the flat-buffer order.
  void add_param(const std::string& name, const Shape& shape);
  void add_buffer(const std::string& name, const Shape& shape);
  // Allocates the three flat buffers (zero-filled) on the device. No declarations afterwards.
  void finalize(Context& ctx, Device device);
  bool finalized() const { return params_.defined(); }

  const Entry& param_entry(const std::string& name) const { return find(param_index_, param_entries_, name, "parameter"); }
  Tensor param(const std::string& name) const;
  Tensor grad(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  bool has_param(const std::string& name) const { return param_index_.count(name) != 0; }
  bool has_buffer(const std::string& name) const { return buffer_index_.count(name) != 0; }

  const Tensor& flat_params() const { return params_; }
  const Tensor& flat_grads() const { return grads_; }
  const Tensor& flat_buffers() const { return buffers_; }
  const std::vector<Entry>& param_entries() const { return param_entries_; }
  const std::vector<Entry>& buffer_entries() const { return buffer_entries_; }
  std::int64_t num_params() const { return num_params_; }
  std::int64_t num_buffer_elements() const { return num_buffers_; }
  DType dtype() const { return dtype_; }

  void zero_grad(Context& ctx) const { ctx.zero_(grads_); }

 private:
  const Entry& find(const std::unordered_map<std::string, std::size_t>& index, const std::vector<Entry>& entries,
                    const std::string& name, const char* kind) const;

  DType dtype_;
  std::vector<Entry> param_entries_, buffer_entries_;
  std::unordered_map<std::string, std::size_t> param_index_, buffer_index_;
  std::int64_t num_params_ = 0, num_buffers_ = 0;
  Tensor params_, grads_, buffers_;
};

}  // namespace ucluster
