#include "model/tf_import.h"

#include <algorithm>
#include <set>

#include "engine/error.h"

namespace ucluster::model {

namespace {

std::string shape_str(const std::vector<std::int64_t>& dims) { return Shape(dims).str(); }

// TF conv kernels are [1,1,Cin,Cout] (tf_util.conv2d with a 1x1 kernel), fc kernels [Cin,Cout];
// both are the same row-major numbers as our [Cin,Cout].
bool shape_matches(const std::vector<std::int64_t>& tf, const Shape& ours) {
  if (tf == ours.dims()) return true;
  if (ours.rank() == 2 && tf.size() == 4 && tf[0] == 1 && tf[1] == 1 && tf[2] == ours.dims()[0] && tf[3] == ours.dims()[1])
    return true;
  return false;
}

// The float32 values of bundle tensor `tf_name`, checked against our shape.
std::vector<float> tensor_values(const std::map<std::string, TfTensor>& bundle, const std::string& tf_name,
                                 const std::string& ours, const Shape& shape) {
  const auto it = bundle.find(tf_name);
  UCLUSTER_CHECK(it != bundle.end(), "TF checkpoint has no tensor '", tf_name, "' (for ", ours, " ", shape.str(),
                 "): not a checkpoint of this model");
  const TfTensor& t = it->second;
  UCLUSTER_CHECK(t.type == TfTensor::Type::Float, "TF tensor '", tf_name, "' (for ", ours, ") is not float32");
  UCLUSTER_CHECK(shape_matches(t.shape, shape), "TF tensor '", tf_name, "' has shape ", shape_str(t.shape), " but ",
                 ours, " is ", shape.str(), " (a checkpoint of another model shape)");
  return t.as_floats();
}

}  // namespace

std::vector<TfNameMap> tf_name_map(const UClusterModel& model) {
  std::vector<TfNameMap> out;
  for (const LayerSpec& l : model.layers()) {
    const std::string& s = l.tf_scope;
    out.push_back({l.name + ".W", s + "/weights", false});
    if (l.bias) out.push_back({l.name + ".b", s + "/biases", false});
    if (l.batch_norm) {
      out.push_back({l.name + ".bn_gamma", s + "/bn/gamma", false});
      out.push_back({l.name + ".bn_beta", s + "/bn/beta", false});
      // The moving statistics are the ExponentialMovingAverage shadows of the moments op (spec 2.6).
      const std::string moments = s + "/bn/" + s + "/bn/moments/";
      out.push_back({l.name + ".bn_mean", moments + "Squeeze/ExponentialMovingAverage", true});
      out.push_back({l.name + ".bn_var", moments + "Squeeze_1/ExponentialMovingAverage", true});
    }
  }
  for (const ExtraParam& p : extra_params(model.dims())) out.push_back({p.name, p.tf_name, false});
  return out;
}

std::string tf_adam_m_name(const std::string& tf_name) { return tf_name + "/Adam"; }
std::string tf_adam_v_name(const std::string& tf_name) { return tf_name + "/Adam_1"; }

TfImportResult import_tf_tensors(Context& ctx, const std::map<std::string, TfTensor>& bundle,
                                 const UClusterModel& model, const ParamStore& store) {
  UCLUSTER_CHECK(store.finalized(), "import_tf_tensors: the parameter store is not finalised");
  const std::vector<TfNameMap> names = tf_name_map(model);
  std::set<std::string> used;
  TfImportResult r;

  // Every parameter and statistic of the store must have a TF name (guards the table above).
  std::set<std::string> mapped;
  for (const TfNameMap& m : names) mapped.insert(m.name);
  for (const auto& e : store.param_entries())
    UCLUSTER_CHECK(mapped.count(e.name), "import_tf_tensors: parameter '", e.name, "' has no TF name");
  for (const auto& e : store.buffer_entries())
    UCLUSTER_CHECK(mapped.count(e.name), "import_tf_tensors: buffer '", e.name, "' has no TF name");

  for (const TfNameMap& m : names) {
    const Tensor dst = m.buffer ? store.buffer(m.name) : store.param(m.name);
    const std::vector<float> v = tensor_values(bundle, m.tf_name, m.name, dst.shape());
    ctx.copy(dst, ctx.from_vector<float>(dst.shape(), v, Device::cpu()));
    used.insert(m.tf_name);
    (m.buffer ? r.buffers : r.params) += 1;
  }

  // Adam slots: present for all parameters (a checkpoint written by the training script) or none.
  const TfNameMap* first_present = nullptr;
  const TfNameMap* first_missing = nullptr;
  for (const TfNameMap& m : names) {
    if (m.buffer) continue;
    const bool have = bundle.count(tf_adam_m_name(m.tf_name)) && bundle.count(tf_adam_v_name(m.tf_name));
    if (have && !first_present) first_present = &m;
    if (!have && !first_missing) first_missing = &m;
  }
  if (first_present) {
    UCLUSTER_CHECK(!first_missing, "TF checkpoint has Adam slots for '", first_present->tf_name, "' but not for '",
                   first_missing->tf_name, "' (expected '", tf_adam_m_name(first_missing->tf_name), "' and '",
                   tf_adam_v_name(first_missing->tf_name), "')");
    std::vector<float> m_flat(static_cast<std::size_t>(store.num_params())), v_flat(m_flat.size());
    for (const TfNameMap& m : names) {
      if (m.buffer) continue;
      const ParamStore::Entry& e = store.param_entry(m.name);
      const std::vector<float> mv = tensor_values(bundle, tf_adam_m_name(m.tf_name), m.name + " (Adam m)", e.shape);
      const std::vector<float> vv = tensor_values(bundle, tf_adam_v_name(m.tf_name), m.name + " (Adam v)", e.shape);
      std::copy(mv.begin(), mv.end(), m_flat.begin() + e.offset);
      std::copy(vv.begin(), vv.end(), v_flat.begin() + e.offset);
      used.insert(tf_adam_m_name(m.tf_name));
      used.insert(tf_adam_v_name(m.tf_name));
    }
    r.optimizer = true;
    r.adam_m = ctx.from_vector<float>(store.flat_params().shape(), m_flat, Device::cpu());
    r.adam_v = ctx.from_vector<float>(store.flat_params().shape(), v_flat, Device::cpu());
  }

  if (const auto it = bundle.find(kTfGlobalStep); it != bundle.end()) {
    const TfTensor& t = it->second;
    UCLUSTER_CHECK((t.type == TfTensor::Type::Int32 || t.type == TfTensor::Type::Int64) && t.numel() == 1 &&
                       t.shape.empty(),
                   "TF tensor '", kTfGlobalStep, "' (the global step) is not an integer scalar");
    r.global_step = t.as_int64();
    UCLUSTER_CHECK(*r.global_step >= 0, "TF checkpoint: negative global step ", *r.global_step);
    used.insert(kTfGlobalStep);
  }
  for (const auto& [name, slot] : {std::pair{kTfBeta1Power, &r.beta1_power}, std::pair{kTfBeta2Power, &r.beta2_power}}) {
    const auto it = bundle.find(name);
    if (it == bundle.end()) continue;
    UCLUSTER_CHECK(it->second.type == TfTensor::Type::Float && it->second.numel() == 1, "TF tensor '", name,
                   "' is not a float32 scalar");
    *slot = it->second.as_floats().at(0);
    used.insert(name);
  }

  for (const auto& [name, t] : bundle)
    if (!used.count(name)) r.unknown.push_back(name);
  return r;
}

}  // namespace ucluster::model
