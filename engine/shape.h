// Tensor shapes: a short list of non-negative extents, row-major (last axis fastest).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace ucluster {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  // Negative axes count from the end, as in numpy.
  std::int64_t operator[](int axis) const { return dims_.at(normalise(axis)); }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : dims_) n *= d;
    return n;
  }
  // Product of all extents but the last: the "rows" of a point-wise layer over [..., C].
  std::int64_t rows() const { return rank() == 0 ? 1 : numel() / dims_.back(); }
  std::int64_t last() const { return dims_.empty() ? 1 : dims_.back(); }
  const std::vector<std::int64_t>& dims() const { return dims_; }

  Shape with_last(std::int64_t c) const {
    auto d = dims_;
    d.back() = c;
    return Shape(std::move(d));
  }
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }

  std::string str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      if (i) s += ',';
      s += std::to_string(dims_[i]);
    }
    s += ']';
    return s;
  }
  int normalise(int axis) const { return axis < 0 ? axis + rank() : axis; }

 private:
  std::vector<std::int64_t> dims_;
};

}  // namespace ucluster
