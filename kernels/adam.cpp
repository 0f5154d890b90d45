#include "kernels/adam.h"

#include <cmath>
#include <unordered_set>

#include "kernels/cpu/adam.h"
#include "kernels/cuda/adam.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {
void check_adam(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, double lr_t,
                double beta1, double beta2, double epsilon) {
  const char* op = "adam";
  check_defined(op, "params", params);
  const std::pair<const char*, const Tensor*> others[] = {{"gradients", &grads}, {"m", &m}, {"v", &v}};
  for (const auto& [what, t] : others) {
    check_defined(op, what, *t);
    UCLUSTER_CHECK(t->shape() == params.shape() && t->dtype() == params.dtype(), op, ": ", what, " ",
                   t->describe(), " does not match params ", params.describe());
    check_same_device(op, params, *t);
  }
  UCLUSTER_CHECK(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0, op,
                 ": beta1 and beta2 must lie in [0, 1), got ", beta1, " and ", beta2);
  UCLUSTER_CHECK(std::isfinite(epsilon) && epsilon >= 0.0, op, ": epsilon must be finite and >= 0, got ", epsilon);
  UCLUSTER_CHECK(std::isfinite(lr_t), op, ": the step size lr_t must be finite, got ", lr_t);
}

void check_segments(const std::vector<AdamSegment>& segments, std::int64_t numel) {
  std::int64_t end = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const AdamSegment& s = segments[i];
    UCLUSTER_CHECK(s.offset >= end && s.count >= 0 && s.offset + s.count <= numel, "adam: segment ", i,
                   " (offset ", s.offset, ", count ", s.count, ") is out of range [0, ", numel,
                   "), negative, or overlaps / precedes the previous segment (which ends at ", end, ")");
    end = s.offset + s.count;
  }
}
}  // namespace

double adam_step_size(double lr, double beta1, double beta2, std::int64_t t) {
  UCLUSTER_CHECK(t >= 1, "adam_step_size: the update count t must be >= 1, got ", t);
  UCLUSTER_CHECK(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0,
                 "adam_step_size: beta1 and beta2 must lie in [0, 1), got ", beta1, " and ", beta2);
  const double td = static_cast<double>(t);
  return lr * std::sqrt(1.0 - std::pow(beta2, td)) / (1.0 - std::pow(beta1, td));
}

void adam_update(Context& ctx, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                 double lr_t, double beta1, double beta2, double epsilon) {
  check_defined("adam", "params", params);
  adam_update(ctx, params, grads, m, v, lr_t, beta1, beta2, epsilon, {AdamSegment{0, params.numel()}});
}

void adam_update(Context& ctx, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                 double lr_t, double beta1, double beta2, double epsilon, const std::vector<AdamSegment>& segments) {
  check_adam(params, grads, m, v, lr_t, beta1, beta2, epsilon);
  check_segments(segments, params.numel());
  switch (params.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("adam", params.dtype(), [&]<typename T>() {
        for (const AdamSegment& s : segments)
          cpu::adam_update<T>(params.data<T>() + s.offset, grads.data<T>() + s.offset, m.data<T>() + s.offset,
                              v.data<T>() + s.offset, s.count, lr_t, beta1, beta2, epsilon);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL("adam", params, [&] {
        for (const AdamSegment& s : segments)
          cuda::adam_update(ctx, params.data<float>() + s.offset, grads.data<float>() + s.offset,
                            m.data<float>() + s.offset, v.data<float>() + s.offset, s.count, lr_t, beta1, beta2,
                            epsilon);
      }());
  }
}

std::vector<AdamSegment> adam_segments_except(const ParamStore& store, const std::vector<std::string>& frozen) {
  for (const std::string& name : frozen)
    UCLUSTER_CHECK(store.has_param(name), "adam_segments_except: no parameter named '", name, "'");
  const std::unordered_set<std::string> skip(frozen.begin(), frozen.end());
  std::vector<AdamSegment> segments;
  for (const ParamStore::Entry& e : store.param_entries()) {
    if (skip.count(e.name)) continue;
    const std::int64_t n = e.shape.numel();
    if (!segments.empty() && segments.back().offset + segments.back().count == e.offset)
      segments.back().count += n;
    else
      segments.push_back({e.offset, n});
  }
  return segments;
}

}  // namespace ucluster
