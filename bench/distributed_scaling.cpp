// Data-parallel training throughput on R ranks with the per-rank batch held fixed (weak scaling),
// run under mpirun (bench/scaling.sh runs 1 and 2 ranks and computes the parallel efficiency).
// Prints one JSON object from rank 0: steps/s, jets/s over all ranks, and the seconds per step in
// each collective (gradient all-reduce, batch-norm statistics, step metrics).
//   mpirun -np R distributed_scaling [--batch B] [--steps S] [--threads T] [--device cpu|cuda]
//                                    [--sync-bn 0|1]   (1: batch_norm_stats "global", 0: "local")
// The time per step is the difference of two runs (W and W + S steps) divided by S, so start-up,
// the initial broadcast and the final checkpoint cancel out.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/toy/dataset.h"
#include "train/communicator.h"
#include "train/trainer.h"

using namespace ucluster;

namespace {

struct Timing {
  double seconds = 0;
  std::vector<TimedCommunicator::Entry> collectives;
};

Timing run(Communicator& comm, const TrainConfig& config, const JetArrays& jets) {
  ContextOptions o;
  o.device = config.device;
  o.num_threads = config.threads;
  Context ctx(o);
  std::unique_ptr<Communicator> nccl = device_communicator(comm, ctx, config.collectives);
  TimedCommunicator timed(nccl ? *nccl : comm);
  auto loader = [&](bool drop_last) {
    LoaderOptions lo;
    lo.batch_size = config.rank_batch(comm.size());
    lo.rank = comm.rank();
    lo.world = comm.size();
    lo.drop_last = drop_last;
    return std::make_unique<Loader>(std::make_unique<MemorySource>(jets, jets.n, lo.batch_size, "toy jets"), lo);
  };
  Trainer trainer(config, ctx, timed, loader(true), loader(false), [](const std::string&) {});
  ctx.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  trainer.run(false);
  ctx.synchronize();
  Timing t;
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t.collectives = timed.entries();
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
  c.device = device_for_rank(*comm, device);
  c.batch_norm_stats = sync_bn ? "global" : "local";
  std::string dir = (std::filesystem::temp_directory_path() / ("ucluster-scaling-" + std::to_string(getpid()))).string();
  c.output_dir = comm->broadcast(dir, 0, "output directory");
  // One epoch longer than both runs, so no evaluation falls inside the timed steps.
  const JetArrays jets = toy::make_toy_dataset(11, 2 * R * batch * (warm + steps + 1), 100, threads);
  const std::int64_t rows = std::min<std::int64_t>(jets.n, R * batch * (warm + steps + 1));
  JetArrays data = jets;
  data.n = rows;
  data.data.resize(static_cast<std::size_t>(rows * data.n_particles * data.n_features));
  data.target.resize(static_cast<std::size_t>(rows));
  data.truth.resize(static_cast<std::size_t>(rows));
  data.mass.resize(static_cast<std::size_t>(rows));

  TrainConfig short_run = c, long_run = c;
  short_run.max_steps = warm;
  long_run.max_steps = warm + steps;
  long_run.output_dir += "-long";
  const Timing a = run(*comm, short_run, data);
  const Timing b = run(*comm, long_run, data);
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
                                {"device", c.device},
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
