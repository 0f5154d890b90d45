// Small helpers shared by the command-line tools and the benchmarks: value parsing with clear
// errors, the walk over the arguments, and the top-level error handler (message on stderr, exit
// status 1).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

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

// A command line walked argument by argument:
//   cli::Arguments args(argc, argv);
//   while (args.next()) {
//     if (args.is("--jets")) jets = args.integer(1, 1000);
//     else args.positional_or_fail(inputs);
//   }
//   if (args.help()) ...print the usage, exit 0...
// next() stops at --help or -h. The value readers take the argument after the flag and name the
// flag in their errors.
class Arguments {
 public:
  Arguments(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Advances to the next argument: false at the end or at --help / -h (then help() is true).
  bool next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    help_ = flag_ == "--help" || flag_ == "-h";
    return !help_;
  }
  bool help() const { return help_; }
  bool is(const char* flag) const { return flag_ == flag; }
  const std::string& flag() const { return flag_; }

  std::string value() { return cli::value(argc_, argv_, i_); }
  std::int64_t integer(std::int64_t lo, std::int64_t hi) { return to_int(flag_, value(), lo, hi); }
  std::uint64_t u64() { return to_u64(flag_, value()); }
  double number(double lo, double hi) { return to_double(flag_, value(), lo, hi); }

  // Refuses the current argument as an unknown option.
  [[noreturn]] void unknown() const { fail("unknown argument '", flag_, "' (see --help)"); }
  // Appends a positional argument to `out`; refuses an unknown option.
  void positional_or_fail(std::vector<std::string>& out) const {
    if (flag_.size() > 1 && flag_[0] == '-') fail("unknown option '", flag_, "' (see --help)");
    out.push_back(flag_);
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
  bool help_ = false;
};

// Runs `body`; on an exception prints "<prog>: error: <message>" and returns 1.
template <typename Body>
int guarded_main(const char* prog, Body body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    std::cerr << prog << ": error: out of memory (an input declares more data than this machine can hold?)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << prog << ": error: " << e.what() << "\n";
    return 1;
  }
}

// The main of a tool: walks the command line with `option` (which reads the current argument's
// value, or refuses it), prints `usage` at --help, else runs `body`; errors as guarded_main.
template <typename Option, typename Body>
int tool_main(const char* prog, const char* usage, int argc, char** argv, Option option, Body body) {
  return guarded_main(prog, [&] {
    Arguments args(argc, argv);
    while (args.next()) option(args);
    if (args.help()) {
      std::cout << usage;
      return 0;
    }
    return body();
  });
}

}  // namespace ucluster::cli
