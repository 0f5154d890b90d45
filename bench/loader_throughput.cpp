// Loader throughput: jets/s that the sharded streaming loader delivers from a UCluster-layout
// file in the page cache (and, with --memory, from the in-memory mode). Prints one JSON object.
//   loader_throughput [--jets N] [--batch B] [--chunk C] [--gzip L] [--epochs E] [--file PATH]
//                     [--world R] [--memory] [--no-check]
// Without --file, a synthetic file (toy-like zero padding: 50 real particles of 100) is written
// to a temporary path first and removed afterwards; the first epoch warms the page cache and is
// not timed.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "bench/bench_report.h"
#include "cli/cli.h"
#include "engine/rng.h"
#include "io/file_source.h"
#include "io/staged_file.h"
#include "io/ucluster_file.h"

int main(int argc, char** argv) {
  return ucluster::cli::guarded_main("loader_throughput", [&] {
    using namespace ucluster;
    std::int64_t jets = 100000, batch = 512, chunk = 256;
    int gzip = 0, epochs = 3, world = 1;
    bool memory = false, check = true;
    std::string file;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--jets") jets = cli::to_int(a, cli::value(argc, argv, i), 1, INT64_C(1) << 32);
      else if (a == "--batch") batch = cli::to_int(a, cli::value(argc, argv, i), 1, 1 << 20);
      else if (a == "--chunk") chunk = cli::to_int(a, cli::value(argc, argv, i), 1, 1 << 20);
      else if (a == "--gzip") gzip = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 0, 9));
      else if (a == "--epochs") epochs = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 1, 1000));
      else if (a == "--world") world = static_cast<int>(cli::to_int(a, cli::value(argc, argv, i), 1, 1024));
      else if (a == "--file") file = cli::value(argc, argv, i);
      else if (a == "--memory") memory = true;
      else if (a == "--no-check") check = false;
      else if (a == "--help") {
        std::cout << "loader_throughput [--jets N] [--batch B] [--chunk C] [--gzip L] [--epochs E] [--file PATH] "
                     "[--world R] [--memory] [--no-check]\n";
        return 0;
      } else fail("unknown option '", a, "'");
    }
    std::unique_ptr<StagedFile> temp;
    if (file.empty()) {
      temp = std::make_unique<StagedFile>((std::filesystem::temp_directory_path() / "ucluster_bench_loader.h5").string());
      file = temp->temp_path();
      jets::UclusterWriter w(file, jets, 100, {chunk, gzip});
      Rng rng(1);
      const std::int64_t block = 1024;
      std::vector<float> data(block * 800), mass(block), global(block * 4, 0.0f);
      std::vector<std::int32_t> pid(block), truth(block);
      for (std::int64_t b = 0; b < jets; b += block) {
        const std::int64_t n = std::min(block, jets - b);
        std::fill(data.begin(), data.end(), 0.0f);
        for (std::int64_t i = 0; i < n; ++i) {
          for (int k = 0; k < 50 * 8; ++k) data[i * 800 + k] = static_cast<float>(rng.normal());
          truth[i] = static_cast<std::int32_t>(rng.below(3));
          mass[i] = static_cast<float>(rng.uniform(10, 200));
          pid[i] = static_cast<std::int32_t>(mass[i] / (200.0 / 19.0));
        }
        w.write(b, n, data.data(), pid.data(), truth.data(), mass.data(), global.data());
      }
      w.close();
    }
    LoaderOptions o;
    o.batch_size = batch;
    o.world = world;
    o.shuffle = true;
    o.seed = 1;
    auto loader = memory ? open_loader(file, o, true) : open_loader(file, o);
    if (!check && !memory) {
      loader = std::make_unique<Loader>(std::make_unique<FileSource>(file, 512, false), o);
    }
    Batch b;
    double checksum = 0;
    while (loader->next(b)) checksum += b.data[0];  // warm-up epoch (page cache)
    std::int64_t rows = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) {
      while (loader->next(b)) {
        rows += b.size;
        checksum += b.data[b.data.size() / 2];
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"bench\": \"loader_throughput\", \"cpu_model\": %s, \"mode\": \"%s\", \"jets_per_file\": %lld, "
                "\"batch\": %lld, "
                "\"chunk\": %lld, \"gzip\": %d, \"world\": %d, \"check_data\": %s, \"jets\": %lld, \"seconds\": %.4f, "
                "\"jets_per_s\": %.0f, \"checksum\": %.3f}\n",
                nlohmann::json(bench::cpu_info().model).dump().c_str(), memory ? "memory" : "stream",
                static_cast<long long>(loader->rows()), static_cast<long long>(batch),
                static_cast<long long>(loader->source().chunk_rows()), gzip, world, check ? "true" : "false",
                static_cast<long long>(rows), s, rows / s, checksum);
    return 0;
  });
}
