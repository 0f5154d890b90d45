// Error type and checking macros used everywhere in ucluster.
//
// Every user-facing failure (bad shapes, unavailable devices, bad files, bad configuration) is
// reported by throwing ucluster::Error with a message that names the operation and the offending
// values. Executables catch it at the top level, print the message and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ucluster {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: make_message("k = ", k, " > N = ", n).
template <typename... Parts>
std::string make_message(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(make_message(parts...));
}

}  // namespace ucluster

// UCLUSTER_CHECK(cond, "op: message ", value, ...) throws ucluster::Error when cond is false.
#define UCLUSTER_CHECK(cond, ...)                   \
  do {                                              \
    if (!(cond)) ::ucluster::fail(__VA_ARGS__);     \
  } while (0)
