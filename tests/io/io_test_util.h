// Helpers for the file tests: a temporary directory and small raw HLS4ML files.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <filesystem>
#include <string>
#include <vector>

#include "io/jet_layout.h"
#include "io/raw_file.h"
#include "io/toy/generator.h"

namespace ucluster::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucluster-io-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }
  // Names of the entries of a directory below this one ("" = this one), hidden ones included.
  std::vector<std::string> entries(const std::string& sub = "") const {
    std::vector<std::string> out;
    std::error_code ec;
    const auto dir = std::filesystem::path(path_) / sub;
    if (!std::filesystem::is_directory(dir, ec)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

// In-memory raw jets from the toy generator (W, Z, top).
struct RawJets {
  std::int64_t n = 0;
  int P = 0;
  std::vector<double> cons, rows;
  double* jet(std::int64_t i) { return cons.data() + i * P * jets::kRawParticleColumns; }
  double* row(std::int64_t i) { return rows.data() + i * jets::kJetColumns; }
};

inline RawJets toy_jets(std::int64_t n, int P = 100, std::uint64_t seed = 3) {
  RawJets r;
  r.n = n;
  r.P = P;
  r.cons.resize(static_cast<std::size_t>(n) * P * jets::kRawParticleColumns);
  r.rows.resize(static_cast<std::size_t>(n) * jets::kJetColumns);
  toy::Generator(seed).generate_block(0, n, P, r.cons.data(), r.rows.data(), nullptr, 2);
  return r;
}

inline void write_raw(const std::string& path, const RawJets& j, int gzip = 0) {
  jets::RawFileWriter w(path, j.n, j.P, {gzip, 10, false});
  w.write(0, j.n, j.cons.data(), j.rows.data());
  w.close();
}

// The message of the exception f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// An error message that holds every one of `parts`.
inline void expect_parts(const std::string& msg, const std::vector<std::string>& parts) {
  ASSERT_FALSE(msg.empty()) << "no error";
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

}  // namespace ucluster::test
