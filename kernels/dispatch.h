// The device switch that every op in kernels/*.cpp performs, as kernels/pool.cpp's mean_pool_forward
// writes it:
//
//   switch (x.device().kind) {
//     case DeviceKind::CPU:
//       return dispatch_float(op, x.dtype(), [&]<typename T>() {
//         cpu::mean_pool_forward<T>(x.data<T>(), y.data<T>(), B, N, C);
//       });
//     case DeviceKind::CUDA:
//       return UCLUSTER_CUDA_CALL(op, x, cuda::mean_pool_forward(ctx, x.data<float>(), y.data<float>(), B, N, C));
//   }
//
// The CPU kernels are templates instantiated for float (the engine's type) and double (used by the
// finite-difference gradient tests); the CUDA kernels take float32 only.
#pragma once

#include "engine/context.h"
#include "engine/error.h"

namespace ucluster {

// Calls fn.template operator()<T>() with T the C++ type of dtype (float or double).
template <typename Fn>
void dispatch_float(const char* op, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::F32:
      fn.template operator()<float>();
      return;
    case DType::F64:
      fn.template operator()<double>();
      return;
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

// The CUDA case of the switch: checks that tensor t is float32, then makes the call; a binary built
// without CUDA throws instead (and never references the CUDA body).
#if UCLUSTER_WITH_CUDA
#define UCLUSTER_CUDA_CALL(op, t, ...) (::ucluster::require_cuda_f32(op, t), __VA_ARGS__)
#else
#define UCLUSTER_CUDA_CALL(op, t, ...) ::ucluster::fail(op, ": this binary was built without CUDA")
#endif
