// Context: owns everything an engine run needs that is not a tensor — the chosen device, the
// allocators, the CUDA stream, the random-number generator. There is no global mutable state in
// ucluster: every op receives the context (directly or through the autograd Tape).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/cuda_runtime.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace ucluster {

struct ContextOptions {
  // "cpu", "cuda", "cuda:N" or "auto" (CUDA when a device is usable, else CPU with one log line).
  std::string device = "auto";
  std::uint64_t seed = 1;
  // OpenMP threads for the CPU kernels; 0 keeps the runtime's default (OMP_NUM_THREADS).
  int num_threads = 0;
  // Where the one-line device notice goes; empty = stderr.
  std::function<void(const std::string&)> log;
};

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The device new tensors go to by default.
  Device device() const { return device_; }
  std::string device_description() const;

  Allocator& allocator(Device device);
  const std::shared_ptr<Allocator>& allocator_ptr(Device device);

  Tensor empty(const Shape& shape, DType dtype = DType::F32) { return empty(shape, dtype, device_); }
  Tensor empty(const Shape& shape, DType dtype, Device device);
  Tensor zeros(const Shape& shape, DType dtype = DType::F32) { return zeros(shape, dtype, device_); }
  Tensor zeros(const Shape& shape, DType dtype, Device device);
  Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
  Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }

  void zero_(const Tensor& t);
  // dst <- src; same dtype and element count, any devices.
  void copy(const Tensor& dst, const Tensor& src);
  Tensor to(const Tensor& t, Device device);
  Tensor clone(const Tensor& t) { return to(t, t.device()); }

  template <typename T>
  Tensor from_vector(const Shape& shape, const std::vector<T>& values, Device device);
  template <typename T>
  Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
    return from_vector(shape, values, device_);
  }
  template <typename T>
  std::vector<T> to_vector(const Tensor& t);

  Rng& rng() { return rng_; }
  // CUDA objects of this context; nullptr on a CPU context.
  const cuda_runtime::State* cuda() const { return cuda_.get(); }
  void synchronize();

  int num_threads() const { return num_threads_; }

 private:
  Device device_;
  std::shared_ptr<Allocator> cpu_allocator_;
  std::shared_ptr<Allocator> cuda_allocator_;
  std::unique_ptr<cuda_runtime::State, void (*)(cuda_runtime::State*)> cuda_;
  Rng rng_;
  int num_threads_ = 1;
};

// Parses "cpu" / "cuda" / "cuda:N" / "auto" and resolves it against what this machine has.
// Returns the device and, for "auto" without CUDA, the reason in *notice.
Device resolve_device(const std::string& request, std::string* notice);

template <typename T>
Tensor Context::from_vector(const Shape& shape, const std::vector<T>& values, Device device) {
  UCLUSTER_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
                 " values for shape ", shape.str());
  Tensor host = empty(shape, DTypeOf<T>::value, Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  return device.is_cpu() ? host : to(host, device);
}

template <typename T>
std::vector<T> Context::to_vector(const Tensor& t) {
  Tensor host = t.device().is_cpu() ? t : to(t, Device::cpu());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}

}  // namespace ucluster
