// The forward pass of cuda_forward.cu: one thread block per jet, the whole network of spec 2.4 on the
// jet's compressed rows (n real + one padding row of multiplicity 100 - n, padding-compression.md),
// with JetRunner's arithmetic (forward.cpp) where the order matters: each dense element one
// fused multiply-add chain over its inputs in order (gemm_kernel.inc), everything else rounded
// after every multiply and add (no contraction), the kNN lists of JetRunner::select_neighbours.
// Plain C++: cuda_session.cpp and tools/cuda-emu (which runs the kernel on CPU threads) include it.
#pragma once

#include <cstdint>
#include <vector>

#include "embed/src/forward.h"

namespace ucluster::embed::cuda {

// The model's shapes (spec 2.4; model_file.cpp refuses files of other dims).
constexpr int kPoints = 100, kFeatures = 8, kK = 10, kWidth0 = 16, kWidth1 = 128;
constexpr int kLatent = 3, kClasses = 20, kClusters = 3;
constexpr int kLd0 = kFeatures + kWidth0, kLd1 = kFeatures + kWidth1;  // concat(x, o0), concat(x, o1)
// Columns of the concatenation agg reads (spec 2.4 row 21: net01, net02, net11, net12, g0, g1).
constexpr int kCatNet01 = 0, kCatNet02 = 64, kCatNet11 = 192, kCatNet12 = 448, kCatG0 = 704, kCatG1 = 720,
              kCatWidth = 848;
constexpr int kAggLd = 16, kFc1 = 256, kFc2 = 128, kFc3Ld = 32;  // padded widths (gemm.h's kColumnBlock)
constexpr int kThreads = 256;                                   // threads per block (one block per jet)

// Per-block working memory in global memory, in floats: in1 [100][136], cat [100][848], the GAP
// block's s and then p [100][128], agg [100][16]. The small tensors live in shared memory.
constexpr std::int64_t kScratchIn1 = 0, kScratchCat = kScratchIn1 + kPoints * kLd1,
                       kScratchSp = kScratchCat + std::int64_t(kPoints) * kCatWidth,
                       kScratchAgg = kScratchSp + kPoints * kWidth1, kScratchPerBlock = kScratchAgg + kPoints * kAggLd;

// Offsets (in floats) of a layer's tensors in the packed parameter buffer; k inputs, np columns.
struct DenseParams {
  int w, scale, shift, k, np, relu;
};
struct GapParams {
  DenseParams newfea, edge;  // edge: the raw GEMM P = h W_edge; its scale/shift act on P_i - P_j
  int selfatt_w, neibatt_w, out_bias;
  float selfatt_scale, selfatt_shift, neibatt_scale, neibatt_shift;
};
struct ForwardParams {
  GapParams gap0, gap1;
  DenseParams net01, net02, net11, net12, agg, fc1, fc2, fc3;
  int mu;
  float leaky_slope, padding_penalty;
};

struct PackedNetwork {
  ForwardParams params;
  std::vector<float> data;  // every tensor of the Network, one upload
};
// The Network's prepared layers (batch norm folded) in one buffer; throws std::runtime_error when its
// shapes are not the constants above.
PackedNetwork pack_network(const Network& network);

// Launches the forward pass on `stream` (a cudaStream_t): counts[0] is the batch's jet count and
// counts[1 + j] jet j's real particles (1..100), both read on the device, so one captured launch
// serves every batch; block b runs jets b, b + blocks, ... and a block with nothing to do exits.
// features: [jets][100][8]; scratch: blocks * kScratchPerBlock floats; out: [jets]; knn: null, or
// (for the tests) [jets][2][100][k] for the neighbour lists of kNN #1 and #2 of each compressed row,
// as JetRunner::knn1/knn2. Returns the launch's cudaError_t.
int launch_forward(const ForwardParams& p, const float* params, const float* features, const int* counts,
                   float* scratch, int blocks, JetResult* out, int* knn, void* stream);

// How many blocks of the kernel one multiprocessor holds at once (1 when the query fails).
int resident_blocks_per_multiprocessor();

}  // namespace ucluster::embed::cuda
