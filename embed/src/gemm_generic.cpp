// The GEMM kernel for any CPU (the compiler's baseline instruction set).
#define UCLUSTER_GEMM_NAME gemm_generic
#define UCLUSTER_GEMM_VECTORS 1
#include "embed/src/gemm_kernel.inc"
