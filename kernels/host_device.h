// UCLUSTER_HOST_DEVICE marks the inline functions of the headers shared by the CPU bodies and the
// CUDA kernels (kernels/*_math.h): __host__ __device__ under nvcc, nothing for the host compilers.
#pragma once

#ifdef __CUDACC__
#define UCLUSTER_HOST_DEVICE __host__ __device__
#else
#define UCLUSTER_HOST_DEVICE
#endif
