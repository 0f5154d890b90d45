#include "kernels/cpu/point_focal_loss.h"
#include "kernels/cpu/parallel.h"

#include "kernels/focal_loss_math.h"

namespace ucluster::cpu {

namespace {
template <typename T>
double row_target_probability(const T* l, std::int32_t t, std::int64_t classes) {
  double mx, sum;
  focal_softmax_stats(l, classes, &mx, &sum);
  return ::exp(double(l[t]) - mx) / sum;
}

// fl[r] = FL of row r at its target class.
template <typename T>
void row_focal_values(const T* logits, const std::int32_t* target, std::int64_t n_rows, const PointFocalArgs& a,
                      double* fl) {
#pragma omp parallel for schedule(static) if(parallel_worth(n_rows * a.classes))
  for (std::int64_t r = 0; r < n_rows; ++r)
    fl[r] = focal_value(row_target_probability(logits + r * a.classes, target[r], a.classes), a.gamma, a.alpha);
}

// For each jet and class: the largest FL of the jet's rows of that class (0 when absent) and the
// reference points tied at it (the weights of the rows attaining it).
template <typename T>
void class_maxima(const std::int32_t* target, const PackedRows& rows, const T* weight, std::int64_t classes,
                  const double* fl, double* class_max, double* tie_weight) {
  for (std::int64_t b = 0; b < rows.jets; ++b) {
    double* m = class_max + b * classes;
    double* w = tie_weight + b * classes;
    for (std::int64_t c = 0; c < classes; ++c) m[c] = 0.0, w[c] = 0.0;
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r) m[target[r]] = fl[r] > m[target[r]] ? fl[r] : m[target[r]];
    for (std::int64_t r = rows.offsets[b]; r < rows.offsets[b + 1]; ++r)
      if (fl[r] == m[target[r]]) w[target[r]] += double(weight[r]);
  }
}
}  // namespace

template <typename T>
void point_focal_loss_forward(const T* logits, const std::int32_t* target, const PackedRows& rows, const T* weight,
                              const PointFocalArgs& a, double* fl, double* class_max, double* tie_weight, T* loss) {
  row_focal_values(logits, target, rows.rows, a, fl);
  double total = 0.0;
  if (a.max_over_points) {
    class_maxima(target, rows, weight, a.classes, fl, class_max, tie_weight);
    for (std::int64_t i = 0; i < rows.jets * a.classes; ++i) total += class_max[i];
    loss[0] = static_cast<T>(total / double(rows.jets * a.classes));
  } else {
    for (std::int64_t r = 0; r < rows.rows; ++r) total += double(weight[r]) * fl[r];
    loss[0] = static_cast<T>(total / double(rows.jets * rows.slots));
  }
}

template <typename T>
void point_focal_loss_backward(const T* logits, const std::int32_t* target, const PackedRows& rows, const T* weight,
                               const PointFocalArgs& a, const T* dloss, double* fl, double* class_max,
                               double* tie_weight, T* dlogits) {
  const std::int64_t C = a.classes;
  if (a.max_over_points) {
    row_focal_values(logits, target, rows.rows, a, fl);
    class_maxima(target, rows, weight, C, fl, class_max, tie_weight);
  }
  const double scale = double(dloss[0]) / double(a.max_over_points ? rows.jets * C : rows.jets * rows.slots);
#pragma omp parallel for schedule(static) if(parallel_worth(rows.rows * C))
  for (std::int64_t r = 0; r < rows.rows; ++r) {
    const std::int32_t t = target[r];
    double share = double(weight[r]);  // the points this row stands for
    if (a.max_over_points) {
      const std::int64_t at = std::int64_t(rows.row_jet[r]) * C + t;
      share = fl[r] == class_max[at] ? double(weight[r]) / tie_weight[at] : 0.0;
    }
    if (share == 0.0) continue;
    const T* l = logits + r * C;
    double mx, sum;
    focal_softmax_stats(l, C, &mx, &sum);
    const double pt = ::exp(double(l[t]) - mx) / sum;
    // dq/dl_c = p_t ([c == t] - p_c).
    const double coef = scale * share * focal_dvalue_dq(pt, a.gamma, a.alpha) * pt;
    for (std::int64_t c = 0; c < C; ++c) {
      const double pc = ::exp(double(l[c]) - mx) / sum;
      dlogits[r * C + c] += static_cast<T>(coef * ((c == t ? 1.0 : 0.0) - pc));
    }
  }
}

#define UCLUSTER_INSTANTIATE(T)                                                                                    \
  template void point_focal_loss_forward<T>(const T*, const std::int32_t*, const PackedRows&, const T*,          \
                                            const PointFocalArgs&, double*, double*, double*, T*);                 \
  template void point_focal_loss_backward<T>(const T*, const std::int32_t*, const PackedRows&, const T*,         \
                                             const PointFocalArgs&, const T*, double*, double*, double*, T*);
UCLUSTER_INSTANTIATE(float)
UCLUSTER_INSTANTIATE(double)
#undef UCLUSTER_INSTANTIATE

}  // namespace ucluster::cpu
