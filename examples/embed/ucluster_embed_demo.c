/* ucluster-embed-demo: runs jets through the ucluster library, as trigger-adjacent code would.
 *
 *   ucluster-embed-demo MODEL.ucm JETS.f32 N
 *   ucluster-embed-demo --threads T MODEL.ucm JETS.f32 N
 *
 * JETS.f32 holds N jets as little-endian float32 [N][100][8] (prepared features, padding rows all
 * zero). Prints one line per jet, "cluster z0 z1 z2", floats with %.9g. With --threads, T threads
 * each create their own session on the one shared model and run a contiguous share of the jets;
 * the lines are printed in jet order. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ucluster/ucluster.h>

#define JET_FLOATS (UCLUSTER_MAX_PARTICLES * UCLUSTER_NUM_FEATURES)

typedef struct {
  const ucluster_model* model;
  const float* jets;
  int64_t first, count;
  int32_t* cluster;
  float* latent;
  int failed;
} share;

static void* run_share(void* arg) {
  share* s = (share*)arg;
  ucluster_session_options options;
  ucluster_session* session = NULL;
  ucluster_outputs out;
  int64_t done;
  const int64_t batch = 64;
  ucluster_session_options_init(&options);
  options.max_batch = batch;
  if (ucluster_session_create(s->model, &options, &session) != UCLUSTER_OK) {
    fprintf(stderr, "ucluster-embed-demo: %s\n", ucluster_last_error());
    s->failed = 1;
    return NULL;
  }
  for (done = 0; done < s->count; done += batch) {
    const int64_t first = s->first + done;
    const int64_t n = s->count - done < batch ? s->count - done : batch;
    memset(&out, 0, sizeof out);
    out.cluster = s->cluster + first;
    out.latent = s->latent + first * UCLUSTER_LATENT_DIM;
    if (ucluster_run_features(session, s->jets + first * JET_FLOATS, n, &out) != UCLUSTER_OK) {
      fprintf(stderr, "ucluster-embed-demo: jets %lld..%lld: %s\n", (long long)first, (long long)(first + n - 1),
              ucluster_last_error());
      s->failed = 1;
      break;
    }
  }
  ucluster_session_destroy(session);
  return NULL;
}

static int usage(void) {
  fprintf(stderr, "usage: ucluster-embed-demo [--threads T] MODEL.ucm JETS.f32 N\n");
  return 2;
}

int main(int argc, char** argv) {
  int threads = 1, arg = 1, t, status = 0;
  long long n;
  char* end;
  FILE* f;
  float* jets;
  int32_t* cluster;
  float* latent;
  ucluster_model* model = NULL;
  pthread_t* ids;
  share* shares;
  int64_t i;

  if (argc > 1 && strcmp(argv[1], "--threads") == 0) {
    if (argc < 3) return usage();
    threads = atoi(argv[2]);
    if (threads < 1 || threads > 256) {
      fprintf(stderr, "ucluster-embed-demo: --threads must be 1..256, got '%s'\n", argv[2]);
      return 2;
    }
    arg = 3;
  }
  if (argc - arg != 3) return usage();
  n = strtoll(argv[arg + 2], &end, 10);
  if (*end != '\0' || n < 1) {
    fprintf(stderr, "ucluster-embed-demo: N must be a positive integer, got '%s'\n", argv[arg + 2]);
    return 2;
  }
  if (ucluster_model_load_file(argv[arg], &model) != UCLUSTER_OK) {
    fprintf(stderr, "ucluster-embed-demo: %s\n", ucluster_last_error());
    return 1;
  }
  jets = (float*)malloc((size_t)n * JET_FLOATS * sizeof(float));
  cluster = (int32_t*)malloc((size_t)n * sizeof(int32_t));
  latent = (float*)malloc((size_t)n * UCLUSTER_LATENT_DIM * sizeof(float));
  ids = (pthread_t*)malloc((size_t)threads * sizeof(pthread_t));
  shares = (share*)calloc((size_t)threads, sizeof(share));
  if (!jets || !cluster || !latent || !ids || !shares) {
    fprintf(stderr, "ucluster-embed-demo: out of memory for %lld jets\n", n);
    return 1;
  }
  f = fopen(argv[arg + 1], "rb");
  if (!f || fread(jets, sizeof(float) * JET_FLOATS, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "ucluster-embed-demo: cannot read %lld jets (%lld bytes) from '%s'\n", n,
            n * (long long)(JET_FLOATS * sizeof(float)), argv[arg + 1]);
    return 1;
  }
  fclose(f);

  for (t = 0; t < threads; ++t) {
    shares[t].model = model;
    shares[t].jets = jets;
    shares[t].first = n * t / threads;
    shares[t].count = n * (t + 1) / threads - shares[t].first;
    shares[t].cluster = cluster;
    shares[t].latent = latent;
    if (pthread_create(&ids[t], NULL, run_share, &shares[t]) != 0) {
      fprintf(stderr, "ucluster-embed-demo: cannot start thread %d\n", t);
      return 1;
    }
  }
  for (t = 0; t < threads; ++t) {
    pthread_join(ids[t], NULL);
    status |= shares[t].failed;
  }
  if (status == 0)
    for (i = 0; i < n; ++i)
      printf("%d %.9g %.9g %.9g\n", (int)cluster[i], latent[i * 3], latent[i * 3 + 1], latent[i * 3 + 2]);
  ucluster_model_destroy(model);
  free(jets);
  free(cluster);
  free(latent);
  free(ids);
  free(shares);
  return status;
}
