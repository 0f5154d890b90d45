// Sequential-recombination jet clustering (the generalised-kT family of FastJet) for the small
// multiplicities of one event: anti-kT (power -1), Cambridge/Aachen (0) and kT (1), E-scheme
// recombination, distances in (rapidity, phi). Nearest-neighbour caching makes it O(n^2).
#pragma once

#include <vector>

#include "io/toy/vec.h"

namespace ucluster::toy {

struct ClusterNode {
  Vec4 p;
  int parent1 = -1, parent2 = -1;  // -1 for an input particle
};

struct ClusterHistory {
  std::vector<ClusterNode> nodes;  // inputs 0..n-1, then one node per merge, in order
  std::vector<int> jets;           // node ids of the final objects (inclusive jets, or what remains)
  // snapshots[k] (k = 1..snapshot_max): the node ids present when k objects were left (exclusive
  // clustering; the initial objects when there were never more than k).
  std::vector<std::vector<int>> snapshots;
};

// with_beam = true: inclusive clustering with radius R (d_iB = pT^(2 power)); every input ends in
// exactly one jet. with_beam = false: exclusive clustering (pairwise merges only) until `stop_at`
// objects remain; snapshots for 1..snapshot_max objects are recorded.
ClusterHistory cluster(const std::vector<Vec4>& inputs, int power, double R, bool with_beam, int stop_at = 1,
                       int snapshot_max = 0);

// The input indices of all particles below node `id` (appended to `out`).
void leaves_of(const ClusterHistory& h, int id, std::vector<int>& out);

}  // namespace ucluster::toy
