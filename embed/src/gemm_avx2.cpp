// The AVX2 + FMA GEMM kernel (4 rows x 16 columns per tile: 8 of the 16 vector registers).
#define UCLUSTER_GEMM_NAME gemm_avx2
#define UCLUSTER_GEMM_VECTORS 1
#include "embed/src/gemm_kernel.inc"
