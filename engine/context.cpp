#include "engine/context.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <iostream>

namespace ucluster {

Device resolve_device(const std::string& request, std::string* notice) {
  if (request == "cpu") return Device::cpu();
  std::string why_not;
  const int count = cuda_runtime::device_count(&why_not);
  if (request == "auto") {
    if (count > 0) return Device::cuda(0);
    if (notice) *notice = "ucluster: no usable CUDA device (" + why_not + "); running on the CPU";
    return Device::cpu();
  }
  int index = 0;
  if (request.rfind("cuda:", 0) == 0) {
    const std::string digits = request.substr(5);
    UCLUSTER_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
                   "invalid device '", request, "': expected cpu, cuda, cuda:N or auto");
    index = std::stoi(digits);
  } else {
    UCLUSTER_CHECK(request == "cuda", "invalid device '", request, "': expected cpu, cuda, cuda:N or auto");
  }
  UCLUSTER_CHECK(count > 0, "device '", request, "' was requested but no CUDA device is usable: ", why_not);
  UCLUSTER_CHECK(index < count, "device '", request, "' was requested but this machine has ", count,
                 " CUDA device(s)");
  return Device::cuda(index);
}

Context::Context(const ContextOptions& options)
    : cpu_allocator_(make_cpu_allocator()), cuda_(nullptr, [](cuda_runtime::State*) {}), rng_(options.seed) {
  std::string notice;
  device_ = resolve_device(options.device, &notice);
  if (!notice.empty()) {
    if (options.log) options.log(notice);
    else std::cerr << notice << "\n";
  }
  if (device_.is_cuda()) {
    cuda_ = cuda_runtime::create_state(device_.index);
    cuda_allocator_ = cuda_runtime::make_device_allocator(device_.index);
  }
  if (options.num_threads > 0) omp_set_num_threads(options.num_threads);
  num_threads_ = omp_get_max_threads();
}

Context::~Context() {
  if (cuda_) cuda_runtime::synchronize(cuda_.get());
}

std::string Context::device_description() const {
  if (device_.is_cuda()) return device_.str() + " (" + cuda_->device_name + ")";
  return "cpu (" + std::to_string(num_threads_) + " threads)";
}

const std::shared_ptr<Allocator>& Context::allocator_ptr(Device device) {
  if (device.is_cpu()) return cpu_allocator_;
  UCLUSTER_CHECK(cuda_allocator_ && device == device_, "device ", device.str(),
                 " is not available in this context (context device: ", device_.str(), ")");
  return cuda_allocator_;
}

Allocator& Context::allocator(Device device) { return *allocator_ptr(device); }

Tensor Context::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor::empty(allocator_ptr(device), shape, dtype);
}

Tensor Context::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  zero_(t);
  return t;
}

namespace {

// Large host fills and copies in parallel chunks: a zero-filled gradient of the edge tensors is
// tens of MB, and a single thread's memset held the other threads at the next op.
constexpr std::size_t kChunkBytes = std::size_t(1) << 20;

template <typename F>
void in_chunks(std::size_t bytes, F&& chunk) {
  const std::int64_t chunks = static_cast<std::int64_t>((bytes + kChunkBytes - 1) / kChunkBytes);
#pragma omp parallel for schedule(static) if(chunks > 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::size_t first = std::size_t(c) * kChunkBytes;
    chunk(first, std::min(kChunkBytes, bytes - first));
  }
}

}  // namespace

void Context::zero_(const Tensor& t) {
  if (t.numel() == 0) return;
  if (t.device().is_cpu()) {
    auto* p = static_cast<unsigned char*>(t.raw_data());
    in_chunks(t.bytes(), [p](std::size_t first, std::size_t n) { std::memset(p + first, 0, n); });
  }
  else cuda_runtime::memset_zero(t.raw_data(), t.bytes(), cuda_.get());
}

void Context::copy(const Tensor& dst, const Tensor& src) {
  UCLUSTER_CHECK(dst.dtype() == src.dtype() && dst.numel() == src.numel(), "copy from ", src.describe(),
                 " to ", dst.describe(), ": dtype or element count differ");
  if (src.numel() == 0) return;
  if (dst.device().is_cpu() && src.device().is_cpu()) {
    auto* d = static_cast<unsigned char*>(dst.raw_data());
    const auto* s = static_cast<const unsigned char*>(src.raw_data());
    const std::size_t bytes = src.bytes();
    // Chunks in parallel only when the two do not overlap (a same-storage copy keeps memmove's
    // semantics).
    if (d + bytes <= s || s + bytes <= d)
      in_chunks(bytes, [d, s](std::size_t first, std::size_t n) { std::memcpy(d + first, s + first, n); });
    else
      std::memmove(d, s, bytes);
    return;
  }
  cuda_runtime::copy(dst.raw_data(), src.raw_data(), src.bytes(), dst.device().is_cuda(), src.device().is_cuda(),
                     cuda_.get());
}

Tensor Context::to(const Tensor& t, Device device) {
  Tensor out = empty(t.shape(), t.dtype(), device);
  copy(out, t);
  return out;
}

void Context::synchronize() {
  if (cuda_) cuda_runtime::synchronize(cuda_.get());
}

}  // namespace ucluster
