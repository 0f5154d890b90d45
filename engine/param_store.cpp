#include "engine/param_store.h"

namespace ucluster {

namespace {
void declare(std::vector<ParamStore::Entry>& entries, std::unordered_map<std::string, std::size_t>& index,
             std::int64_t& total, const std::string& name, const Shape& shape, bool finalized) {
  UCLUSTER_CHECK(!finalized, "ParamStore: cannot declare '", name, "' after finalize()");
  UCLUSTER_CHECK(!name.empty(), "ParamStore: empty tensor name");
  UCLUSTER_CHECK(index.count(name) == 0, "ParamStore: '", name, "' declared twice");
  index[name] = entries.size();
  entries.push_back({name, shape, total});
  total += shape.numel();
}
}  // namespace

void ParamStore::add_param(const std::string& name, const Shape& shape) {
  UCLUSTER_CHECK(buffer_index_.count(name) == 0, "ParamStore: '", name, "' is already a buffer");
  declare(param_entries_, param_index_, num_params_, name, shape, finalized());
}

void ParamStore::add_buffer(const std::string& name, const Shape& shape) {
  UCLUSTER_CHECK(param_index_.count(name) == 0, "ParamStore: '", name, "' is already a parameter");
  declare(buffer_entries_, buffer_index_, num_buffers_, name, shape, finalized());
}

void ParamStore::finalize(Context& ctx, Device device) {
  UCLUSTER_CHECK(!finalized(), "ParamStore::finalize called twice");
  params_ = ctx.zeros({num_params_}, dtype_, device);
  grads_ = ctx.zeros({num_params_}, dtype_, device);
  buffers_ = ctx.zeros({num_buffers_}, dtype_, device);
}

const ParamStore::Entry& ParamStore::find(const std::unordered_map<std::string, std::size_t>& index,
                                          const std::vector<Entry>& entries, const std::string& name,
                                          const char* kind) const {
  UCLUSTER_CHECK(finalized(), "ParamStore: access to '", name, "' before finalize()");
  auto it = index.find(name);
  UCLUSTER_CHECK(it != index.end(), "ParamStore: no ", kind, " named '", name, "'");
  return entries[it->second];
}

Tensor ParamStore::param(const std::string& name) const {
  const Entry& e = find(param_index_, param_entries_, name, "parameter");
  return params_.view(e.offset, e.shape);
}

Tensor ParamStore::grad(const std::string& name) const {
  const Entry& e = find(param_index_, param_entries_, name, "parameter");
  return grads_.view(e.offset, e.shape);
}

Tensor ParamStore::buffer(const std::string& name) const {
  const Entry& e = find(buffer_index_, buffer_entries_, name, "buffer");
  return buffers_.view(e.offset, e.shape);
}

}  // namespace ucluster
