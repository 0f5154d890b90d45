// Output files that appear only when complete: write to a hidden temporary name beside the final
// path, rename on commit(); an uncommitted file is deleted by the destructor (failure, exception).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "engine/error.h"

namespace ucluster {

class StagedFile {
 public:
  explicit StagedFile(std::string final_path) : final_(std::move(final_path)) {
    const std::filesystem::path p(final_);
    std::string name = ".";
    name.append(p.filename().string()).append(".tmp-").append(std::to_string(::getpid()));
    temp_ = (p.parent_path() / name).string();
  }
  ~StagedFile() {
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(temp_, ec);
    }
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }

  void commit() {
    std::error_code ec;
    std::filesystem::rename(temp_, final_, ec);
    UCLUSTER_CHECK(!ec, "cannot rename '", temp_, "' to '", final_, "': ", ec.message());
    committed_ = true;
  }

 private:
  std::string final_, temp_;
  bool committed_ = false;
};

}  // namespace ucluster
