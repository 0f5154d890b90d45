// Element types. The engine computes in float32; float64 exists so that the CPU backend can run
// the finite-difference gradient checks in double precision; int32 holds kNN indices and labels.
// bf16/fp16 are reserved names for reduced-precision modes; no kernel supports them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ucluster {

enum class DType : std::uint8_t { F32, F64, I32, BF16, F16 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
  }
  return "?";
}

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::F64;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::I32;
};

}  // namespace ucluster
