// Helpers for the device/dtype switch that every op in kernels/*.cpp performs:
//
//   switch (x.device().kind) {
//     case DeviceKind::CPU:
//       dispatch_float("relu", x.dtype(), [&](auto zero) {
//         using T = decltype(zero);
//         cpu::relu_forward<T>(x.data<T>(), y.data<T>(), x.numel());
//       });
//       return;
//     case DeviceKind::CUDA:
//       UCLUSTER_CUDA_CALL("relu", cuda::relu_forward(cuda_stream(ctx), ...));
//       return;
//   }
//
// The CPU kernels are templates instantiated for float (the engine's type) and double (used by the
// finite-difference gradient tests); the CUDA kernels take float32 only.
#pragma once

#include "engine/context.h"
#include "engine/error.h"

namespace ucluster {

template <typename Fn>
void dispatch_float(const char* op, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    default: fail(op, ": unsupported dtype ", dtype_name(dtype), " (float32 or float64 expected)");
  }
}

// The context's CUDA stream as an opaque pointer (cudaStream_t), for kernels/cuda/ entry points.
inline void* cuda_stream(const Context& ctx) { return ctx.cuda() ? ctx.cuda()->stream : nullptr; }

// CUDA kernels accept float32 only.
inline void require_cuda_f32(const char* op, const Tensor& t) {
  UCLUSTER_CHECK(t.dtype() == DType::F32, op, ": the CUDA backend supports float32 only, got ", t.describe());
}

}  // namespace ucluster

#if UCLUSTER_WITH_CUDA
#define UCLUSTER_CUDA_CALL(op, ...) __VA_ARGS__
#else
#define UCLUSTER_CUDA_CALL(op, ...) ::ucluster::fail(op, ": this binary was built without CUDA")
#endif
