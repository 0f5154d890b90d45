// Tensor: a typed, shaped view of a block of device or host memory.
//
// Contiguous by design: every tensor is dense row-major, so kernels take plain pointers and
// extents. Views (reshape, the named parameter views into the flat parameter buffer) share the
// storage and differ only in byte offset and shape. Copies are explicit (Context::copy).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace ucluster {

// A block of memory owned through an allocator; returned to it when the last tensor goes.
class Storage {
 public:
  Storage(std::shared_ptr<Allocator> allocator, std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return allocator_->device(); }

 private:
  std::shared_ptr<Allocator> allocator_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor (e.g. an absent bias)

  // Uninitialised tensor from an allocator (use Context::empty in user code).
  static Tensor empty(const std::shared_ptr<Allocator>& allocator, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::int64_t numel() const { return shape_.numel(); }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

  void* raw_data() const;
  // Typed pointer; throws if T does not match the tensor's dtype.
  template <typename T>
  T* data() const {
    UCLUSTER_CHECK(DTypeOf<T>::value == dtype_, "tensor ", describe(), " accessed as ",
                   dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(raw_data());
  }

  // Same memory, new shape with the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // Elements [offset, offset + shape.numel()) of this tensor as a new view.
  Tensor view(std::int64_t element_offset, const Shape& shape) const;
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // "float32[16,100,8]@cpu", for error messages.
  std::string describe() const;

 private:
  std::shared_ptr<Storage> storage_;
  std::size_t byte_offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_;
};

// Typed pointer to t's data, or nullptr for an undefined tensor (an absent optional input or output).
template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Shape checks shared by all ops; each throws ucluster::Error naming the op and the tensors.
void check_shape(const char* op, const char* what, const Tensor& t, const Shape& expected);
void check_rank(const char* op, const char* what, const Tensor& t, int rank);
void check_dtype(const char* op, const char* what, const Tensor& t, DType dtype);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const char* what, const Tensor& t);

}  // namespace ucluster
