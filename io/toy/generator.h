// The toy W/Z/top (and optional q/g) jet generator of data-format.md section 4: one event per
// jet (object, decay, shower, fragmentation, underlying event), the parametric detector, anti-kT
// R = 0.8, the jet nearest to the object, and its columns in the raw HLS4ML layout.
//
// Reproducible: jet i depends only on (seed, i) through Rng(seed).derive(i), so any split of the
// jets over threads, blocks or files gives the same values.
#pragma once

#include <cstdint>
#include <vector>

#include "io/toy/detector.h"
#include "io/toy/physics.h"

namespace ucluster::toy {

struct GeneratorConfig {
  PhysicsConfig physics;
  DetectorConfig detector;
  double jet_radius = 0.8;
  double jet_ptmin = 100.0;
};

class Generator {
 public:
  // `classes`: the classes drawn uniformly per jet (default W, Z, top).
  explicit Generator(std::uint64_t seed, std::vector<JetClass> classes = {JetClass::W, JetClass::Z, JetClass::Top},
                     GeneratorConfig config = {});

  const GeneratorConfig& config() const { return config_; }
  const std::vector<JetClass>& classes() const { return classes_; }

  // Jet number `index`: writes its jetConstituentList row `raw` ([n_particles, 16]) and its `jets`
  // row (59 columns); `kinds` ([n_particles], optional) gets each row's CandidateKind (255 for
  // padding). Returns the class.
  JetClass generate(std::int64_t index, int n_particles, double* raw, double* jet_row,
                    std::uint8_t* kinds = nullptr) const;

  // Jets [first, first + count) into consecutive rows, over `threads` OpenMP threads (<= 0: the
  // OpenMP default). The result does not depend on the thread count.
  void generate_block(std::int64_t first, std::int64_t count, int n_particles, double* raw, double* jet_rows,
                      std::uint8_t* kinds, int threads) const;

 private:
  std::uint64_t seed_;
  std::vector<JetClass> classes_;
  GeneratorConfig config_;
};

}  // namespace ucluster::toy
