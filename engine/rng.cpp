#include "engine/rng.h"

#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace ucluster {

std::uint64_t mix_seed(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::uint64_t Rng::below(std::uint64_t n) {
  UCLUSTER_CHECK(n > 0, "Rng::below(0)");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x = engine_();
  while (x >= limit) x = engine_();
  return x % n;
}

Rng Rng::derive(std::uint64_t stream) const { return Rng(mix_seed(seed_ ^ mix_seed(stream + 1))); }

std::string Rng::state() const {
  std::ostringstream os;
  os << seed_ << ' ' << engine_;
  return os.str();
}

void Rng::set_state(const std::string& state) {
  std::istringstream is(state);
  is >> seed_ >> engine_;
  UCLUSTER_CHECK(!is.fail(), "invalid random-number generator state string");
}

}  // namespace ucluster
