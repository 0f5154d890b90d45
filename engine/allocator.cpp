#include "engine/allocator.h"

#include <cstdlib>
#include <new>

#include "engine/error.h"

namespace ucluster {

CachingAllocator::CachingAllocator(Device device, RawAlloc raw_alloc, RawFree raw_free)
    : device_(device), raw_alloc_(raw_alloc), raw_free_(raw_free) {}

CachingAllocator::~CachingAllocator() { release_cached(); }

std::size_t CachingAllocator::bucket_size(std::size_t bytes) {
  constexpr std::size_t kMinBlock = 256;
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  if (bytes <= kMinBlock) return kMinBlock;
  if (bytes < kMiB) {
    std::size_t b = kMinBlock;
    while (b < bytes) b <<= 1;
    return b;
  }
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = bucket_size(bytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.find(size);
    if (it != free_blocks_.end() && !it->second.empty()) {
      void* ptr = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= size;
      stats_.bytes_in_use += size;
      if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
      return ptr;
    }
  }
  void* ptr = raw_alloc_(size);
  if (ptr == nullptr) {
    // Free the cache and try once more before giving up.
    release_cached();
    ptr = raw_alloc_(size);
  }
  UCLUSTER_CHECK(ptr != nullptr, "out of memory on ", device_.str(), ": could not allocate ", size,
                 " bytes (", stats().bytes_in_use, " bytes in use)");
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.system_allocations++;
  stats_.bytes_in_use += size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) {
  if (ptr == nullptr) return;
  const std::size_t size = bucket_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  free_blocks_[size].push_back(ptr);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_blocks_) {
    for (void* p : blocks) raw_free_(p);
    stats_.bytes_cached -= size * blocks.size();
  }
  free_blocks_.clear();
}

namespace {
void* host_alloc(std::size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
void host_free(void* p) { std::free(p); }
}  // namespace

std::shared_ptr<Allocator> make_cpu_allocator() {
  return std::make_shared<CachingAllocator>(Device::cpu(), host_alloc, host_free);
}

}  // namespace ucluster
