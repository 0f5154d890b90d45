// Memory allocators. An Allocator hands out raw blocks for tensor storage; the caching
// implementations keep freed blocks in size buckets and reuse them, so a training loop that
// allocates the same activation shapes every step stops calling the system allocator after the
// first step (on CUDA that means no cudaMalloc in the loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/device.h"

namespace ucluster {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;     // handed out and not yet returned
  std::size_t peak_bytes_in_use = 0;
  std::size_t bytes_cached = 0;     // returned, kept for reuse
  std::uint64_t system_allocations = 0;  // calls to the underlying allocator
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) = 0;
  virtual Device device() const = 0;
  virtual AllocatorStats stats() const = 0;
  // Gives every cached block back to the system.
  virtual void release_cached() = 0;
};

// Size-bucketed caching allocator on top of a pair of raw allocate/free functions.
// Requests are rounded up to a bucket size (powers of two below 1 MiB, multiples of 1 MiB above),
// so a freed block can serve any later request of the same bucket. Thread-safe.
class CachingAllocator : public Allocator {
 public:
  using RawAlloc = void* (*)(std::size_t bytes);
  using RawFree = void (*)(void* ptr);

  CachingAllocator(Device device, RawAlloc raw_alloc, RawFree raw_free);
  ~CachingAllocator() override;

  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) override;
  Device device() const override { return device_; }
  AllocatorStats stats() const override;
  void release_cached() override;

  static std::size_t bucket_size(std::size_t bytes);

 private:
  Device device_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_blocks_;
  AllocatorStats stats_;
};

// 64-byte aligned host memory (cache lines; enough for AVX-512 loads).
std::shared_ptr<Allocator> make_cpu_allocator();

}  // namespace ucluster
