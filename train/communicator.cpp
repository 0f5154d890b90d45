#include "train/communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "kernels/elementwise.h"
#include "train/communicator_backends.h"

namespace ucluster {

std::string Communicator::where(const char* what) const {
  std::string s = make_message("rank ", rank_, " of ", size_, ", collective '", what, "'");
  if (step_ >= 0) s += make_message(", global step ", step_);
  return s;
}

void Communicator::all_reduce_sum(Context& ctx, const Tensor& t, const char* what) {
  if (size() == 1 || t.numel() == 0) return;
  all_reduce_sum(ctx, t.raw_data(), t.numel(), t.dtype(), !t.device().is_cpu(), what);
}

void Communicator::all_reduce_mean(Context& ctx, const Tensor& t, const char* what) {
  if (size() == 1 || t.numel() == 0) return;
  UCLUSTER_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "all_reduce_mean: ", t.describe(),
                 " is not floating point");
  all_reduce_sum(ctx, t, what);
  scale_forward(ctx, t, 1.0 / size(), t);
}

void Communicator::broadcast(Context& ctx, const Tensor& t, int root, const char* what) {
  if (size() == 1 || t.numel() == 0) return;
  broadcast(ctx, t.raw_data(), static_cast<std::int64_t>(t.bytes()), !t.device().is_cpu(), root, what);
}

void Communicator::all_reduce_sum(Context& ctx, std::vector<double>& host_values, const char* what) {
  if (size() == 1 || host_values.empty()) return;
  all_reduce_sum(ctx, host_values.data(), static_cast<std::int64_t>(host_values.size()), DType::F64, false, what);
}

std::string Communicator::broadcast(const std::string& value, int root, const char* what) {
  if (size() == 1) return value;
  // Rank order of all_gather: simple, and the strings broadcast here are small (state, ids).
  return all_gather(rank() == root ? value : std::string(), what).at(static_cast<std::size_t>(root));
}

void Communicator::agree(const std::string& my_error) {
  const std::vector<std::string> errors = size() == 1 ? std::vector<std::string>{my_error}
                                                      : all_gather(my_error, "error agreement");
  // One entry per distinct message, naming the ranks that reported it: "ranks 0, 1: ...".
  std::vector<std::pair<std::string, std::vector<std::size_t>>> distinct;
  for (std::size_t r = 0; r < errors.size(); ++r) {
    if (errors[r].empty()) continue;
    auto same = std::find_if(distinct.begin(), distinct.end(), [&](const auto& d) { return d.first == errors[r]; });
    if (same == distinct.end()) distinct.push_back({errors[r], {r}});
    else same->second.push_back(r);
  }
  if (distinct.empty()) return;
  std::string message;
  for (const auto& [text, ranks] : distinct) {
    if (!message.empty()) message += "; ";
    if (size() > 1) {
      message += ranks.size() == 1 ? "rank " : "ranks ";
      for (std::size_t i = 0; i < ranks.size(); ++i) message += (i ? ", " : "") + std::to_string(ranks[i]);
      message += ": ";
    }
    message += text;
  }
  throw AgreedError(message);
}

void Communicator::agree_on(const std::function<void()>& f) {
  std::string error;
  try {
    f();
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(error);
}

void SingleCommunicator::abort(int status) { std::exit(status); }

TimedCommunicator::TimedCommunicator(Communicator& inner)
    : Communicator(inner.rank(), inner.size(), inner.local_rank(), inner.local_size(), inner.timeout_s()),
      inner_(inner) {}

TimedCommunicator::Entry& TimedCommunicator::entry(const char* what) {
  for (Entry& e : entries_)
    if (e.what == what) return e;
  entries_.push_back({what, 0, 0.0});
  return entries_.back();
}

namespace {
template <typename F>
auto timed(TimedCommunicator::Entry& e, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  struct Add {
    TimedCommunicator::Entry& e;
    std::chrono::steady_clock::time_point t0;
    ~Add() {
      e.calls += 1;
      e.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } add{e, t0};
  return f();
}
}  // namespace

void TimedCommunicator::all_reduce_sum(Context& ctx, void* data, std::int64_t n, DType dtype, bool on_device,
                                       const char* what) {
  timed(entry(what), [&] { inner_.all_reduce_sum(ctx, data, n, dtype, on_device, what); });
}

void TimedCommunicator::broadcast(Context& ctx, void* data, std::int64_t bytes, bool on_device, int root,
                                  const char* what) {
  timed(entry(what), [&] { inner_.broadcast(ctx, data, bytes, on_device, root, what); });
}

std::vector<std::string> TimedCommunicator::gather(const std::string& mine, int root, const char* what) {
  return timed(entry(what), [&] { return inner_.gather(mine, root, what); });
}

std::vector<std::string> TimedCommunicator::all_gather(const std::string& mine, const char* what) {
  return timed(entry(what), [&] { return inner_.all_gather(mine, what); });
}

void TimedCommunicator::set_step(std::int64_t step) {
  Communicator::set_step(step);
  inner_.set_step(step);
}


namespace {
// The number of ranks the launcher (mpirun, srun) started, from its environment; 0 when the
// process was not started by a launcher.
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return std::atoi(v);
  }
  return 0;
}

}  // namespace

std::unique_ptr<Communicator> start_communicator(const std::string& backend, double timeout_s) {
  UCLUSTER_CHECK(backend == "auto" || backend == "single" || backend == "mpi" || backend == "nccl",
                 "collectives must be \"auto\", \"single\", \"mpi\" or \"nccl\", got \"", backend, "\"");
  const int launched = launcher_world_size();
  if (backend == "single") {
    UCLUSTER_CHECK(launched <= 1, "collectives = \"single\" but the launcher started ", launched,
                   " ranks: each would train alone and overwrite the others' files");
    return std::make_unique<SingleCommunicator>();
  }
  if (!mpi_compiled_in()) {
    UCLUSTER_CHECK(launched <= 1, "this binary was built without MPI (UCLUSTER_MPI=OFF or MPI not found), but ",
                   launched, " ranks were started by the launcher; rebuild with libopenmpi-dev installed");
    UCLUSTER_CHECK(backend != "mpi", "collectives = \"mpi\" but this binary was built without MPI");
    return std::make_unique<SingleCommunicator>();
  }
  if (backend == "auto" && launched == 0) return std::make_unique<SingleCommunicator>();
  return make_mpi_communicator(timeout_s);
}

std::unique_ptr<Communicator> device_communicator(Communicator& host, Context& ctx, const std::string& collectives) {
  if (ctx.device().is_cpu()) return nullptr;
  if (collectives != "nccl" && !(collectives == "auto" && host.size() > 1)) return nullptr;
  return make_nccl_communicator(host, ctx);
}

std::string device_for_rank(Communicator& comm, const std::string& requested) {
  if (comm.size() == 1 || requested == "cpu" || requested.rfind("cuda:", 0) == 0) return requested;
  // Every rank takes part in the agreement, whatever it found on its node.
  std::string why_not, error, device = make_message("cuda:", comm.local_rank());
  const int gpus = cuda_runtime::device_count(&why_not);
  if (gpus == 0 && requested == "auto") {
    device = "cpu";
  } else if (gpus == 0) {
    error = make_message("device \"cuda\" asked for, but no usable CUDA device (", why_not, ")");
  } else if (comm.local_size() > gpus) {
    error = make_message(comm.local_size(), " ranks on this node but only ", gpus,
                         " CUDA devices: start at most one rank per GPU");
  }
  comm.agree(error);
  return device;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace ucluster
