#include "bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ucluster::bench {

// The n-th smallest by nearest rank: p in (0, 100].
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * double(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

nlohmann::ordered_json summary(const std::vector<double>& rounds) {
  return nlohmann::ordered_json{{"median", median(rounds)},
                                {"min", *std::min_element(rounds.begin(), rounds.end())},
                                {"max", *std::max_element(rounds.begin(), rounds.end())}};
}

namespace {

std::string shell_line(const std::string& command) {
  std::string out;
  if (std::FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (pclose(p) != 0) return "";
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

std::string commit(const std::string& dir) {
  if (const char* c = std::getenv("UCLUSTER_COMMIT"); c && *c) return c;
  std::string h = shell_line("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (h.empty()) return "unknown";
  if (!shell_line("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty()) h += "-dirty";
  return h;
}

CpuInfo cpu_info() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  CpuInfo c;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (line.rfind("model name", 0) == 0) {
      ++c.logical;
      c.model = value;
    } else if (line.rfind("cpu cores", 0) == 0) {
      c.cores = std::atoi(value.c_str());
    } else if (line.rfind("flags", 0) == 0 && c.isa.empty()) {
      std::istringstream flags(" " + value);
      std::string f;
      while (flags >> f)
        if (f == "avx2" || f == "fma" || f == "avx512f") c.isa.push_back(f);
    }
  }
  return c;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace ucluster::bench
