// Helpers for the tests that run the command-line tools: a temporary directory and running an
// executable with its stdout and stderr captured.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/context.h"

namespace ucluster::test {

inline ContextOptions cpu_options() {
  ContextOptions o;
  o.device = "cpu";
  return o;
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucluster-tools-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made) path_ = made;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Entries of the directory (hidden ones included), sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct ToolRun {
  int rc = -1;
  std::string out, err;
};

// Runs `command` (a shell command line; quote paths with quote()) with stdout/stderr captured in
// files of `dir`.
inline ToolRun run_tool(const std::string& command, const std::string& dir) {
  const std::string out = dir + "/.stdout", err = dir + "/.stderr";
  const int status = std::system((command + " > '" + out + "' 2> '" + err + "'").c_str());
  ToolRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace ucluster::test
