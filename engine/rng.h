// Seeded, reproducible random numbers. The distributions are written here (not std::*_distribution,
// whose algorithms differ between standard libraries), so the same seed gives the same bits on
// every platform. The state round-trips through a string for checkpoints.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace ucluster {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1) : seed_(seed), engine_(seed) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; one value per call, the pair's second value is discarded so that
  // the state after n calls does not depend on earlier call patterns).
  double normal();
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  // Uniform integer in [0, n), unbiased (rejection).
  std::uint64_t below(std::uint64_t n);

  // An independent generator for a sub-stream (per rank, per worker, per purpose), derived from
  // this generator's seed and the stream id only, so it does not depend on how much was drawn.
  Rng derive(std::uint64_t stream) const;

  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::uint64_t seed_;
  std::mt19937_64 engine_;
};

// SplitMix64 finaliser: a good 64-bit mixing function for deriving seeds.
std::uint64_t mix_seed(std::uint64_t x);

}  // namespace ucluster
