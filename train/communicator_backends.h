// The communicator implementations behind start_communicator/device_communicator. Each is compiled only
// where its library is: communicator_mpi.cpp with MPI, communicator_nccl.cpp with CUDA (NCCL
// ships with the CUDA toolkit); communicator_stubs.cpp supplies refusing factories otherwise.
#pragma once

#include <memory>

#include "train/communicator.h"

namespace ucluster {

bool mpi_compiled_in();
// MPI_Init (once per process; MPI_Finalize when the communicator is destroyed) on MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_communicator(double timeout_s);

// An NCCL communicator of host.size() ranks on ctx's device; the unique id travels over `host`
// (which must outlive it and keeps serving host-memory collectives). Works without MPI for one rank.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, Context& ctx);

}  // namespace ucluster
