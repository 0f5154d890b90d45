#include "train/rank_setup.h"

#include "io/file_source.h"

namespace ucluster {

RankSetup open_rank(Communicator& host, const TrainConfig& config, const std::function<void(const std::string&)>& log) {
  RankSetup r;
  ContextOptions copts;
  copts.device = device_for_rank(host, config.device);
  // Per-rank randomness derives from the base seed and the rank (rank 0 keeps the base seed).
  copts.seed = host.rank() == 0 ? config.seed : mix_seed(config.seed ^ mix_seed(std::uint64_t(host.rank())));
  copts.num_threads = config.threads;
  copts.log = log;
  r.ctx = std::make_unique<Context>(copts);
  r.device_comm = device_communicator(host, *r.ctx, config.collectives);
  r.comm = r.device_comm ? r.device_comm.get() : &host;
  Communicator& comm = *r.comm;

  r.files = PreparedFiles{config.train_file, config.test_file};
  if (config.toy_data()) {
    // Rank 0 makes the toy files; the others wait for them and open the same files.
    comm.agree_on([&] {
      if (comm.rank() == 0) r.files = prepare_toy_data(config, log);
    });
    r.files.train_file = comm.broadcast(r.files.train_file, 0, "toy data file names");
    r.files.test_file = comm.broadcast(r.files.test_file, 0, "toy data file names");
  }
  comm.agree_on([&] {
    LoaderOptions train_options;
    train_options.batch_size = config.rank_batch(comm.size());
    train_options.rank = comm.rank();
    train_options.world = comm.size();
    train_options.shuffle = config.shuffle;
    train_options.seed = config.seed;
    train_options.drop_last = true;  // floor(N / B) batches per epoch, as the reference (spec 1.7)
    LoaderOptions test_options = train_options;
    test_options.shuffle = false;
    test_options.drop_last = false;  // every test jet counts in the global accuracy
    r.train = open_loader(r.files.train_file, train_options);
    r.test = open_loader(r.files.test_file, test_options);
  });
  return r;
}

}  // namespace ucluster
