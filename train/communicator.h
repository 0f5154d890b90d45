// Collectives across the ranks of a data-parallel job, behind one interface:
//   single  one process, no MPI needed (the engine, inference and tests stay MPI-free);
//   mpi     host buffers over MPI (CPU ranks, CI); device buffers are staged through the host;
//   nccl    device buffers over NCCL on the context's stream, host buffers over the MPI (or single)
//           communicator it was bootstrapped from; one rank per GPU, the GPU chosen from the
//           node-local rank.
//
// Every collective is issued in the same order on every rank. Each one completes within
// `timeout_s` or the job is aborted on every rank with a message naming this rank, the collective
// and the training step (set_step), instead of hanging. Errors every rank sees alike are agreed
// with agree(): each rank then throws the same AgreedError and exits cleanly; any other error on
// one rank ends the whole job through abort().
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/error.h"

namespace ucluster {

// An error every rank has seen (start-up checks, configuration mismatches): a clean exit on every
// rank, no abort needed.
class AgreedError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the processes of this node
  int local_size() const { return local_size_; }
  virtual std::string backend() const = 0;  // "single", "mpi" or "nccl"

  // In-place sum over ranks of n elements (F32, F64 or I32) at `data`, in host memory or in the
  // memory of the context's CUDA device (`on_device`). Mean = sum, then scale by 1/size().
  virtual void all_reduce_sum(Context& ctx, void* data, std::int64_t n, DType dtype, bool on_device,
                              const char* what) = 0;
  // Root's bytes at `data` copied to every rank (host or device memory, as above).
  virtual void broadcast(Context& ctx, void* data, std::int64_t bytes, bool on_device, int root,
                         const char* what) = 0;
  // Host byte strings: every rank's `mine`, in rank order, on `root` (empty vector elsewhere).
  virtual std::vector<std::string> gather(const std::string& mine, int root, const char* what) = 0;
  // Host byte strings: every rank's `mine`, in rank order, on every rank.
  virtual std::vector<std::string> all_gather(const std::string& mine, const char* what) = 0;
  // Ends the job on every rank with `status` (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int status) = 0;

  // Tensor forms (the tensor's own device).
  void all_reduce_sum(Context& ctx, const Tensor& t, const char* what);
  void all_reduce_mean(Context& ctx, const Tensor& t, const char* what);
  void broadcast(Context& ctx, const Tensor& t, int root, const char* what);
  void all_reduce_sum(Context& ctx, std::vector<double>& host_values, const char* what);
  // Root's string on every rank.
  std::string broadcast(const std::string& value, int root, const char* what);

  // Every rank passes its own error ("" when fine); when any is non-empty, every rank throws the
  // same AgreedError listing each failing rank's message.
  void agree(const std::string& my_error);
  // Runs `f`; an exception it throws on any rank becomes an AgreedError on every rank.
  void agree_on(const std::function<void()>& f);

  // Named in timeout messages ("global step 1234").
  virtual void set_step(std::int64_t step) { step_ = step; }
  std::int64_t step() const { return step_; }
  double timeout_s() const { return timeout_s_; }

 protected:
  Communicator(int rank, int size, int local_rank, int local_size, double timeout_s)
      : rank_(rank), size_(size), local_rank_(local_rank), local_size_(local_size), timeout_s_(timeout_s) {}
  // "rank 1 of 4, collective 'gradient all-reduce', global step 17"
  std::string where(const char* what) const;

 private:
  int rank_, size_, local_rank_, local_size_;
  double timeout_s_;
  std::int64_t step_ = -1;
};

class SingleCommunicator final : public Communicator {
 public:
  SingleCommunicator() : Communicator(0, 1, 0, 1, 0.0) {}
  std::string backend() const override { return "single"; }
  void all_reduce_sum(Context&, void*, std::int64_t, DType, bool, const char*) override {}
  void broadcast(Context&, void*, std::int64_t, bool, int, const char*) override {}
  std::vector<std::string> gather(const std::string& mine, int, const char*) override { return {mine}; }
  std::vector<std::string> all_gather(const std::string& mine, const char*) override { return {mine}; }
  [[noreturn]] void abort(int status) override;
};

// Wraps another communicator and adds up the wall-clock seconds of its collectives by name (the
// `what` of each call), for benchmarks and profiles of the communication share of a step.
class TimedCommunicator final : public Communicator {
 public:
  explicit TimedCommunicator(Communicator& inner);
  std::string backend() const override { return inner_.backend(); }
  void all_reduce_sum(Context& ctx, void* data, std::int64_t n, DType dtype, bool on_device,
                      const char* what) override;
  void broadcast(Context& ctx, void* data, std::int64_t bytes, bool on_device, int root, const char* what) override;
  std::vector<std::string> gather(const std::string& mine, int root, const char* what) override;
  std::vector<std::string> all_gather(const std::string& mine, const char* what) override;
  [[noreturn]] void abort(int status) override {
    inner_.abort(status);
    std::_Exit(status);  // not reached: inner_.abort ends the process
  }
  void set_step(std::int64_t step) override;

  struct Entry {
    std::string what;
    std::int64_t calls = 0;
    double seconds = 0;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Entry& entry(const char* what);
  Communicator& inner_;
  std::vector<Entry> entries_;
};

// The process group: MPI when this binary has it and mpirun started the process, else a single
// process. backend: "auto", "single", "mpi" or "nccl" (the host side of NCCL is MPI). Throws (naming the cause) when mpirun started
// several ranks but this binary was built without MPI.
std::unique_ptr<Communicator> start_communicator(const std::string& backend, double timeout_s);

// The communicator for a CUDA context's device buffers: NCCL over `host` (which keeps serving host
// collectives and carries the bootstrap) when collectives is "nccl", or "auto" with more than one
// rank. nullptr otherwise: use `host` itself (MPI stages device buffers through host memory).
std::unique_ptr<Communicator> device_communicator(Communicator& host, Context& ctx, const std::string& collectives);

// The device a rank should use for the configured `requested` device: with several ranks, "cuda"
// and "auto" become cuda:<node-local rank> ("auto" without GPUs: "cpu"). More ranks on a node than
// GPUs, or "cuda" without one, is an AgreedError on every rank.
std::string device_for_rank(Communicator& comm, const std::string& requested);

// FNV-1a of a string (the configuration check of start-up).
std::uint64_t fnv1a(const std::string& s);

}  // namespace ucluster
