// Import of the published TensorFlow checkpoints (spec 2.6, golden README section 3): maps every
// tensor of a TF bundle (model/tf_bundle.h) onto the model's ParamStore names, and the Adam slots
// and global step onto the optimiser state.
//
//   <scope>/weights                                  -> <layer>.W   ([1,1,Cin,Cout] -> [Cin,Cout])
//   <scope>/biases                                   -> <layer>.b
//   <scope>/bn/gamma, <scope>/bn/beta                -> <layer>.bn_gamma, <layer>.bn_beta
//   <scope>/bn/<scope>/bn/moments/Squeeze/ExponentialMovingAverage    -> <layer>.bn_mean (buffer)
//   <scope>/bn/<scope>/bn/moments/Squeeze_1/ExponentialMovingAverage  -> <layer>.bn_var  (buffer)
//   BiasAdd/biases, BiasAdd_1/biases                 -> gap0_out.b, gap1_out.b
//   mu                                               -> mu
//   X/Adam, X/Adam_1 (every trainable X)             -> Adam m, v (flat, parameter order)
//   Variable (int32 scalar)                          -> global step
//   beta1_power, beta2_power                         -> reported only (our Adam derives them from the step)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/param_store.h"
#include "model/tf_bundle.h"
#include "model/ucluster_model.h"

namespace ucluster::model {

struct TfNameMap {
  std::string name;     // ours: "gap1_edge.W", "agg.bn_mean", "mu", ...
  std::string tf_name;  // "layerfilter1_edgefea_0/weights", ...
  bool buffer = false;  // a BN moving statistic (ParamStore buffer), else a trainable parameter
};

// Every parameter and BN statistic of the model with its TF name, in layer order.
std::vector<TfNameMap> tf_name_map(const UClusterModel& model);

// TF's names of the Adam slots of a trainable variable (TF1 AdamOptimizer: "X/Adam" = m, "X/Adam_1" = v).
std::string tf_adam_m_name(const std::string& tf_name);
std::string tf_adam_v_name(const std::string& tf_name);
// TF's name of the global step variable (tf.Variable(0) in train_kmeans.py) and the Adam powers.
inline constexpr const char* kTfGlobalStep = "Variable";
inline constexpr const char* kTfBeta1Power = "beta1_power";
inline constexpr const char* kTfBeta2Power = "beta2_power";

struct TfImportResult {
  std::int64_t params = 0, buffers = 0;  // tensors copied into the store
  bool optimizer = false;                // Adam slots found for every parameter
  Tensor adam_m, adam_v;                 // CPU, shaped like store.flat_params(); undefined without slots
  std::optional<std::int64_t> global_step;
  std::optional<double> beta1_power, beta2_power;
  std::vector<std::string> unknown;      // bundle tensors that map to nothing (sorted)
};

// Copies the bundle's tensors into the finalised store, values bit for bit (float32 -> float32).
// Throws ucluster::Error naming the tensor when one is missing, is not float32 or has the wrong
// shape (a conv kernel may come as [1,1,Cin,Cout] or [Cin,Cout]). Adam slots: all or none (a
// partial set is an error naming the first missing slot). Unknown tensors are only reported.
TfImportResult import_tf_tensors(Context& ctx, const std::map<std::string, TfTensor>& bundle,
                                 const UClusterModel& model, const ParamStore& store);

}  // namespace ucluster::model
