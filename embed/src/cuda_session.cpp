// The CUDA session of cuda_session.h. At creation: the packed parameters uploaded once, device
// buffers for max_batch jets, pinned host staging (features, counts, results), and one CUDA graph,
//   copy features in -> copy counts in -> the forward kernel (cuda_forward.cu) -> copy results out,
// instantiated once. A run checks the batch on the host exactly as a CPU session (check_batch),
// stages it, sets the three copies' sizes to the batch's (cudaGraphExecMemcpyNodeSetParams1D: no
// allocation, no re-instantiation), launches the graph on the caller's stream (or the session's),
// waits for that stream, checks the results are finite and writes the caller's outputs.
//
// The kernel node is captured on the session's own stream, never the caller's: a capture on the
// caller's stream would fail for the legacy default stream and would catch work other threads
// enqueue there meanwhile. The graph is then launched on whatever stream the run uses. The device
// current at each call is restored afterwards (the library changes no process-wide or thread-wide
// state). Every CUDA error becomes a DeviceError (UCLUSTER_ERROR_DEVICE) naming the call and giving
// the CUDA error string.
#include "embed/src/cuda_session.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "embed/src/cuda_forward.h"

namespace ucluster::embed {

namespace {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DeviceError(std::string(what) + ": " + cudaGetErrorString(e));
}

// Makes `device` current for the guard's lifetime, then restores the caller's current device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cuda_check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) cuda_check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

class CudaSession final : public SessionBase {
 public:
  CudaSession(const Network& net, const ucluster_session_options& o)
      : net_(net), max_batch_(o.max_batch), device_(o.device_index), caller_stream_(static_cast<cudaStream_t>(o.cuda_stream)) {
    int devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess)
      throw DeviceError(std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(e));
    if (device_ >= devices)
      throw DeviceError("no CUDA device " + std::to_string(device_) + " (the machine has " + std::to_string(devices) +
                        ")");
    try {
      create();
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaSession() override { release(); }
  CudaSession(const CudaSession&) = delete;
  CudaSession& operator=(const CudaSession&) = delete;

  std::int64_t max_batch() const override { return max_batch_; }

  std::string check(const JetBatch& batch) override { return check_batch(net_.dims(), batch, counts_ + 1); }

  std::string run(const JetBatch& batch) override {
    const std::int64_t points = net_.dims().num_points, features = net_.dims().num_features;
    const std::size_t jet_floats = static_cast<std::size_t>(points * features);
    if (batch.features) {
      std::memcpy(features_, batch.features, batch.n * jet_floats * sizeof(float));
    } else {
      for (std::int64_t b = 0; b < batch.n; ++b) {
        float* jet = features_ + b * jet_floats;
        batch_jet_features(batch, b, points, jet);
        counts_[1 + b] = count_real_rows(jet, points, features);
      }
    }
    counts_[0] = static_cast<int>(batch.n);
    DeviceGuard guard(device_);
    const std::size_t n = static_cast<std::size_t>(batch.n);
    cuda_check(cudaGraphExecMemcpyNodeSetParams1D(exec_, copy_features_, d_features_, features_,
                                             n * jet_floats * sizeof(float), cudaMemcpyHostToDevice),
          "cudaGraphExecMemcpyNodeSetParams1D (features)");
    cuda_check(cudaGraphExecMemcpyNodeSetParams1D(exec_, copy_counts_, d_counts_, counts_, (n + 1) * sizeof(int),
                                             cudaMemcpyHostToDevice),
          "cudaGraphExecMemcpyNodeSetParams1D (counts)");
    cuda_check(cudaGraphExecMemcpyNodeSetParams1D(exec_, copy_results_, results_, d_results_, n * sizeof(JetResult),
                                             cudaMemcpyDeviceToHost),
          "cudaGraphExecMemcpyNodeSetParams1D (results)");
    const cudaStream_t stream = caller_stream_ ? caller_stream_ : stream_;
    cuda_check(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch");
    cuda_check(cudaStreamSynchronize(stream), "the forward pass (cudaStreamSynchronize)");
    return check_results(net_.dims(), results_, batch.n);
  }

  void write(std::int64_t n, const ucluster_outputs& outputs) const override {
    write_results(net_.dims(), results_, n, outputs);
  }

 private:
  void create() {
    DeviceGuard guard(device_);
    const cuda::PackedNetwork packed = cuda::pack_network(net_);
    const std::int64_t points = net_.dims().num_points, features = net_.dims().num_features;
    const std::size_t batch = static_cast<std::size_t>(max_batch_);
    const std::size_t feature_bytes = batch * points * features * sizeof(float), count_bytes = (batch + 1) * sizeof(int),
                      result_bytes = batch * sizeof(JetResult);
    // One block per jet up to what the device holds at once; each block then loops over jets.
    int multiprocessors = 0;
    cuda_check(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device_), "cudaDeviceGetAttribute");
    const std::int64_t resident = std::int64_t(multiprocessors) * cuda::resident_blocks_per_multiprocessor();
    blocks_ = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(max_batch_, resident)));

    cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    cuda_check(cudaMalloc(&d_params_, packed.data.size() * sizeof(float)), "cudaMalloc (parameters)");
    cuda_check(cudaMalloc(&d_features_, feature_bytes), "cudaMalloc (features)");
    cuda_check(cudaMalloc(&d_counts_, count_bytes), "cudaMalloc (counts)");
    cuda_check(cudaMalloc(&d_results_, result_bytes), "cudaMalloc (results)");
    cuda_check(cudaMalloc(&d_scratch_, std::size_t(blocks_) * cuda::kScratchPerBlock * sizeof(float)), "cudaMalloc (scratch)");
    cuda_check(cudaMallocHost(&features_, feature_bytes), "cudaMallocHost (features)");
    cuda_check(cudaMallocHost(&counts_, count_bytes), "cudaMallocHost (counts)");
    cuda_check(cudaMallocHost(&results_, result_bytes), "cudaMallocHost (results)");
    std::memset(features_, 0, feature_bytes);
    std::memset(counts_, 0, count_bytes);
    cuda_check(cudaMemcpyAsync(d_params_, packed.data.data(), packed.data.size() * sizeof(float), cudaMemcpyHostToDevice,
                          stream_),
          "cudaMemcpyAsync (parameters)");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (parameters)");

    // The kernel, captured on the session's stream into its own graph.
    cudaGraph_t kernel = nullptr;
    cuda_check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    const cudaError_t launched = static_cast<cudaError_t>(cuda::launch_forward(
        packed.params, d_params_, d_features_, d_counts_, d_scratch_, blocks_, d_results_, nullptr, stream_));
    const cudaError_t captured = cudaStreamEndCapture(stream_, &kernel);
    if (launched != cudaSuccess || captured != cudaSuccess) {
      if (kernel) cudaGraphDestroy(kernel);
      cuda_check(launched, "the forward kernel's launch");
      cuda_check(captured, "cudaStreamEndCapture");
    }
    // The session's graph: copy features in -> copy counts in -> the kernel -> copy results out; the
    // copies are 1-D nodes, so that their sizes can be set per batch.
    cuda_check(cudaGraphCreate(&graph_, 0), "cudaGraphCreate");
    cuda_check(cudaGraphAddMemcpyNode1D(&copy_features_, graph_, nullptr, 0, d_features_, features_, feature_bytes,
                                        cudaMemcpyHostToDevice),
               "cudaGraphAddMemcpyNode1D (features)");
    cuda_check(cudaGraphAddMemcpyNode1D(&copy_counts_, graph_, &copy_features_, 1, d_counts_, counts_, count_bytes,
                                        cudaMemcpyHostToDevice),
               "cudaGraphAddMemcpyNode1D (counts)");
    cudaGraphNode_t forward = nullptr;
    const cudaError_t added = cudaGraphAddChildGraphNode(&forward, graph_, &copy_counts_, 1, kernel);
    cudaGraphDestroy(kernel);
    cuda_check(added, "cudaGraphAddChildGraphNode");
    cuda_check(cudaGraphAddMemcpyNode1D(&copy_results_, graph_, &forward, 1, results_, d_results_, result_bytes,
                                        cudaMemcpyDeviceToHost),
               "cudaGraphAddMemcpyNode1D (results)");
    cuda_check(cudaGraphInstantiate(&exec_, graph_, 0), "cudaGraphInstantiate");
  }

  void release() {
    int previous = 0;
    const bool have_device = cudaGetDevice(&previous) == cudaSuccess;
    if (have_device) cudaSetDevice(device_);
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
    if (stream_) cudaStreamDestroy(stream_);
    cudaFree(d_params_);
    cudaFree(d_features_);
    cudaFree(d_counts_);
    cudaFree(d_results_);
    cudaFree(d_scratch_);
    cudaFreeHost(features_);
    cudaFreeHost(counts_);
    cudaFreeHost(results_);
    if (have_device) cudaSetDevice(previous);
  }

  const Network& net_;
  std::int64_t max_batch_;
  int device_;
  cudaStream_t caller_stream_;
  cudaStream_t stream_ = nullptr;  // the session's own: capture, and runs without a caller's stream
  int blocks_ = 1;
  float *d_params_ = nullptr, *d_features_ = nullptr, *d_scratch_ = nullptr;
  int* d_counts_ = nullptr;            // [0]: the batch's jet count; [1 + j]: jet j's real particles
  JetResult* d_results_ = nullptr;
  float* features_ = nullptr;          // pinned staging, [max_batch][100][8]
  int* counts_ = nullptr;              // pinned, as d_counts_
  JetResult* results_ = nullptr;       // pinned, [max_batch]
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  cudaGraphNode_t copy_features_ = nullptr, copy_counts_ = nullptr, copy_results_ = nullptr;
};

}  // namespace

std::unique_ptr<SessionBase> make_cuda_session(const Network& network, const ucluster_session_options& options) {
  return std::make_unique<CudaSession>(network, options);
}

}  // namespace ucluster::embed
