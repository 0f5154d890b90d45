#include "io/toy/generator.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "engine/error.h"
#include "io/jet_layout.h"
#include "io/toy/cluster.h"
#include "io/toy/observables.h"

namespace ucluster::toy {

Generator::Generator(std::uint64_t seed, std::vector<JetClass> classes, GeneratorConfig config)
    : seed_(seed), classes_(std::move(classes)), config_(config) {
  UCLUSTER_CHECK(!classes_.empty(), "toy generator: no jet classes selected");
}

JetClass Generator::generate(std::int64_t index, int n_particles, double* raw, double* jet_row,
                             std::uint8_t* kinds) const {
  Rng rng = Rng(seed_).derive(static_cast<std::uint64_t>(index));
  const JetClass cls = classes_[rng.below(classes_.size())];
  std::vector<Particle> particles;
  std::vector<Candidate> candidates;
  std::vector<Vec4> momenta;
  std::vector<int> members;
  for (int attempt = 0;; ++attempt) {
    UCLUSTER_CHECK(attempt < 1000, "toy generator: no jet found for jet ", index, " after 1000 events");
    particles.clear();
    candidates.clear();
    const Vec4 object = generate_event(cls, config_.physics, rng, particles);
    simulate_detector(particles, config_.detector, rng, candidates);
    momenta.clear();
    for (const Candidate& c : candidates) momenta.push_back(c.p);
    const ClusterHistory h = cluster(momenta, -1, config_.jet_radius, true);
    // The jet nearest to the object (data-format.md 4.4) among those above jet_ptmin.
    int best = -1;
    double best_dr = config_.jet_radius;
    for (int node : h.jets) {
      const Vec4& j = h.nodes[node].p;
      if (j.pt() < config_.jet_ptmin) continue;
      const double dy = j.rapidity() - object.rapidity(), dphi = wrap_phi(j.phi() - object.phi());
      const double dr = std::sqrt(dy * dy + dphi * dphi);
      if (dr < best_dr) {
        best_dr = dr;
        best = node;
      }
    }
    if (best < 0) continue;
    members.clear();
    leaves_of(h, best, members);
    // Constituents by decreasing pT (ties by input order, so the order is reproducible).
    std::sort(members.begin(), members.end(), [&](int a, int b) {
      const double pa = momenta[a].pt2(), pb = momenta[b].pt2();
      return pa != pb ? pa > pb : a < b;
    });
    std::vector<Vec4> cs;
    cs.reserve(members.size());
    for (int m : members) cs.push_back(momenta[m]);
    constituent_columns(cs, n_particles, raw);
    jet_columns(cs, cls, jet_row);
    if (kinds != nullptr) {
      for (int i = 0; i < n_particles; ++i) {
        kinds[i] = i < static_cast<int>(members.size()) ? static_cast<std::uint8_t>(candidates[members[i]].kind) : 255;
      }
    }
    return cls;
  }
}

void Generator::generate_block(std::int64_t first, std::int64_t count, int n_particles, double* raw,
                               double* jet_rows, std::uint8_t* kinds, int threads) const {
  const std::int64_t raw_stride = static_cast<std::int64_t>(n_particles) * jets::kRawParticleColumns;
  const int nt = threads > 0 ? threads : omp_get_max_threads();
  std::string error;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
  for (std::int64_t i = 0; i < count; ++i) {
    try {
      generate(first + i, n_particles, raw + i * raw_stride, jet_rows + i * jets::kJetColumns,
               kinds != nullptr ? kinds + i * n_particles : nullptr);
    } catch (const std::exception& e) {
#pragma omp critical(ucluster_toy_error)
      if (error.empty()) error = e.what();
    }
  }
  if (!error.empty()) throw Error(error);
}

}  // namespace ucluster::toy
