#include "engine/jet_rows.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ucluster {

std::int64_t JetRows::max_jet_rows() const {
  std::int64_t most = 0;
  for (std::int64_t b = 0; b < jets; ++b) most = std::max(most, jet_rows(b));
  return most;
}

JetRows make_jet_rows(Context& ctx, const std::vector<std::int32_t>& real, std::int64_t slots, DType dtype,
                      Device device) {
  UCLUSTER_CHECK(slots > 0 && slots < (std::int64_t(1) << 24), "jet rows: ", slots,
                 " points per jet is out of range (1 to 2^24)");
  UCLUSTER_CHECK(dtype == DType::F32 || dtype == DType::F64, "jet rows: the weights must be float32 or float64, got ",
                 dtype_name(dtype));
  JetRows r;
  r.jets = static_cast<std::int64_t>(real.size());
  r.slots = slots;
  r.host_real = real;
  r.host_offsets.assign(real.size() + 1, 0);
  std::vector<std::int32_t> row_jet;
  std::vector<double> weight;
  for (std::size_t b = 0; b < real.size(); ++b) {
    const std::int32_t n = real[b];
    UCLUSTER_CHECK(n >= 0 && n <= slots, "jet rows: jet ", b, " has ", n, " real points, not between 0 and ", slots);
    const bool padded = n < slots;
    const std::int64_t end = std::int64_t(r.host_offsets[b]) + n + (padded ? 1 : 0);
    UCLUSTER_CHECK(end <= std::numeric_limits<std::int32_t>::max(), "jet rows: more than 2^31 rows in one batch");
    r.host_offsets[b + 1] = static_cast<std::int32_t>(end);
    row_jet.insert(row_jet.end(), std::size_t(n) + (padded ? 1 : 0), static_cast<std::int32_t>(b));
    weight.insert(weight.end(), std::size_t(n), 1.0);
    if (padded) weight.push_back(double(slots - n));
  }
  r.rows = r.host_offsets.back();
  r.offsets = ctx.from_vector<std::int32_t>({r.jets + 1}, r.host_offsets, device);
  r.real = ctx.from_vector<std::int32_t>({r.jets}, r.host_real, device);
  r.row_jet = ctx.from_vector<std::int32_t>({r.rows}, row_jet, device);
  if (dtype == DType::F64) {
    r.weight = ctx.from_vector<double>({r.rows}, weight, device);
  } else {
    r.weight = ctx.from_vector<float>({r.rows}, std::vector<float>(weight.begin(), weight.end()), device);
  }
  return r;
}

JetRows dense_jet_rows(Context& ctx, std::int64_t jets, std::int64_t slots, DType dtype, Device device) {
  return make_jet_rows(ctx, std::vector<std::int32_t>(static_cast<std::size_t>(jets), std::int32_t(slots)), slots,
                       dtype, device);
}

namespace {

template <typename T>
std::vector<std::int32_t> count_real(const T* x, std::int64_t jets, std::int64_t slots, std::int64_t features) {
  std::vector<std::int32_t> real(static_cast<std::size_t>(jets));
  for (std::int64_t b = 0; b < jets; ++b) {
    std::int64_t n = slots;
    // Trailing all-zero points are the padding (spec 1.3, 1.4: real constituents first).
    while (n > 0) {
      const T* p = x + (b * slots + n - 1) * features;
      if (std::any_of(p, p + features, [](T v) { return v != T(0); })) break;
      --n;
    }
    real[b] = static_cast<std::int32_t>(n);
  }
  return real;
}

void check_jets(const char* op, const Tensor& x) {
  UCLUSTER_CHECK(x.defined() && x.rank() == 3, op, ": jets must be [B, P, F], got ", x.describe());
  UCLUSTER_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, op, ": jets must be float32 or float64, got ",
                 x.describe());
}

// Copies the rows of `rows` out of host jets x [B, P, F]: the real points, then one zero row per
// padded jet (every padded point is the zero vector).
template <typename T>
void pack_host(const T* x, const JetRows& rows, std::int64_t features, T* out) {
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    const std::int64_t n = rows.host_real[b], first = rows.host_offsets[b];
    std::memcpy(out + first * features, x + b * rows.slots * features, sizeof(T) * std::size_t(n * features));
    if (n < rows.slots) std::fill_n(out + (first + n) * features, features, T(0));
  }
}

// Host jets x [B, P, F] packed into rows on `device` (the weights of x's type).
template <typename T>
JetBatch pack(Context& ctx, const T* x, std::int64_t jets, std::int64_t slots, std::int64_t features, Device device) {
  JetBatch batch;
  batch.rows = make_jet_rows(ctx, count_real(x, jets, slots, features), slots, DTypeOf<T>::value, device);
  Tensor packed = ctx.empty({batch.rows.rows, features}, DTypeOf<T>::value, Device::cpu());
  pack_host(x, batch.rows, features, packed.data<T>());
  batch.points = device.is_cpu() ? packed : ctx.to(packed, device);
  return batch;
}

}  // namespace

std::vector<std::int32_t> count_real_points(const Tensor& x) {
  check_jets("count_real_points", x);
  UCLUSTER_CHECK(x.device().is_cpu(), "count_real_points: jets must be in host memory, got ", x.describe());
  if (x.dtype() == DType::F64) return count_real(x.data<double>(), x.dim(0), x.dim(1), x.dim(2));
  return count_real(x.data<float>(), x.dim(0), x.dim(1), x.dim(2));
}

JetBatch pack_jets(Context& ctx, const Tensor& x, Device device) {
  check_jets("pack_jets", x);
  const Tensor host = x.device().is_cpu() ? x : ctx.to(x, Device::cpu());
  if (x.dtype() == DType::F64) return pack(ctx, host.data<double>(), x.dim(0), x.dim(1), x.dim(2), device);
  return pack(ctx, host.data<float>(), x.dim(0), x.dim(1), x.dim(2), device);
}

JetBatch pack_jets(Context& ctx, const float* x, std::int64_t jets, std::int64_t slots, std::int64_t features,
                   Device device) {
  return pack(ctx, x, jets, slots, features, device);
}

Tensor pack_point_values(Context& ctx, const std::int32_t* values, const JetRows& rows, Device device) {
  Tensor packed = ctx.empty({rows.rows}, DType::I32, Device::cpu());
  std::int32_t* out = packed.data<std::int32_t>();
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    const std::int64_t n = rows.host_real[b], first = rows.host_offsets[b];
    const std::int32_t* v = values + b * rows.slots;
    std::copy_n(v, n, out + first);
    if (n == rows.slots) continue;
    UCLUSTER_CHECK(std::all_of(v + n, v + rows.slots, [&](std::int32_t x) { return x == v[n]; }),
                   "pack_point_values: the padded points of jet ", b, " (from point ", n,
                   ") do not all hold the same value, so one padding row cannot stand for them");
    out[first + n] = v[n];
  }
  return device.is_cpu() ? packed : ctx.to(packed, device);
}

Tensor unpack_rows(Context& ctx, const Tensor& packed, const JetRows& rows) {
  UCLUSTER_CHECK(packed.defined() && packed.rank() >= 1 && packed.dim(0) == rows.rows, "unpack_rows: ",
                 packed.describe(), " is not [R = ", rows.rows, ", ...]");
  const Tensor host = packed.device().is_cpu() ? packed : ctx.to(packed, Device::cpu());
  std::vector<std::int64_t> dims{rows.jets, rows.slots};
  for (int a = 1; a < packed.rank(); ++a) dims.push_back(packed.dim(a));
  Tensor out = ctx.empty(Shape(dims), packed.dtype(), Device::cpu());
  const std::size_t row_bytes = rows.rows == 0 ? 0 : host.bytes() / std::size_t(rows.rows);
  const auto* src = static_cast<const unsigned char*>(host.raw_data());
  auto* dst = static_cast<unsigned char*>(out.raw_data());
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    const std::int64_t n = rows.host_real[b], first = rows.host_offsets[b];
    for (std::int64_t p = 0; p < rows.slots; ++p) {
      const std::int64_t r = first + std::min(p, n);  // every padded point is the padding row
      std::memcpy(dst + std::size_t(b * rows.slots + p) * row_bytes, src + std::size_t(r) * row_bytes, row_bytes);
    }
  }
  return out;
}

Tensor unpack_neighbours(Context& ctx, const Tensor& idx, const JetRows& rows) {
  UCLUSTER_CHECK(idx.defined() && idx.rank() == 2 && idx.dim(0) == rows.rows && idx.dtype() == DType::I32,
                 "unpack_neighbours: ", idx.describe(), " is not int32 [R = ", rows.rows, ", k]");
  const std::int64_t k = idx.dim(1);
  const std::vector<std::int32_t> packed = ctx.to_vector<std::int32_t>(idx);
  Tensor out = ctx.empty({rows.jets, rows.slots, k}, DType::I32, Device::cpu());
  std::int32_t* o = out.data<std::int32_t>();
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    const std::int64_t n = rows.host_real[b], first = rows.host_offsets[b];
    for (std::int64_t p = 0; p < rows.slots; ++p) {
      const std::int64_t r = first + std::min(p, n);
      std::int32_t next_padded = static_cast<std::int32_t>(n);
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int32_t local = packed[std::size_t(r * k + j)] - static_cast<std::int32_t>(first);
        o[(b * rows.slots + p) * k + j] = local < n ? local : next_padded++;
      }
    }
  }
  return out;
}

}  // namespace ucluster
