// Shared by the NAME_check.cpp programs of tools/cuda-emu: the quiet CPU context the emulated kernels
// run in, and the element-by-element comparison of an emulated CUDA result with the CPU body's.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>
#include <type_traits>
#include <string>
#include <vector>
#include "engine/context.h"
#include "kernels/packed_rows.h"

namespace emu_check {

// Tolerances of the checks, from float32 rounding. u = 2^-24 is float32's unit roundoff: one
// rounding to nearest moves a value by at most u |value|. A float sum (or dot product) of n terms,
// in any order, is within about n u S of the exact value, S = sum |terms| (Higham's gamma_n, to first
// order); two bodies that each carry such an error differ by at most twice that, so a check allows
// 2 (n + 1) u S, the + 1 for a final product or store. A value summed in double and rounded once to
// float is within u |value| of the exact one (the double sum's own n 2^-53 S is far below), so two
// such values differ by at most 2 u |value| (+ 2 n 2^-53 S). Operations that are exact or a single
// correctly rounded IEEE operation on identical inputs (copies, max, indices, one multiply) must
// agree bit for bit.
constexpr double kU = 1.0 / 16777216.0;    // 2^-24
constexpr double kUd = 1.0 / 9007199254740992.0;  // 2^-53

inline ucluster::ContextOptions quiet_cpu_options() {
  ucluster::ContextOptions o;
  o.device = "cpu";
  o.log = [](const std::string&) {};
  return o;
}

// A packed-row layout (engine/jet_rows.h) in host memory, built here rather than by make_jet_rows
// so that the checks need only the raw views: jet b holds real[b] real rows and, when real[b] <
// slots, one padding row of weight slots - real[b].
struct Layout {
  std::vector<std::int32_t> offsets{0}, real, row_jet;
  std::vector<float> weight;
  std::int64_t slots = 0, max_jet_rows = 0;

  Layout(const std::vector<std::int32_t>& real_counts, std::int64_t p) : real(real_counts), slots(p) {
    for (std::size_t b = 0; b < real.size(); ++b) {
      const std::int64_t n = real[b], rows = n + (n < slots);
      for (std::int64_t r = 0; r < rows; ++r) {
        row_jet.push_back(std::int32_t(b));
        weight.push_back(r < n ? 1.0f : float(slots - n));
      }
      offsets.push_back(offsets.back() + std::int32_t(rows));
      max_jet_rows = std::max(max_jet_rows, rows);
    }
  }
  std::int64_t jets() const { return std::int64_t(real.size()); }
  // Whether row r is its jet's padding row.
  bool padding(std::int64_t r) const { return r - offsets[row_jet[r]] == real[row_jet[r]]; }
  std::int64_t rows() const { return offsets.back(); }
  ucluster::PackedRows view() const {
    return {offsets.data(), real.data(), row_jet.data(), jets(), slots, rows(), max_jet_rows};
  }
};

// Real counts of `jets` jets out of `slots`, shuffled: the edge cases first (slots: no padding row,
// 0, k - 1 when k > 1, 1), as many as there are jets, then random counts in [0, slots].
inline std::vector<std::int32_t> random_real_counts(std::mt19937_64& rng, int jets, int slots, int k) {
  std::vector<std::int32_t> real;
  for (int n : {slots, 0, k - 1, 1})
    if (int(real.size()) < jets && n >= 0) real.push_back(n);
  std::uniform_int_distribution<int> count(0, slots);
  while (int(real.size()) < jets) real.push_back(count(rng));
  std::shuffle(real.begin(), real.end(), rng);
  return real;
}

// Counts the comparisons that failed.
struct Checker {
  int fails = 0;

  // Every |emu - cpu| <= rel * max |cpu|; prints one line for `what`.
  void compare(const std::string& what, const std::vector<float>& emu, const std::vector<float>& cpu, double rel) {
    double scale = 0;
    for (float x : cpu) scale = std::max(scale, double(std::abs(x)));
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < emu.size(); ++i) {
      const double d = std::abs(double(emu[i]) - double(cpu[i]));
      if (!(d <= rel * scale + 1e-30)) ++bad;
      worst = std::max(worst, d / (scale + 1e-30));
    }
    std::printf("%-36s %s (%d bad of %zu, worst rel %.3g)\n", what.c_str(), bad ? "FAIL" : "ok", bad, emu.size(),
                worst);
    fails += bad > 0;
  }

  // Every |emu[i] - cpu[i]| <= bound[i] (both NaN counts as equal); prints one line for `what`.
  void within(const std::string& what, const std::vector<float>& emu, const std::vector<float>& cpu,
              const std::vector<double>& bound) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < emu.size(); ++i) {
      if (std::isnan(emu[i]) && std::isnan(cpu[i])) continue;
      const double d = std::abs(double(emu[i]) - double(cpu[i]));
      if (!(d <= bound[i])) {
        if (bad < 3) std::printf("   %s[%zu]: emu %.9g cpu %.9g bound %.3g\n", what.c_str(), i, emu[i], cpu[i], bound[i]);
        ++bad;
      }
      worst = std::max(worst, d / (bound[i] + 1e-300));
    }
    std::printf("%-36s %s (%d bad of %zu, worst |diff|/bound %.3g)\n", what.c_str(), bad ? "FAIL" : "ok", bad,
                emu.size(), worst);
    fails += bad > 0;
  }

  // Bit-for-bit equality (floats: or both NaN; also indices and flags); prints one line for `what`.
  template <class T>
  void exact(const std::string& what, const std::vector<T>& emu, const std::vector<T>& cpu) {
    int bad = 0;
    for (size_t i = 0; i < emu.size(); ++i) {
      bool same = emu[i] == cpu[i];
      if constexpr (std::is_floating_point_v<T>)
        same = std::memcmp(&emu[i], &cpu[i], sizeof(T)) == 0 || (std::isnan(emu[i]) && std::isnan(cpu[i]));
      if (!same) {
        if (bad < 3) std::printf("   %s[%zu]: emu %.9g cpu %.9g\n", what.c_str(), i, double(emu[i]), double(cpu[i]));
        ++bad;
      }
    }
    std::printf("%-36s %s (%d differ of %zu, exact)\n", what.c_str(), bad || emu.size() != cpu.size() ? "FAIL" : "ok",
                bad, emu.size());
    fails += bad > 0 || emu.size() != cpu.size();
  }

  // Prints the verdict; returns the exit status.
  int verdict() const {
    std::printf(fails ? "FAILURES %d\n" : "ALL OK\n", fails);
    return fails ? 1 : 0;
  }
};

}  // namespace emu_check
