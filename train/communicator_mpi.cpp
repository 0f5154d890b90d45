// MPI communicator: host buffers on MPI_COMM_WORLD; device buffers are staged through host memory.
// Every collective is the non-blocking MPI form, completed by polling MPI_Test against the
// deadline of timeout_s, so a rank that died or stopped turns into an abort with a message, not a
// hang.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "train/communicator_backends.h"

namespace ucluster {

namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT;
    default: break;
  }
  fail("MPI collective: unsupported element type ", dtype_name(t));
}

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

int as_count(std::int64_t n, const char* what) {
  UCLUSTER_CHECK(n >= 0 && n <= 0x7fffffff, "MPI collective '", what, "': ", n, " elements exceed MPI's int count");
  return static_cast<int>(n);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int rank, int size, int local_rank, int local_size, double timeout_s)
      : Communicator(rank, size, local_rank, local_size, timeout_s) {}

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  std::string backend() const override { return "mpi"; }

  void all_reduce_sum(Context& ctx, void* data, std::int64_t n, DType dtype, bool on_device,
                      const char* what) override {
    const std::size_t bytes = static_cast<std::size_t>(n) * dtype_size(dtype);
    void* host = staged_in(ctx, data, bytes, on_device);
    MPI_Request request;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, host, as_count(n, what), mpi_type(dtype), MPI_SUM, MPI_COMM_WORLD, &request),
              "MPI_Iallreduce");
    wait(request, what);
    staged_out(ctx, data, bytes, on_device);
  }

  void broadcast(Context& ctx, void* data, std::int64_t bytes, bool on_device, int root, const char* what) override {
    void* host = staged_in(ctx, data, static_cast<std::size_t>(bytes), on_device);
    MPI_Request request;
    check_mpi(MPI_Ibcast(host, as_count(bytes, what), MPI_BYTE, root, MPI_COMM_WORLD, &request), "MPI_Ibcast");
    wait(request, what);
    staged_out(ctx, data, static_cast<std::size_t>(bytes), on_device);
  }

  std::vector<std::string> gather(const std::string& mine, int root, const char* what) override {
    return collect(mine, root, what);
  }

  std::vector<std::string> all_gather(const std::string& mine, const char* what) override {
    return collect(mine, -1, what);
  }

  [[noreturn]] void abort(int status) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
    std::_Exit(status);
  }

 private:
  // Device data go through a host buffer; host data are used in place.
  void* staged_in(Context& ctx, void* data, std::size_t bytes, bool on_device) {
    if (!on_device) return data;
    staging_.resize(bytes);
    cuda_runtime::copy(staging_.data(), data, bytes, false, true, ctx.cuda());
    return staging_.data();
  }
  void staged_out(Context& ctx, void* data, std::size_t bytes, bool on_device) {
    if (on_device) cuda_runtime::copy(data, staging_.data(), bytes, true, false, ctx.cuda());
  }

  // root >= 0: MPI_Gatherv to root; root < 0: MPI_Allgatherv.
  std::vector<std::string> collect(const std::string& mine, int root, const char* what) {
    const bool everyone = root < 0;
    const int n = size();
    std::vector<int> lengths(static_cast<std::size_t>(n)), offsets(static_cast<std::size_t>(n));
    int my_length = as_count(static_cast<std::int64_t>(mine.size()), what);
    MPI_Request request;
    if (everyone)
      check_mpi(MPI_Iallgather(&my_length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD, &request),
                "MPI_Iallgather");
    else
      check_mpi(MPI_Igather(&my_length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD, &request),
                "MPI_Igather");
    wait(request, what);
    std::int64_t total = 0;
    for (int r = 0; r < n; ++r) {
      offsets[static_cast<std::size_t>(r)] = as_count(total, what);
      total += lengths[static_cast<std::size_t>(r)];
    }
    const bool receives = everyone || rank() == root;
    std::string all(receives ? static_cast<std::size_t>(as_count(total, what)) : 0, '\0');
    if (everyone)
      check_mpi(MPI_Iallgatherv(mine.data(), my_length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
                                MPI_COMM_WORLD, &request),
                "MPI_Iallgatherv");
    else
      check_mpi(MPI_Igatherv(mine.data(), my_length, MPI_BYTE, all.data(), lengths.data(), offsets.data(), MPI_BYTE,
                             root, MPI_COMM_WORLD, &request),
                "MPI_Igatherv");
    wait(request, what);
    std::vector<std::string> out;
    if (!receives) return out;
    for (int r = 0; r < n; ++r)
      out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                               static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
    return out;
  }

  // Polls until the request completes; past the deadline, aborts the job naming this rank, the
  // collective and the step. It spins for the first kSpin of a wait (a small all-reduce between
  // ranks in step completes in microseconds, and the batch-norm statistics take 45 of them a step),
  // then sleeps between polls, 20 us doubling to 1 ms, so a rank waiting for a slower one does not
  // hold a core its compute threads could use.
  void wait(MPI_Request& request, const char* what) {
    using clock = std::chrono::steady_clock;
    constexpr auto kSpin = std::chrono::milliseconds(2);
    const auto start = clock::now();
    auto pause = std::chrono::microseconds(20);
    int done = 0;
    for (;;) {
      check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) return;
      const auto waited = clock::now() - start;
      if (waited < kSpin) continue;
      if (timeout_s() > 0 && std::chrono::duration<double>(waited).count() > timeout_s()) {
        std::fprintf(stderr,
                     "train: error: %s did not complete within %g s (timeout_s): another rank failed, stopped or "
                     "is stuck; aborting the job on every rank\n",
                     where(what).c_str(), timeout_s());
        abort(1);
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }

  std::vector<unsigned char> staging_;
};

}  // namespace

bool mpi_compiled_in() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_s) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  UCLUSTER_CHECK(!initialized, "MPI is already initialised in this process: start one communicator only");
  check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  return std::make_unique<MpiCommunicator>(rank, size, local_rank, local_size, timeout_s);
}

}  // namespace ucluster
