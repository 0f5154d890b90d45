/* The public header must compile as C99 with -Wall -Wextra -Werror -pedantic (tests/embed/CMakeLists.txt
 * builds this file so; a failure breaks the build). Uses every type once. */
#include <ucluster/ucluster.h>

int ucluster_header_c99_uses_every_type(void);
int ucluster_header_c99_uses_every_type(void) {
  ucluster_session_options options;
  ucluster_outputs outputs = {0, 0, 0, 0};
  ucluster_jet jet = {0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0};
  ucluster_status status = UCLUSTER_OK;
  ucluster_device device = UCLUSTER_DEVICE_CPU;
  ucluster_model* model = 0;
  ucluster_session* session = 0;
  ucluster_parallel_for hook = 0;
  options.device = device;
  options.parallel_for = hook;
  (void)outputs;
  (void)jet;
  (void)model;
  (void)session;
  return (int)status + (int)options.device + UCLUSTER_MAX_PARTICLES;
}
