// Toy jets straight into memory in the UCluster layout (the same selection, features and mass
// bins as prepare-data), for runs without files: the main job's built-in default data, tests.
#pragma once

#include <cstdint>

#include "io/loader.h"
#include "io/toy/generator.h"

namespace ucluster::toy {

// Generates jets 0..n_jets-1 of Generator(seed, classes, config) — the same jets make-toy-jets
// writes to train/ with --seed seed — and keeps those passing the selection (spec 1.2), in
// order. Row i of the result equals row i of prepare-data's output over those files before the
// split. threads <= 0: the OpenMP default; the result does not depend on it.
JetArrays make_toy_dataset(std::uint64_t seed, std::int64_t n_jets, int n_particles = 100, int threads = 0,
                           const std::vector<JetClass>& classes = {JetClass::W, JetClass::Z, JetClass::Top},
                           const GeneratorConfig& config = {});

}  // namespace ucluster::toy
