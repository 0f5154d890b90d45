// The AVX-512 GEMM kernel (4 rows x 64 columns per tile: 16 of the 32 vector registers).
#define UCLUSTER_GEMM_NAME gemm_avx512
#define UCLUSTER_GEMM_VECTORS 4
#include "embed/src/gemm_kernel.inc"
