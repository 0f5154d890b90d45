// Writing HDF5 files safely on a disk that may fill up (used by io/h5.cpp only).
//
// HDF5 1.10 cannot recover from a failed write of its caches: the file's next close fails
// ("slist already enabled?") and the library crashes or loops forever at exit retrying it. So:
// - before the final flush of a created file, disk space for its whole address space is reserved
//   (fallocate), and a full disk is reported before HDF5 writes anything;
// - as soon as a write fails, the file's descriptor is pointed at an anonymous in-memory file, so
//   that every write still pending succeeds and the file can be closed; the real file is never
//   published;
// - programs that write HDF5 skip the library's shutdown at exit (h5::skip_library_shutdown_at_exit).
#pragma once

#include <hdf5.h>

#include <string>

namespace ucluster::h5::detail {

// After a failed write to `object` (a dataset, attribute or file): its file, when open for
// writing, is redirected to memory.
void abandon_file_of(hid_t object);

// Closes the objects still open in a created file, reserves the space of the final flush and
// closes the file; "" on success, else what failed (the file is then redirected to memory and
// closed all the same, leaving HDF5 nothing to retry at exit).
std::string finish_created_file(hid_t file);

}  // namespace ucluster::h5::detail
