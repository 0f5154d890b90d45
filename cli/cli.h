// Small helpers shared by the command-line tools: value parsing with clear errors and the
// top-level error handler (message on stderr, exit status 1).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "engine/error.h"

namespace ucluster::cli {

// The value after `flag` at argv[i + 1]; advances i.
inline std::string value(int argc, char** argv, int& i) {
  const std::string flag = argv[i];
  UCLUSTER_CHECK(i + 1 < argc, "option ", flag, " needs a value");
  return argv[++i];
}

inline std::int64_t to_int(const std::string& flag, const std::string& v, std::int64_t lo, std::int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  UCLUSTER_CHECK(!v.empty() && end != nullptr && *end == '\0' && errno == 0, "option ", flag,
                 ": '", v, "' is not an integer");
  UCLUSTER_CHECK(x >= lo && x <= hi, "option ", flag, ": ", x, " is outside [", lo, ", ", hi, "]");
  return x;
}

inline std::uint64_t to_u64(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  UCLUSTER_CHECK(!v.empty() && v[0] != '-' && end != nullptr && *end == '\0' && errno == 0, "option ", flag, ": '", v,
                 "' is not a non-negative integer");
  return x;
}

inline double to_double(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  UCLUSTER_CHECK(!v.empty() && end != nullptr && *end == '\0', "option ", flag, ": '", v, "' is not a number");
  UCLUSTER_CHECK(x >= lo && x <= hi, "option ", flag, ": ", x, " is outside [", lo, ", ", hi, "]");
  return x;
}

// Runs `body`; on an exception prints "<prog>: error: <message>" and returns 1.
template <typename Body>
int guarded_main(const char* prog, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << prog << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ucluster::cli
