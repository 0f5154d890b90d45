// Output files that appear only when complete: written under a hidden temporary name beside the
// final path, made durable (fsync) and renamed on commit(); an uncommitted file is deleted by the
// destructor (failure, exception). Temporaries carry the host name and process id
// (".NAME.tmp-HOST-PID"), so that one left by a killed process can be told from one being written
// by a live process (also by another node on a shared file system) and removed by the next run.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ucluster {

// "HOST-PID" of this process, for the names of hidden per-process temporaries.
std::string process_tag();

// Removes the files in `dir` named PREFIX + TAG + SUFFIX whose TAG is "HOST-PID" (or a bare "PID",
// as older versions wrote) of a process on this host that no longer runs. Returns their paths.
std::vector<std::string> remove_stale_temporaries(const std::filesystem::path& dir, const std::string& prefix,
                                                  const std::string& suffix);

class StagedFile {
 public:
  // Also removes stale temporaries of the same final path left by killed processes.
  explicit StagedFile(std::string final_path);
  ~StagedFile();
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }

  // Flushes the temporary to the disk, renames it to the final path and flushes the directory, so
  // that neither a crash nor a power cut can leave a partial file under the final name. Call only
  // after the temporary is completely written and closed.
  void commit();

 private:
  std::string final_, temp_;
  bool committed_ = false;
};

}  // namespace ucluster
