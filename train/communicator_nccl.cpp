// NCCL communicator: device buffers all-reduced and broadcast by NCCL on the context's stream;
// host buffers and the bootstrap (the unique id) over the host communicator it wraps (MPI, or a
// single process). The communicator is created non-blocking, so start-up and every collective can
// be bounded by timeout_s: past it the NCCL communicator is aborted and the job ends on every rank
// with a message, instead of hanging in a kernel that never completes.
//
// Completion is awaited with an event right after each collective. The host then waits for the
// all-reduce (the training step reads its loss from the device anyway, so this costs no overlap the
// step had) and a dead peer is noticed at the collective it stalls.
//
// libnccl (about 200 MB) is loaded with dlopen when the first NCCL communicator is made, not linked:
// every binary starts on machines without it, and only an NCCL run needs it.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "train/communicator_backends.h"

namespace ucluster {

namespace {

// The NCCL entry points used here, resolved from libnccl.so.2 at run time.
struct NcclLibrary {
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRankConfig) init_rank_config;
  decltype(&ncclCommGetAsyncError) get_async_error;
  decltype(&ncclAllReduce) all_reduce;
  decltype(&ncclBroadcast) broadcast;
  decltype(&ncclCommAbort) abort;
  decltype(&ncclCommDestroy) destroy;
  decltype(&ncclGetErrorString) error_string;

  // Loaded once per process and kept (dlopen's own reference count; never unloaded).
  static const NcclLibrary& get() {
    static const NcclLibrary library = load();
    return library;
  }

 private:
  static NcclLibrary load() {
    void* handle = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) handle = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    UCLUSTER_CHECK(handle != nullptr, "NCCL collectives: cannot load libnccl.so.2 (", dlerror(),
                   "); install NCCL or add its directory to LD_LIBRARY_PATH, or use collectives = \"mpi\"");
    auto symbol = [&](const char* name) {
      void* f = dlsym(handle, name);
      UCLUSTER_CHECK(f != nullptr, "NCCL collectives: libnccl has no symbol ", name, " (NCCL older than 2.14?)");
      return f;
    };
    NcclLibrary l;
    l.get_unique_id = reinterpret_cast<decltype(l.get_unique_id)>(symbol("ncclGetUniqueId"));
    l.init_rank_config = reinterpret_cast<decltype(l.init_rank_config)>(symbol("ncclCommInitRankConfig"));
    l.get_async_error = reinterpret_cast<decltype(l.get_async_error)>(symbol("ncclCommGetAsyncError"));
    l.all_reduce = reinterpret_cast<decltype(l.all_reduce)>(symbol("ncclAllReduce"));
    l.broadcast = reinterpret_cast<decltype(l.broadcast)>(symbol("ncclBroadcast"));
    l.abort = reinterpret_cast<decltype(l.abort)>(symbol("ncclCommAbort"));
    l.destroy = reinterpret_cast<decltype(l.destroy)>(symbol("ncclCommDestroy"));
    l.error_string = reinterpret_cast<decltype(l.error_string)>(symbol("ncclGetErrorString"));
    return l;
  }
};

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::I32: return ncclInt32;
    default: break;
  }
  fail("NCCL collective: unsupported element type ", dtype_name(t));
}

cudaStream_t stream_of(Context& ctx) { return static_cast<cudaStream_t>(ctx.cuda()->stream); }

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& host, Context& ctx)
      : Communicator(host.rank(), host.size(), host.local_rank(), host.local_size(), host.timeout_s()),
        host_(host),
        nccl_(NcclLibrary::get()),
        device_(ctx.cuda()->device) {
    ncclUniqueId id;
    std::string id_bytes;
    if (rank() == 0) {
      check(nccl_.get_unique_id(&id), "ncclGetUniqueId");
      id_bytes.assign(reinterpret_cast<const char*>(&id), sizeof(id));
    }
    id_bytes = host_.broadcast(id_bytes, 0, "NCCL unique id");
    UCLUSTER_CHECK(id_bytes.size() == sizeof(id), "NCCL bootstrap: unique id of ", id_bytes.size(), " bytes");
    std::copy(id_bytes.begin(), id_bytes.end(), reinterpret_cast<char*>(&id));
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t started = nccl_.init_rank_config(&comm_, size(), id, rank(), &config);
    if (started != ncclInProgress) check(started, "ncclCommInitRankConfig");
    settle("NCCL communicator start-up");
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
  }

  ~NcclCommunicator() override {
    if (done_ != nullptr) cudaEventDestroy(done_);
    if (comm_ != nullptr) nccl_.destroy(comm_);
  }

  std::string backend() const override { return "nccl"; }

  void all_reduce_sum(Context& ctx, void* data, std::int64_t n, DType dtype, bool on_device,
                      const char* what) override {
    if (!on_device) return host_.all_reduce_sum(ctx, data, n, dtype, false, what);
    enqueue(nccl_.all_reduce(data, data, static_cast<std::size_t>(n), nccl_type(dtype), ncclSum, comm_, stream_of(ctx)),
            "ncclAllReduce", what);
    complete(ctx, what);
  }

  void broadcast(Context& ctx, void* data, std::int64_t bytes, bool on_device, int root, const char* what) override {
    if (!on_device) return host_.broadcast(ctx, data, bytes, false, root, what);
    enqueue(nccl_.broadcast(data, data, static_cast<std::size_t>(bytes), ncclUint8, root, comm_, stream_of(ctx)),
            "ncclBroadcast", what);
    complete(ctx, what);
  }

  std::vector<std::string> gather(const std::string& mine, int root, const char* what) override {
    return host_.gather(mine, root, what);
  }
  std::vector<std::string> all_gather(const std::string& mine, const char* what) override {
    return host_.all_gather(mine, what);
  }

  void set_step(std::int64_t step) override {
    Communicator::set_step(step);
    host_.set_step(step);
  }

  [[noreturn]] void abort(int status) override {
    if (comm_ != nullptr) nccl_.abort(comm_);
    comm_ = nullptr;
    host_.abort(status);
    std::_Exit(status);  // not reached: the host communicator's abort ends the process
  }

 private:
  void check(ncclResult_t r, const char* call) {
    UCLUSTER_CHECK(r == ncclSuccess, call, " failed on ", where("NCCL"), ": ", nccl_.error_string(r));
  }
  void check_cuda(cudaError_t e, const char* call) {
    UCLUSTER_CHECK(e == cudaSuccess, call, " failed on CUDA device ", device_, ": ", cudaGetErrorString(e));
  }
  void enqueue(ncclResult_t r, const char* call, const char* what) {
    if (r != ncclInProgress) check(r, call);
    settle(what);
  }

  // Non-blocking communicator: polls until the pending call has been issued (or failed).
  void settle(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      check(nccl_.get_async_error(comm_, &state), "ncclCommGetAsyncError");
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) check(state, what);
      give_up_after(start, what);
      std::this_thread::yield();
    }
  }

  // Waits for the collective's completion on the stream, watching for NCCL errors and the deadline.
  void complete(Context& ctx, const char* what) {
    check_cuda(cudaEventRecord(done_, stream_of(ctx)), "cudaEventRecord");
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t polls = 0;; ++polls) {
      const cudaError_t e = cudaEventQuery(done_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) check_cuda(e, "cudaEventQuery");
      ncclResult_t state = ncclSuccess;
      check(nccl_.get_async_error(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclSuccess && state != ncclInProgress) check(state, what);
      give_up_after(start, what);
      if (polls > 2000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  void give_up_after(std::chrono::steady_clock::time_point start, const char* what) {
    if (timeout_s() <= 0) return;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <= timeout_s()) return;
    std::fprintf(stderr,
                 "train: error: %s (NCCL, CUDA device %d) did not complete within %g s (timeout_s): another rank "
                 "failed, stopped or is stuck; aborting the job on every rank\n",
                 where(what).c_str(), device_, timeout_s());
    abort(1);
  }

  Communicator& host_;
  const NcclLibrary& nccl_;
  int device_;
  ncclComm_t comm_ = nullptr;
  cudaEvent_t done_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, Context& ctx) {
  UCLUSTER_CHECK(ctx.cuda() != nullptr, "NCCL collectives need a CUDA context, got ", ctx.device_description());
  return std::make_unique<NcclCommunicator>(host, ctx);
}

}  // namespace ucluster
