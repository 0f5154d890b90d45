// Toy generator rate: jets/s of the physics alone and of make-toy-jets' whole path (physics +
// gzip-compressed raw HLS4ML file), on the given number of threads (default one core). Prints one
// JSON object.   toy_generator_rate [--jets N] [--threads T] [--gzip L]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bench/bench_report.h"
#include "cli/cli.h"
#include "io/staged_file.h"
#include "io/toy_files.h"

int main(int argc, char** argv) {
  return ucluster::cli::guarded_main("toy_generator_rate", [&] {
    using namespace ucluster;
    std::int64_t jets = 10000;
    int threads = 1, gzip = 4;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--jets") jets = cli::to_int(a, cli::value(argc, argv, i), 1, INT64_C(1) << 32);
      else if (a == "--threads") threads = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 1, 1024));
      else if (a == "--gzip") gzip = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 0, 9));
      else if (a == "--help") {
        std::cout << "toy_generator_rate [--jets N] [--threads T] [--gzip L]\n";
        return 0;
      } else fail("unknown option '", a, "'");
    }
    const toy::Generator gen(1);
    const int P = 100;
    const std::int64_t block = 1000;
    std::vector<double> raw(block * P * 16), rows(block * 59);
    auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t b = 0; b < jets; b += block) {
      gen.generate_block(b, std::min(block, jets - b), P, raw.data(), rows.data(), nullptr, threads);
    }
    const double physics = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    const auto dir = std::filesystem::temp_directory_path() / ("ucluster_bench_toy_" + std::to_string(::getpid()));
    toy::ToyFilesOptions o;
    o.out_dir = dir.string();
    o.jets = jets;
    o.threads = threads;
    o.gzip_level = gzip;
    const auto r = toy::write_toy_files(o);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::printf("{\"bench\": \"toy_generator_rate\", \"cpu_model\": %s, \"jets\": %lld, \"threads\": %d, "
                "\"gzip\": %d, "
                "\"physics_jets_per_s\": %.0f, \"with_files_jets_per_s\": %.0f, \"multiplicity_mean\": %.2f}\n",
                nlohmann::json(bench::cpu_info().model).dump().c_str(), static_cast<long long>(jets), threads, gzip, jets / physics, jets / r.seconds, r.multiplicity_mean);
    return 0;
  });
}
