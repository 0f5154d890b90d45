// Factories for the communicators this binary was built without: they refuse with the reason.
#include "train/communicator_backends.h"

namespace ucluster {

#if !UCLUSTER_WITH_MPI
bool mpi_compiled_in() { return false; }
std::unique_ptr<Communicator> make_mpi_communicator(double) {
  fail("this binary was built without MPI (UCLUSTER_MPI=OFF or libopenmpi-dev not installed)");
}
#endif

#if !UCLUSTER_WITH_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, Context& ctx) {
  fail("NCCL collectives asked for on ", ctx.device_description(),
       ", but this binary was built without NCCL (no CUDA toolkit with libnccl at build time); use "
       "collectives = \"mpi\" to stage device buffers through the host");
}
#endif

}  // namespace ucluster
