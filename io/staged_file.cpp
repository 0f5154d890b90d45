#include "io/staged_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace ucluster {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

bool process_is_gone(const std::string& pid_text) {
  if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

void sync_path(const std::string& path, int flags, const std::string& what) {
  const int fd = ::open(path.c_str(), flags);
  UCLUSTER_CHECK(fd >= 0, "cannot open ", what, " '", path, "' to flush it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (e.g. some network ones) refuse fsync on a directory: nothing to do then.
  UCLUSTER_CHECK(rc == 0 || err == EINVAL || err == ENOTSUP, "cannot write ", what, " '", path,
                 "' to the disk: ", std::strerror(err));
}

}  // namespace

std::string process_tag() { return host_name() + "-" + std::to_string(::getpid()); }

std::vector<std::string> remove_stale_temporaries(const fs::path& dir, const std::string& prefix,
                                                  const std::string& suffix) {
  std::vector<std::string> removed;
  std::error_code ec;
  fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec);
  if (ec) return removed;
  const std::string host = host_name();
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string tag = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    const std::size_t dash = tag.rfind('-');
    const std::string tag_host = dash == std::string::npos ? host : tag.substr(0, dash);
    const std::string pid = dash == std::string::npos ? tag : tag.substr(dash + 1);
    if (tag_host != host || !process_is_gone(pid)) continue;
    if (fs::remove(entry.path(), ec)) removed.push_back(entry.path().string());
  }
  return removed;
}

StagedFile::StagedFile(std::string final_path) : final_(std::move(final_path)) {
  const fs::path p(final_);
  std::string prefix = ".";  // appended, not `"." + name + ...`: GCC 12 warns (-Wrestrict) on that
  prefix.append(p.filename().string()).append(".tmp-");
  remove_stale_temporaries(p.parent_path(), prefix, "");
  temp_ = (p.parent_path() / (prefix + process_tag())).string();
}

StagedFile::~StagedFile() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void StagedFile::commit() {
  sync_path(temp_, O_RDONLY, "file");
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  UCLUSTER_CHECK(!ec, "cannot rename '", temp_, "' to '", final_, "': ", ec.message());
  committed_ = true;
  const fs::path dir = fs::path(final_).parent_path();
  sync_path(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY, "directory");
}

}  // namespace ucluster
