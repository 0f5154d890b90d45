// What a benchmark's JSON says about its run: statistics of repeated measurements and the machine
// and code it ran on (the CPU model must accompany every CPU figure; throughputs mean something
// only beside a peer from the same run, on the same machine).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ucluster::bench {

// The p-th percentile by nearest rank, p in (0, 100].
double percentile(std::vector<double> v, double p);
double median(std::vector<double> v);
// {"median", "min", "max"} of per-round values.
nlohmann::ordered_json summary(const std::vector<double>& rounds);

// The commit of the source tree (UCLUSTER_COMMIT when set), "-dirty" when tracked files changed.
std::string commit(const std::string& source_dir);

// 'model name' of /proc/cpuinfo, the logical CPUs, the physical cores ('cpu cores' per package),
// and which of avx2, fma and avx512f the CPU has.
struct CpuInfo {
  std::string model = "unknown";
  int logical = 0, cores = 0;
  std::vector<std::string> isa;
};
CpuInfo cpu_info();

// /proc/loadavg's three averages, "1 5 15" minutes.
std::string load_average();

}  // namespace ucluster::bench
