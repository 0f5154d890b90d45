// Writing HDF5 files safely on a disk that may fill up: see io/h5_write_safety.h.
#include "io/h5_write_safety.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "io/h5.h"

namespace ucluster::h5::detail {

namespace {

constexpr unsigned kObjectsInFile = H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;

// Closes the datasets, groups, types and attributes of `file` that are still open; false when one
// of them fails to close (its data could not be written).
bool close_open_objects(hid_t file) {
  const ssize_t n = H5Fget_obj_count(file, kObjectsInFile);
  if (n <= 0) return n == 0;
  std::vector<hid_t> ids(static_cast<std::size_t>(n));
  const ssize_t got = H5Fget_obj_ids(file, kObjectsInFile, ids.size(), ids.data());
  bool ok = got == n;
  for (ssize_t i = 0; i < got; ++i) {
    const hid_t id = ids[static_cast<std::size_t>(i)];
    const herr_t rc = H5Iget_type(id) == H5I_ATTR ? H5Aclose(id) : H5Oclose(id);
    ok = ok && rc >= 0;
  }
  return ok;
}

// Points the descriptor of a file being written at an anonymous in-memory file of the same size
// (memfd), where every write still pending succeeds; the real file keeps what it had, and is never
// published. Used as soon as a write fails: HDF5 1.10 cannot recover from a failed flush of its
// metadata cache or of a dataset (the next close fails, "slist already enabled?", and the library
// crashes or loops at exit retrying it). Must run before H5Fclose: after a failed H5Fclose the
// file's driver is gone.
void redirect_to_memory(hid_t file) {
  void* handle = nullptr;
  hsize_t size = 0;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr || H5Fget_filesize(file, &size) < 0)
    return;
  const int fd = *static_cast<int*>(handle);  // the default (sec2) driver's handle is the descriptor
  const int sink = ::memfd_create("ucluster-discarded-hdf5", MFD_CLOEXEC);
  if (sink < 0) return;
  if (::ftruncate(sink, static_cast<off_t>(size)) == 0) ::dup2(sink, fd);
  ::close(sink);
}

}  // namespace

// After a failed write to `object` (a dataset, attribute or file): its file is redirected to memory.
void abandon_file_of(hid_t object) {
  const hid_t file = H5Iget_file_id(object);
  if (file < 0) return;
  unsigned intent = 0;
  if (H5Fget_intent(file, &intent) >= 0 && (intent & H5F_ACC_RDWR) != 0) redirect_to_memory(file);
  H5Fclose(file);  // the reference H5Iget_file_id took
}

namespace {

// Closes a created file that cannot be completed (see redirect_to_memory), without error.
void discard_created_file(hid_t file) {
  redirect_to_memory(file);
  close_open_objects(file);
  H5Fclose(file);
  H5Eclear2(H5E_DEFAULT);
}

// Reserves disk blocks for the file's whole address space and a margin, without changing its size,
// so that the writes of the final flush cannot fail for lack of space. 0, or the errno of the
// failure (EOPNOTSUPP where the file system cannot reserve: the flush is then unprotected).
int reserve_space_for_flush(hid_t file) {
  constexpr hsize_t kMargin = 64 << 10;  // room for what the flush may still allocate
  void* handle = nullptr;
  hsize_t size = 0;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr || H5Fget_filesize(file, &size) < 0)
    return 0;
  const int fd = *static_cast<int*>(handle);
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size + kMargin)) == 0) return 0;
  // A nearly full (or small) disk may still hold the file itself: its address space is what counts.
  return ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) == 0 ? 0 : errno;
}

}  // namespace

// Writes everything of a created file and closes it; "" on success, else what failed (the file is
// then discarded and closed all the same, leaving HDF5 nothing to retry at exit).
std::string finish_created_file(hid_t file) {
  if (!close_open_objects(file)) {
    std::string problem = last_error_message();
    discard_created_file(file);
    return problem.empty() ? "the data of a dataset could not be written" : problem;
  }
  const int err = reserve_space_for_flush(file);
  if (err == ENOSPC || err == EDQUOT) {
    discard_created_file(file);
    return std::strerror(err);
  }
  if (H5Fclose(file) < 0) {
    std::string problem = last_error_message();
    H5Eclear2(H5E_DEFAULT);
    return problem.empty() ? "H5Fclose failed" : problem;
  }
  H5Eclear2(H5E_DEFAULT);
  return "";
}

}  // namespace ucluster::h5::detail
