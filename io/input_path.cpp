#include "io/input_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace ucluster {

std::string input_path_problem(const std::string& path, InputKind kind) {
  if (path.empty()) return "is empty (no path given)";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    struct stat link {};
    if (err == ENOENT && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(path, ec);
      return make_message("is a symbolic link to '", target.string(), "', which does not exist");
    }
    switch (err) {
      case ENOENT: return "does not exist";
      case ELOOP: return "is a loop of symbolic links (too many levels of links)";
      case ENOTDIR: return "does not exist (a component of the path is not a directory)";
      case EACCES: return "cannot be reached (permission denied on a directory of the path)";
      case ENAMETOOLONG: return "is too long a name";
      default: return make_message("cannot be examined: ", std::strerror(err));
    }
  }
  if (S_ISDIR(st.st_mode)) {
    if (kind == InputKind::File) return "is a directory, not a file";
    if (::access(path.c_str(), R_OK | X_OK) != 0) return "is a directory that cannot be read (permission denied)";
    return "";
  }
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) return "is not a regular file (a device or a socket?)";
  if (::access(path.c_str(), R_OK) != 0) return "cannot be read (permission denied)";
  return "";
}

void require_input_path(const std::string& what, const std::string& path, InputKind kind) {
  const std::string problem = input_path_problem(path, kind);
  if (!problem.empty()) fail(what, " '", path, "' ", problem);
}

void require_output_path(const std::string& what, const std::string& path, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  UCLUSTER_CHECK(dir.empty() || fs::is_directory(dir), "output directory '", dir.string(), "' does not exist");
  UCLUSTER_CHECK(!fs::is_directory(path), what, " '", path, "' is a directory; give a file name");
  std::error_code ec;  // an input that cannot be examined is not the output
  for (const std::string& in : inputs)
    UCLUSTER_CHECK(!fs::exists(path) || !fs::equivalent(path, in, ec), what, " '", path,
                   "' is one of the inputs; refusing to overwrite it");
}

}  // namespace ucluster
