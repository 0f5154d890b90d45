// Packed rows of a batch of jets: cost proportional to real particles
// (shared/design/padding-compression.md).
//
// The reference runs every jet as P = 100 points, its n real constituents first and P - n all-zero
// padded points after (spec 1.3, 1.4). All padded points of a jet stay identical through the
// network, and every real point depends on them only through how many it sees, so the engine keeps
// one row for them: jet b occupies rows [offsets[b], offsets[b + 1]) of a [R, C] tensor, its n_b
// real rows in their original order, then, when n_b < P, ONE padding row standing for the P - n_b
// padded points. Row weights say how many reference points a row stands for (1 for a real row,
// P - n_b for the padding row); every sum over points (batch-norm statistics, the average pool)
// counts a row that many times, and the kNN ops let the padding row appear as often in a list as
// the reference's distinct padded points would (kernels/knn.h). Nothing about the method changes,
// only float rounding (sums in another order).
//
// A jet whose trailing rows are not all zero has no padding row; a layout of P real rows per jet
// (dense_jet_rows) is the reference's layout itself.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/context.h"

namespace ucluster {

struct JetRows {
  std::int64_t jets = 0;   // B
  std::int64_t slots = 0;  // P: the reference's points per jet
  std::int64_t rows = 0;   // R = sum over jets of (n_b + [n_b < P])
  Tensor offsets;          // int32 [B + 1] on the data's device; offsets[B] = R
  Tensor real;             // int32 [B]: n_b; when n_b < P, row offsets[b] + n_b is the padding row
  Tensor row_jet;          // int32 [R]: the jet of each row
  Tensor weight;           // [R], the data's dtype: 1, or P - n_b for a padding row
  std::vector<std::int32_t> host_offsets, host_real;

  std::int64_t jet_rows(std::int64_t b) const { return host_offsets[b + 1] - host_offsets[b]; }
  // The largest number of rows of one jet (at most P).
  std::int64_t max_jet_rows() const;
};

// The layout of jets with real[b] real points each out of `slots` (0 <= real[b] <= slots), its
// tensors of dtype `dtype` (the weights; the indices are int32) on `device`.
JetRows make_jet_rows(Context& ctx, const std::vector<std::int32_t>& real, std::int64_t slots, DType dtype,
                      Device device);
// Every jet `slots` real rows: the reference's layout, no padding row.
JetRows dense_jet_rows(Context& ctx, std::int64_t jets, std::int64_t slots, DType dtype, Device device);

// The real points of each jet of x [B, P, F] (float32 or float64, host memory): P minus the
// number of its trailing all-zero points.
std::vector<std::int32_t> count_real_points(const Tensor& x);

// A batch ready for the model: its layout and its packed points [R, F] on the layout's device.
struct JetBatch {
  JetRows rows;
  Tensor points;
  Tensor globals;  // [B, G] per-event inputs of the event model (ucluster-ad-spec.md 2.2); empty for jets
};

// Packs x [B, P, F] (any device; read on the host) into rows of count_real_points(x) on `device`.
JetBatch pack_jets(Context& ctx, const Tensor& x, Device device);
// Packs host floats [B, P, F] straight into rows on `device`: only the R packed rows are copied.
JetBatch pack_jets(Context& ctx, const float* x, std::int64_t jets, std::int64_t slots, std::int64_t features,
                   Device device);

// Per-point integer values [B, P] (host) in the rows of `rows` as int32 [R] on `device`: a padding
// row takes the value its padded points share (all of them must hold the same value; throws,
// naming the jet, otherwise). The event model's per-particle targets (padding: class 0).
Tensor pack_point_values(Context& ctx, const std::int32_t* values, const JetRows& rows, Device device);

// The reference's dense form of packed rows [R, ...] (any device): [B, P, ...] on the host, the
// padding row copied to all P - n_b padded points. For comparisons with golden data and captures.
Tensor unpack_rows(Context& ctx, const Tensor& packed, const JetRows& rows);
// The reference's [B, P, k] neighbour indices (within the jet) of packed kNN indices [R, k]
// (absolute rows, kernels/knn.h), on the host: the padding row's appearances in a list become the
// padded points n_b, n_b + 1, ... in order (TF's tie order: lower index first), and every padded
// point takes the padding row's list.
Tensor unpack_neighbours(Context& ctx, const Tensor& idx, const JetRows& rows);

}  // namespace ucluster
