#include "io/toy/dataset.h"

#include <algorithm>

#include "engine/error.h"
#include "io/jet_layout.h"
#include "io/preprocess.h"

namespace ucluster::toy {

JetArrays make_toy_dataset(std::uint64_t seed, std::int64_t n_jets, int n_particles, int threads,
                           const std::vector<JetClass>& classes, const GeneratorConfig& config) {
  UCLUSTER_CHECK(n_jets >= 0 && n_particles >= 1, "toy dataset: bad size ", n_jets, " jets x ", n_particles,
                 " particles");
  const Generator gen(seed, classes, config);
  JetArrays out;
  out.n_particles = n_particles;
  out.n_features = jets::kFeatures;
  const std::int64_t block = 1000;
  const std::size_t raw_row = static_cast<std::size_t>(n_particles) * jets::kRawParticleColumns;
  const std::size_t row = static_cast<std::size_t>(n_particles) * jets::kFeatures;
  std::vector<double> raw(block * raw_row), rows(block * jets::kJetColumns);
  for (std::int64_t b = 0; b < n_jets; b += block) {
    const std::int64_t n = std::min(block, n_jets - b);
    gen.generate_block(b, n, n_particles, raw.data(), rows.data(), nullptr, threads);
    for (std::int64_t i = 0; i < n; ++i) {
      const double* r = rows.data() + i * jets::kJetColumns;
      if (!jets::keep_jet(r)) continue;
      out.data.resize(out.data.size() + row);
      jets::particle_features(raw.data() + i * raw_row, n_particles, out.data.data() + out.data.size() - row);
      out.target.push_back(jets::mass_bin(r[jets::kJetMass]));
      out.truth.push_back(jets::truth_class(r));
      out.mass.push_back(static_cast<float>(r[jets::kJetMass]));
    }
  }
  out.n = static_cast<std::int64_t>(out.target.size());
  return out;
}

}  // namespace ucluster::toy
