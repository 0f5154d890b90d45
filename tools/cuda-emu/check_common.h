// Shared by the NAME_check.cpp programs of tools/cuda-emu: the quiet CPU context the emulated kernels
// run in, and the element-by-element comparison of an emulated CUDA result with the CPU body's.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>
#include "engine/context.h"

namespace emu_check {

inline ucluster::ContextOptions quiet_cpu_options() {
  ucluster::ContextOptions o;
  o.device = "cpu";
  o.log = [](const std::string&) {};
  return o;
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

  // Prints the verdict; returns the exit status.
  int verdict() const {
    std::printf(fails ? "FAILURES %d\n" : "ALL OK\n", fails);
    return fails ? 1 : 0;
  }
};

}  // namespace emu_check
