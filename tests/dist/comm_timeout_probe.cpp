// A stuck rank: rank 1 sleeps instead of joining an all-reduce; rank 0's collective must end the
// whole job after timeout_s with a message naming its rank, the collective and the step
// (run by timeout_probe.sh under mpirun -np 2).
#include <chrono>
#include <cstdio>
#include <thread>

#include "train/communicator.h"

int main() {
  using namespace ucluster;
  std::unique_ptr<Communicator> comm = start_communicator("mpi", 2.0);
  Context ctx;
  comm->set_step(7);
  if (comm->rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(120));
    return 0;
  }
  std::vector<double> values = {1.0, 2.0};
  comm->all_reduce_sum(ctx, values, "probe all-reduce");
  std::printf("the all-reduce completed although rank 1 never joined it\n");
  return 0;
}
