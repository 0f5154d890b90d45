// The C API of ucluster/ucluster.h: argument checks, the per-thread error message, and the
// translation of every exception into a status. Nothing below throws, aborts or prints.
#include "ucluster/ucluster.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "embed/src/cuda_session.h"
#include "embed/src/forward.h"
#include "embed/src/jet_features.h"
#include "embed/src/model_file.h"
#include "embed/src/session.h"

struct ucluster_model {
  explicit ucluster_model(const ucluster::embed::ModelContents& contents) : network(contents) {}
  ucluster::embed::Network network;
};

struct ucluster_session {
  const ucluster_model* model;
  std::unique_ptr<ucluster::embed::SessionBase> session;  // CPU (Session) or CUDA (cuda_session.h)
};

namespace {

using ucluster::embed::DeviceError;
using ucluster::embed::ModelFileError;
using ucluster::embed::ModelFileProblem;

// The last error of this thread. Cleared without freeing on success, so a successful run allocates
// nothing.
thread_local std::string last_error;

ucluster_status ok() {
  last_error.clear();
  return UCLUSTER_OK;
}

ucluster_status fail(ucluster_status status, const std::string& message) {
  try {
    last_error = message;
  } catch (...) {
    last_error.clear();
  }
  return status;
}

ucluster_status model_problem(const ModelFileError& e) {
  switch (e.problem()) {
    case ModelFileProblem::Io: return fail(UCLUSTER_ERROR_IO, e.what());
    default: return fail(UCLUSTER_ERROR_BAD_MODEL, e.what());
  }
}

// Runs `body`, turning any exception into a status and message.
template <typename Body>
ucluster_status guarded(const char* function, Body&& body) {
  try {
    return body();
  } catch (const ModelFileError& e) {
    return model_problem(e);
  } catch (const DeviceError& e) {
    return fail(UCLUSTER_ERROR_DEVICE, std::string(function) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail(UCLUSTER_ERROR_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(UCLUSTER_ERROR_INTERNAL, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(UCLUSTER_ERROR_INTERNAL, std::string(function) + ": unknown error");
  }
}

ucluster_status load(const unsigned char* data, std::size_t size, const std::string& what, ucluster_model** model) {
  const ucluster::embed::ModelContents contents = ucluster::embed::parse_model(data, size, what);
  *model = new ucluster_model(contents);
  return ok();
}

ucluster_status run_batch(const char* function, ucluster_session* session, const ucluster::embed::JetBatch& batch,
                          const void* input, const ucluster_outputs* outputs) {
  if (!session) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(function) + ": session is NULL");
  if (!outputs) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(function) + ": outputs is NULL");
  if (batch.n < 0)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(function) + ": n_jets is " + std::to_string(batch.n) + ", must be >= 0");
  if (batch.n == 0) return ok();
  if (!input) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(function) + ": the input is NULL");
  ucluster::embed::SessionBase& s = *session->session;
  if (batch.n > s.max_batch())
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(function) + ": a batch of " + std::to_string(batch.n) +
                                                     " jets is larger than the session's max_batch " +
                                                     std::to_string(s.max_batch()));
  return guarded(function, [&] {
    std::string problem = s.check(batch);
    if (!problem.empty()) return fail(UCLUSTER_ERROR_BAD_INPUT, std::string(function) + ": " + problem);
    problem = s.run(batch);
    if (!problem.empty()) return fail(UCLUSTER_ERROR_BAD_INPUT, std::string(function) + ": " + problem);
    s.write(batch.n, *outputs);
    return ok();
  });
}

}  // namespace

extern "C" {

const char* ucluster_version(void) { return UCLUSTER_PROJECT_VERSION; }

uint32_t ucluster_model_format_version(void) { return ucluster::embed::kModelFormatVersion; }

const char* ucluster_status_name(ucluster_status status) {
  switch (status) {
    case UCLUSTER_OK: return "ok";
    case UCLUSTER_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case UCLUSTER_ERROR_BAD_INPUT: return "bad input";
    case UCLUSTER_ERROR_IO: return "input/output error";
    case UCLUSTER_ERROR_BAD_MODEL: return "bad model file";
    case UCLUSTER_ERROR_OUT_OF_MEMORY: return "out of memory";
    case UCLUSTER_ERROR_UNSUPPORTED: return "unsupported";
    case UCLUSTER_ERROR_DEVICE: return "device error";
    case UCLUSTER_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* ucluster_last_error(void) { return last_error.c_str(); }

ucluster_status ucluster_model_load_file(const char* path, ucluster_model** model) {
  if (!model) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_model_load_file: model is NULL");
  *model = nullptr;
  if (!path) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_model_load_file: path is NULL");
  return guarded("ucluster_model_load_file", [&] {
    const std::vector<unsigned char> bytes = ucluster::embed::read_model_bytes(path);
    return load(bytes.data(), bytes.size(), std::string("model file '") + path + "'", model);
  });
}

ucluster_status ucluster_model_load_buffer(const void* data, size_t size, ucluster_model** model) {
  if (!model) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_model_load_buffer: model is NULL");
  *model = nullptr;
  if (!data) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_model_load_buffer: data is NULL");
  return guarded("ucluster_model_load_buffer", [&] {
    return load(static_cast<const unsigned char*>(data), size, "model buffer", model);
  });
}

void ucluster_model_destroy(ucluster_model* model) { delete model; }

double ucluster_model_inverse_temperature(const ucluster_model* model) {
  return model ? model->network.inverse_temperature() : 0.0;
}

ucluster_status ucluster_model_centroids(const ucluster_model* model, float* centroids) {
  if (!model || !centroids)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_model_centroids: model or centroids is NULL");
  const std::vector<float>& mu = model->network.centroids();
  std::memcpy(centroids, mu.data(), mu.size() * sizeof(float));
  return ok();
}

void ucluster_session_options_init(ucluster_session_options* options) {
  if (!options) return;
  *options = ucluster_session_options{};
  options->device = UCLUSTER_DEVICE_CPU;
  options->max_batch = 1;
  options->num_threads = 1;
  options->max_workers = 1;
}

ucluster_status ucluster_session_create(const ucluster_model* model, const ucluster_session_options* options,
                                        ucluster_session** session) {
  const char* f = "ucluster_session_create";
  if (!session) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(f) + ": session is NULL");
  *session = nullptr;
  if (!model) return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(f) + ": model is NULL");
  ucluster_session_options o;
  ucluster_session_options_init(&o);
  if (options) o = *options;
  // A C caller may store any int in the enum; C++ must not load an out-of-range value as the enum.
  int device = 0;
  static_assert(sizeof device == sizeof o.device, "ucluster_device is an int-sized enum");
  std::memcpy(&device, &o.device, sizeof device);
  if (device == UCLUSTER_DEVICE_CUDA && !ucluster::embed::kHaveCudaSessions)
    return fail(UCLUSTER_ERROR_UNSUPPORTED, std::string(f) + ": this build of the library has no CUDA sessions");
  if (device != UCLUSTER_DEVICE_CPU && device != UCLUSTER_DEVICE_CUDA)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, std::string(f) + ": unknown device " + std::to_string(device));
  if (o.max_batch < 1 || o.max_batch > (std::int64_t(1) << 24))
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(f) + ": max_batch is " + std::to_string(o.max_batch) + ", must be 1..16777216");
  if (o.num_threads < 1 || o.num_threads > 1024)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(f) + ": num_threads is " + std::to_string(o.num_threads) + ", must be 1..1024");
  if (o.parallel_for && o.num_threads != 1)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(f) + ": give either num_threads > 1 or a parallel_for hook, not both");
  if (o.parallel_for && (o.max_workers < 1 || o.max_workers > 1024))
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(f) + ": max_workers is " + std::to_string(o.max_workers) + ", must be 1..1024");
  if (device == UCLUSTER_DEVICE_CUDA && o.device_index < 0)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT,
                std::string(f) + ": device_index is " + std::to_string(o.device_index) + ", must be >= 0");
  return guarded(f, [&] {
    std::unique_ptr<ucluster::embed::SessionBase> s;
    if (device == UCLUSTER_DEVICE_CUDA)
      s = ucluster::embed::make_cuda_session(model->network, o);
    else
      s = std::make_unique<ucluster::embed::Session>(model->network, o);
    *session = new ucluster_session{model, std::move(s)};
    return ok();
  });
}

void ucluster_session_destroy(ucluster_session* session) { delete session; }

ucluster_status ucluster_run_features(ucluster_session* session, const float* features, int64_t n_jets,
                                      const ucluster_outputs* outputs) {
  ucluster::embed::JetBatch batch;
  batch.features = features;
  batch.n = n_jets;
  return run_batch("ucluster_run_features", session, batch, features, outputs);
}

ucluster_status ucluster_run_jets(ucluster_session* session, const ucluster_jet* jets, int64_t n_jets,
                                  const ucluster_outputs* outputs) {
  ucluster::embed::JetBatch batch;
  batch.jets = jets;
  batch.n = n_jets;
  return run_batch("ucluster_run_jets", session, batch, jets, outputs);
}

ucluster_status ucluster_jet_features(const ucluster_jet* jet, float* features) {
  if (!jet || !features)
    return fail(UCLUSTER_ERROR_INVALID_ARGUMENT, "ucluster_jet_features: jet or features is NULL");
  return guarded("ucluster_jet_features", [&] {
    const ucluster::embed::FourMomentumJet j{jet->pt,     jet->eta,     jet->phi,     jet->energy,  jet->count,
                                             jet->jet_pt, jet->jet_eta, jet->jet_phi, jet->jet_energy};
    const std::string problem = ucluster::embed::check_four_momentum_jet(j, UCLUSTER_MAX_PARTICLES);
    if (!problem.empty()) return fail(UCLUSTER_ERROR_BAD_INPUT, "ucluster_jet_features: " + problem);
    ucluster::embed::four_momentum_features(j, UCLUSTER_MAX_PARTICLES, features);
    return ok();
  });
}

}  // extern "C"
