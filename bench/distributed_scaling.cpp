// Data-parallel training throughput on R ranks with the per-rank batch held fixed (weak scaling),
// run under mpirun (bench/scaling.sh runs 1 and 2 ranks and computes the parallel efficiency).
// Prints one JSON object from rank 0: steps/s, jets/s over all ranks, and the seconds per step in
// each collective (gradient all-reduce, batch-norm statistics, step metrics).
//   mpirun -np R distributed_scaling [--batch B] [--steps S] [--threads T] [--device cpu|cuda]
//                                    [--sync-bn 0|1]   (1: batch_norm_stats "global", 0: "local")
// The time per step is the difference of two runs (W and W + S steps) divided by S, so start-up,
// the initial broadcast and the final checkpoint cancel out. Each rank is opened as `train` opens
// it (train/rank_setup.h): device from the node-local rank, per-rank seed, toy data made by rank 0
// into files and streamed by the loaders.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/bench_report.h"
#include "train/communicator.h"
#include "train/rank_setup.h"
#include "train/trainer.h"

using namespace ucluster;

namespace {

struct Timing {
  double seconds = 0;
  std::vector<TimedCommunicator::Entry> collectives;
  std::string device;   // the context's device, as resolved for this rank
  PreparedFiles files;  // the data the run read
};

Timing run(Communicator& host, const TrainConfig& config) {
  const auto quiet = [](const std::string&) {};
  RankSetup rank = open_rank(host, config, quiet);
  TimedCommunicator timed(*rank.comm);
  Trainer trainer(config, *rank.ctx, timed, std::move(rank.train), std::move(rank.test), quiet);
  rank.ctx->synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  trainer.run(false);
  rank.ctx->synchronize();
  Timing t;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.collectives = timed.entries();
  t.device = rank.ctx->device_description();
  t.files = rank.files;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t batch = 64, steps = 10, warm = 3;
  int threads = 1;
  bool sync_bn = true;
  std::string device = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--batch") batch = std::stoll(v);
    else if (a == "--steps") steps = std::stoll(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--device") device = v;
    else if (a == "--sync-bn") sync_bn = v != "0";
    else {
      std::fprintf(stderr, "distributed_scaling: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::unique_ptr<Communicator> comm = start_communicator("auto", 600);
  const int R = comm->size();
  TrainConfig c;
  c.batch_split = "per_rank";
  c.batch_size = batch;
  c.epochs = 1;
  c.pretrain_epochs = 1;
  c.threads = threads;
  c.device = device;
  c.batch_norm_stats = sync_bn ? "global" : "local";
  std::string dir = (std::filesystem::temp_directory_path() / ("ucluster-scaling-" + std::to_string(getpid()))).string();
  c.output_dir = comm->broadcast(dir, 0, "output directory");
  // Toy jets for an epoch longer than both runs, so no evaluation falls inside the timed steps:
  // the training split is 80 % of the jets that pass the selection (2x leaves room for it).
  c.toy_jets = 2 * R * batch * (warm + steps + 1) * 5 / 4;
  c.toy_seed = 11;

  TrainConfig short_run = c, long_run = c;
  short_run.max_steps = warm;
  long_run.max_steps = warm + steps;
  long_run.output_dir += "-long";
  const Timing a = run(*comm, short_run);
  // The long run reads the toy files the short run made.
  long_run.train_file = a.files.train_file;
  long_run.test_file = a.files.test_file;
  const Timing b = run(*comm, long_run);
  if (comm->rank() == 0) {
    std::filesystem::remove_all(short_run.output_dir);
    std::filesystem::remove_all(long_run.output_dir);
    const double per_step = (b.seconds - a.seconds) / double(steps);
    nlohmann::json collectives = nlohmann::json::object();
    for (const auto& e : b.collectives) {
      double before = 0;
      std::int64_t calls_before = 0;
      for (const auto& f : a.collectives)
        if (f.what == e.what) before = f.seconds, calls_before = f.calls;
      collectives[e.what] = {{"calls_per_step", double(e.calls - calls_before) / double(steps)},
                             {"seconds_per_step", (e.seconds - before) / double(steps)}};
    }
    const nlohmann::json out = {{"benchmark", "distributed_scaling"},
                                {"ranks", R},
                                {"backend", comm->backend()},
                                {"device", b.device},
                                {"cpu_model", bench::cpu_info().model},
                                {"threads_per_rank", threads},
                                {"batch_norm_stats", c.batch_norm_stats},
                                {"per_rank_batch", batch},
                                {"global_batch", batch * R},
                                {"timed_steps", steps},
                                {"seconds_per_step", per_step},
                                {"steps_per_s", 1.0 / per_step},
                                {"jets_per_s", double(batch * R) / per_step},
                                {"collectives", collectives}};
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}
