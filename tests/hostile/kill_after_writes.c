// LD_PRELOAD shim for the kill-at-every-write tests: counts the calls that change files (write,
// pwrite, writev, ftruncate, fallocate, rename, unlink, fsync) and, when UCLUSTER_KILL_AFTER_WRITES=N
// is set, sends the process SIGKILL right after the N-th one, as a crash at that moment would.
// With UCLUSTER_COUNT_WRITES_TO=FILE it only counts and writes the total to FILE at exit.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long g_calls = 0;

static void after_call(void) {
  static long kill_after = -2;
  if (kill_after == -2) {
    const char* v = getenv("UCLUSTER_KILL_AFTER_WRITES");
    kill_after = v ? atol(v) : -1;
  }
  __atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
  if (kill_after > 0 && g_calls == kill_after) kill(getpid(), SIGKILL);
}

__attribute__((destructor)) static void report(void) {
  const char* path = getenv("UCLUSTER_COUNT_WRITES_TO");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (f) {
    fprintf(f, "%ld\n", g_calls);
    fclose(f);
  }
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

// Writes to the terminal and pipes (log lines) are not file changes: only regular files count.
static int is_regular(int fd) { return lseek(fd, 0, SEEK_CUR) >= 0; }

ssize_t write(int fd, const void* buf, size_t n) {
  const ssize_t r = NEXT(write)(fd, buf, n);
  if (is_regular(fd)) after_call();
  return r;
}
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  const ssize_t r = NEXT(pwrite)(fd, buf, n, off);
  after_call();
  return r;
}
ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  const ssize_t r = NEXT(pwrite64)(fd, buf, n, off);
  after_call();
  return r;
}
ssize_t writev(int fd, const struct iovec* iov, int n) {
  const ssize_t r = NEXT(writev)(fd, iov, n);
  if (is_regular(fd)) after_call();
  return r;
}
int ftruncate(int fd, off_t len) {
  const int r = NEXT(ftruncate)(fd, len);
  after_call();
  return r;
}
int fallocate(int fd, int mode, off_t off, off_t len) {
  const int r = NEXT(fallocate)(fd, mode, off, len);
  after_call();
  return r;
}
int rename(const char* a, const char* b) {
  const int r = NEXT(rename)(a, b);
  after_call();
  return r;
}
int unlink(const char* p) {
  const int r = NEXT(unlink)(p);
  after_call();
  return r;
}
int fsync(int fd) {
  const int r = NEXT(fsync)(fd);
  after_call();
  return r;
}
