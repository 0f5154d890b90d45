#include "engine/tensor.h"

namespace ucluster {

Storage::Storage(std::shared_ptr<Allocator> allocator, std::size_t bytes)
    : allocator_(std::move(allocator)), bytes_(bytes) {
  data_ = allocator_->allocate(bytes == 0 ? 1 : bytes);
}

Storage::~Storage() { allocator_->deallocate(data_, bytes_ == 0 ? 1 : bytes_); }

Tensor Tensor::empty(const std::shared_ptr<Allocator>& allocator, const Shape& shape, DType dtype) {
  for (auto d : shape.dims()) UCLUSTER_CHECK(d >= 0, "tensor shape ", shape.str(), " has a negative extent");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = allocator->device();
  t.storage_ = std::make_shared<Storage>(allocator, t.bytes());
  return t;
}

void* Tensor::raw_data() const {
  UCLUSTER_CHECK(defined(), "access to the data of an undefined tensor");
  return static_cast<char*>(storage_->data()) + byte_offset_;
}

Tensor Tensor::reshape(const Shape& shape) const {
  UCLUSTER_CHECK(shape.numel() == numel(), "reshape of ", describe(), " to ", shape.str(),
                 ": element counts differ");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::view(std::int64_t element_offset, const Shape& shape) const {
  UCLUSTER_CHECK(element_offset >= 0 && element_offset + shape.numel() <= numel(), "view [",
                 element_offset, ", ", element_offset + shape.numel(), ") is outside ", describe());
  Tensor t = *this;
  t.shape_ = shape;
  t.byte_offset_ = byte_offset_ + static_cast<std::size_t>(element_offset) * dtype_size(dtype_);
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "<undefined tensor>";
  return std::string(dtype_name(dtype_)) + shape_.str() + "@" + device_.str();
}

void check_shape(const char* op, const char* what, const Tensor& t, const Shape& expected) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.shape() == expected, op, ": ", what, " has shape ", t.shape().str(), ", expected ",
                 expected.str());
}

void check_rank(const char* op, const char* what, const Tensor& t, int rank) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.rank() == rank, op, ": ", what, " must have rank ", rank, ", got ", t.describe());
}

void check_dtype(const char* op, const char* what, const Tensor& t, DType dtype) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.dtype() == dtype, op, ": ", what, " must be ", dtype_name(dtype), ", got ", t.describe());
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  UCLUSTER_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.describe(), " and ",
                 b.describe());
}

void check_defined(const char* op, const char* what, const Tensor& t) {
  UCLUSTER_CHECK(t.defined(), op, ": ", what, " is undefined");
}

}  // namespace ucluster
