/* ucluster.h: the embeddable UCluster inference library (C99 and C++).
 *
 * Lifecycle: load a model (.ucm file, written by `export-model` from a training checkpoint) once,
 * create one session per thread, run batches of jets through a session, destroy sessions, then
 * the model.
 *
 *   ucluster_model* model = NULL;
 *   if (ucluster_model_load_file("model.ucm", &model) != UCLUSTER_OK) { puts(ucluster_last_error()); }
 *   ucluster_session_options options;
 *   ucluster_session_options_init(&options);
 *   options.max_batch = 64;
 *   ucluster_session* session = NULL;
 *   ucluster_session_create(model, &options, &session);
 *   ucluster_outputs out = {0};
 *   out.cluster = clusters;       (int32_t[n_jets]; any output may be NULL)
 *   out.latent = z;               (float[n_jets][latent dim])
 *   ucluster_run_features(session, features, n_jets, &out);
 *   ucluster_session_destroy(session);
 *   ucluster_model_destroy(model);
 *
 * Thread safety: a model is immutable after loading; any number of threads may create sessions on
 * it and run them at the same time. A session is used by one thread at a time. The model must
 * outlive its sessions.
 *
 * Errors: every function returns a status; on failure a message naming the problem (the jet and
 * the particle, for bad input) is kept per thread and returned by ucluster_last_error(). Nothing
 * throws, aborts or prints. Outputs are written only when the whole call succeeds.
 *
 * Work: a jet with n real particles costs about n + 1 rows of work (all its padded rows are
 * identical, so one row with multiplicity 100 - n stands for them). A session allocates all its
 * memory at creation; running allocates nothing. It starts no threads unless created with
 * num_threads > 1 (its own pool) or a parallel_for hook (the caller's scheduler). It never changes
 * process-wide settings.
 */
#ifndef UCLUSTER_UCLUSTER_H
#define UCLUSTER_UCLUSTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define UCLUSTER_API
#else
#define UCLUSTER_API __attribute__((visibility("default")))
#endif

#define UCLUSTER_VERSION_MAJOR 0
#define UCLUSTER_VERSION_MINOR 1
#define UCLUSTER_VERSION_PATCH 0

/* Shape constants of the UCluster jet model (spec 2.4); a model file of another shape is refused. */
#define UCLUSTER_MAX_PARTICLES 100 /* particle slots per jet */
#define UCLUSTER_NUM_FEATURES 8    /* features per particle, as prepare-data writes them */
#define UCLUSTER_LATENT_DIM 3      /* dimension of the embedding z */
#define UCLUSTER_NUM_CLUSTERS 3    /* k-means centroids */
#define UCLUSTER_NUM_CLASSES 20    /* mass-bin logits */

typedef enum ucluster_status {
  UCLUSTER_OK = 0,
  UCLUSTER_ERROR_INVALID_ARGUMENT = 1, /* null pointer, bad option, batch too large */
  UCLUSTER_ERROR_BAD_INPUT = 2,        /* NaN/infinity, particle count outside 1..100 */
  UCLUSTER_ERROR_IO = 3,               /* a model file that cannot be opened or read */
  UCLUSTER_ERROR_BAD_MODEL = 4,        /* truncated, corrupted, other-version or other-shape model */
  UCLUSTER_ERROR_OUT_OF_MEMORY = 5,
  UCLUSTER_ERROR_UNSUPPORTED = 6,      /* e.g. a CUDA session in a build without CUDA */
  UCLUSTER_ERROR_DEVICE = 7,           /* a CUDA error */
  UCLUSTER_ERROR_INTERNAL = 8
} ucluster_status;

typedef struct ucluster_model ucluster_model;     /* immutable, shared by threads */
typedef struct ucluster_session ucluster_session; /* scratch memory of one thread */

/* "MAJOR.MINOR.PATCH" of the library. */
UCLUSTER_API const char* ucluster_version(void);
/* The model-file format version this library reads. */
UCLUSTER_API uint32_t ucluster_model_format_version(void);
/* A short constant name of a status ("ok", "bad input", ...). */
UCLUSTER_API const char* ucluster_status_name(ucluster_status status);
/* The message of the last failed call on this thread ("" after a success). Valid until the
 * thread's next call into the library. */
UCLUSTER_API const char* ucluster_last_error(void);

/* --- Model ------------------------------------------------------------------------------------ */
UCLUSTER_API ucluster_status ucluster_model_load_file(const char* path, ucluster_model** model);
/* The buffer is copied; it may be freed after the call. */
UCLUSTER_API ucluster_status ucluster_model_load_buffer(const void* data, size_t size, ucluster_model** model);
UCLUSTER_API void ucluster_model_destroy(ucluster_model* model); /* NULL is fine */
/* The inverse temperature alpha of the clustering loss at the checkpoint's evaluation (spec 4.4). */
UCLUSTER_API double ucluster_model_inverse_temperature(const ucluster_model* model);
/* The centroids mu, [UCLUSTER_NUM_CLUSTERS][UCLUSTER_LATENT_DIM], copied to `centroids`. */
UCLUSTER_API ucluster_status ucluster_model_centroids(const ucluster_model* model, float* centroids);

/* --- Session ---------------------------------------------------------------------------------- */
typedef enum ucluster_device { UCLUSTER_DEVICE_CPU = 0, UCLUSTER_DEVICE_CUDA = 1 } ucluster_device;

/* A caller-provided parallel-for: run body(body_context, begin, end, worker) over a partition of
 * [0, n) and return when all have finished; `worker` is in [0, max_workers) and no two concurrent
 * calls of body share a worker index (each worker has its own scratch memory). */
typedef void (*ucluster_parallel_body)(void* body_context, int64_t begin, int64_t end, int worker);
typedef void (*ucluster_parallel_for)(void* hook_context, int64_t n, ucluster_parallel_body body,
                                      void* body_context);

typedef struct ucluster_session_options {
  ucluster_device device;        /* default CPU */
  int device_index;              /* CUDA device, default 0 */
  int64_t max_batch;             /* most jets per run call; default 1 */
  int num_threads;               /* CPU: 1 (default) runs in the calling thread only; T > 1 starts
                                    T - 1 worker threads owned by the session */
  ucluster_parallel_for parallel_for; /* CPU: the caller's scheduler instead of the session's own
                                         threads (num_threads must then be 1) */
  void* parallel_for_context;
  int max_workers;               /* with parallel_for: the most workers it uses at once */
  void* cuda_stream;             /* CUDA: the caller's cudaStream_t on device_index (NULL: the
                                    session's own); each run enqueues on it and synchronises it */
} ucluster_session_options;

UCLUSTER_API void ucluster_session_options_init(ucluster_session_options* options);
UCLUSTER_API ucluster_status ucluster_session_create(const ucluster_model* model,
                                                     const ucluster_session_options* options,
                                                     ucluster_session** session);
UCLUSTER_API void ucluster_session_destroy(ucluster_session* session); /* NULL is fine */

/* --- Running ---------------------------------------------------------------------------------- */
/* Caller-owned outputs, each optional (NULL: not computed/written). */
typedef struct ucluster_outputs {
  int32_t* cluster;   /* [n_jets]: argmin of the distances */
  float* distances;   /* [n_jets][UCLUSTER_NUM_CLUSTERS]: squared distances from z to the centroids */
  float* latent;      /* [n_jets][UCLUSTER_LATENT_DIM]: the embedding z */
  float* logits;      /* [n_jets][UCLUSTER_NUM_CLASSES]: mass-bin logits */
} ucluster_outputs;

/* Jets as prepare-data writes them: float32 [n_jets][100][8], real particles first, padding rows
 * all zero (a jet's particle count is the number of rows up to its last non-zero row). */
UCLUSTER_API ucluster_status ucluster_run_features(ucluster_session* session, const float* features,
                                                   int64_t n_jets, const ucluster_outputs* outputs);

/* One jet as four-momenta: `count` constituents (1..100, by decreasing pt as in HLS4ML) with
 * pt (GeV), pseudorapidity eta, azimuth phi and energy E each, and the jet's own four-momentum.
 * The library computes the 8 features exactly as prepare-data does from HLS4ML columns. */
typedef struct ucluster_jet {
  const double* pt;
  const double* eta;
  const double* phi;
  const double* energy;
  int32_t count;
  double jet_pt, jet_eta, jet_phi, jet_energy;
} ucluster_jet;

UCLUSTER_API ucluster_status ucluster_run_jets(ucluster_session* session, const ucluster_jet* jets,
                                               int64_t n_jets, const ucluster_outputs* outputs);

/* The 8 features of one jet, float32 [100][8] (zero padded), as ucluster_run_jets computes them. */
UCLUSTER_API ucluster_status ucluster_jet_features(const ucluster_jet* jet, float* features);

#ifdef __cplusplus
}
#endif

#endif /* UCLUSTER_UCLUSTER_H */
