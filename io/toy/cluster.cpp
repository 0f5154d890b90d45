#include "io/toy/cluster.h"

#include <cmath>
#include <limits>

namespace ucluster::toy {

namespace {

struct Active {
  double rap, phi, kt2p;
  int node;
  int nn;         // node id of the geometric nearest neighbour, -1 if none
  double nndist;  // its squared (rapidity, phi) distance
};

double kt_power(const Vec4& p, int power) {
  const double pt2 = std::max(p.pt2(), 1e-300);
  return power == 0 ? 1.0 : (power > 0 ? pt2 : 1.0 / pt2);
}

double dist2(const Active& a, const Active& b) {
  const double dy = a.rap - b.rap;
  double dphi = std::fabs(a.phi - b.phi);
  if (dphi > M_PI) dphi = 2 * M_PI - dphi;
  return dy * dy + dphi * dphi;
}

Active make_active(const Vec4& p, int node, int power) {
  return {p.rapidity(), p.phi(), kt_power(p, power), node, -1, std::numeric_limits<double>::infinity()};
}

}  // namespace

ClusterHistory cluster(const std::vector<Vec4>& inputs, int power, double R, bool with_beam, int stop_at,
                       int snapshot_max) {
  ClusterHistory h;
  const int n = static_cast<int>(inputs.size());
  h.nodes.reserve(2 * n);
  h.snapshots.assign(snapshot_max + 1, {});
  std::vector<Active> act;
  act.reserve(n);
  std::vector<int> slot_of(2 * n + 1, -1);
  for (int i = 0; i < n; ++i) {
    h.nodes.push_back({inputs[i], -1, -1});
    act.push_back(make_active(inputs[i], i, power));
    slot_of[i] = i;
  }
  auto find_nn = [&](int s) {
    Active& a = act[s];
    a.nn = -1;
    a.nndist = std::numeric_limits<double>::infinity();
    for (int t = 0; t < static_cast<int>(act.size()); ++t) {
      if (t == s) continue;
      const double d = dist2(a, act[t]);
      if (d < a.nndist) {
        a.nndist = d;
        a.nn = act[t].node;
      }
    }
  };
  auto remove_slot = [&](int s) {
    slot_of[act[s].node] = -1;
    const int last = static_cast<int>(act.size()) - 1;
    if (s != last) {
      act[s] = act[last];
      slot_of[act[s].node] = s;
    }
    act.pop_back();
  };
  auto snapshot = [&]() {
    const int k = static_cast<int>(act.size());
    if (k >= 1 && k <= snapshot_max && h.snapshots[k].empty()) {
      for (const Active& a : act) h.snapshots[k].push_back(a.node);
    }
  };
  for (int s = 0; s < static_cast<int>(act.size()); ++s) find_nn(s);
  const double inv_r2 = 1.0 / (R * R);
  if (!with_beam) {
    // Snapshots for counts at or above the start: the initial objects.
    for (int k = static_cast<int>(act.size()); k <= snapshot_max; ++k) {
      if (k >= 1) for (const Active& a : act) h.snapshots[k].push_back(a.node);
    }
  }
  while (!act.empty() && (with_beam || static_cast<int>(act.size()) > stop_at)) {
    int best = -1;
    double best_d = std::numeric_limits<double>::infinity();
    bool to_beam = false;
    for (int s = 0; s < static_cast<int>(act.size()); ++s) {
      const Active& a = act[s];
      if (a.nn >= 0) {
        const double d = std::min(a.kt2p, act[slot_of[a.nn]].kt2p) * a.nndist * inv_r2;
        if (d < best_d) {
          best_d = d;
          best = s;
          to_beam = false;
        }
      }
      if (with_beam && a.kt2p < best_d) {
        best_d = a.kt2p;
        best = s;
        to_beam = true;
      }
    }
    if (best < 0) break;
    if (to_beam) {
      const int node = act[best].node;
      h.jets.push_back(node);
      remove_slot(best);
      for (int s = 0; s < static_cast<int>(act.size()); ++s) {
        if (act[s].nn == node) find_nn(s);
      }
      continue;
    }
    const int node_a = act[best].node, node_b = act[best].nn;
    const int new_node = static_cast<int>(h.nodes.size());
    h.nodes.push_back({h.nodes[node_a].p + h.nodes[node_b].p, node_a, node_b});
    const int slot_a = best;
    act[slot_a] = make_active(h.nodes[new_node].p, new_node, power);
    slot_of[node_a] = -1;
    slot_of[new_node] = slot_a;
    remove_slot(slot_of[node_b]);
    const int slot_c = slot_of[new_node];
    find_nn(slot_c);
    for (int s = 0; s < static_cast<int>(act.size()); ++s) {
      if (s == slot_c) continue;
      Active& a = act[s];
      if (a.nn == node_a || a.nn == node_b) {
        find_nn(s);
      } else {
        const double d = dist2(a, act[slot_c]);
        if (d < a.nndist) {
          a.nndist = d;
          a.nn = new_node;
        }
      }
    }
    if (!with_beam) snapshot();
  }
  if (!with_beam) {
    for (const Active& a : act) h.jets.push_back(a.node);
  }
  return h;
}

void leaves_of(const ClusterHistory& h, int id, std::vector<int>& out) {
  std::vector<int> stack{id};
  while (!stack.empty()) {
    const int k = stack.back();
    stack.pop_back();
    const ClusterNode& nd = h.nodes[k];
    if (nd.parent1 < 0) {
      out.push_back(k);
    } else {
      stack.push_back(nd.parent2);
      stack.push_back(nd.parent1);
    }
  }
}

}  // namespace ucluster::toy
