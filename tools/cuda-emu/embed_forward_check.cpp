// The CUDA session's forward kernel (embed/src/cuda_forward.cu, emulated: run with
// `tools/cuda-emu/run BUILD_DIR embed_forward`) against the library's CPU forward pass (JetRunner) on
// the golden jets of tests/data/golden_small.h5: the 16 jets with the published weights and the 4
// with random weights ("tiny/"), whole and cut to n = 1, 2, 5, 9, 10, 11, 50, 99 real particles
// (padding-compression.md: fewer real particles than k, exactly k, one padded row, ...).
// Per case: kNN lists identical row by row, z, distances and logits within 2e-5 * max|ref| (the
// golden inference tolerance), cluster ids identical; and how many jets are bit-identical. The
// kernel runs on fewer blocks than jets (each block loops over jets) and reads the jet count from
// its counts buffer: a second launch with a smaller count must leave the other outputs untouched.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "embed/src/cuda_forward.h"
#include "embed/src/forward.h"
#include "embed/src/model_file.h"

using namespace ucluster::embed;
namespace cu = ucluster::embed::cuda;

namespace {

struct Array {
  std::vector<hsize_t> shape;
  std::vector<double> values;
};

Array read(hid_t file, const std::string& name) {
  Array a;
  const hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (d < 0) {
    std::fprintf(stderr, "no dataset %s\n", name.c_str());
    std::exit(2);
  }
  const hid_t space = H5Dget_space(d);
  a.shape.resize(H5Sget_simple_extent_ndims(space));
  H5Sget_simple_extent_dims(space, a.shape.data(), nullptr);
  a.values.resize(H5Sget_simple_extent_npoints(space));
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.values.data());
  H5Sclose(space);
  H5Dclose(d);
  return a;
}

ModelContents contents(hid_t file, const std::string& group) {
  ModelContents c;
  for (const auto& [name, shape] : required_tensors(c.dims)) {
    const Array a = read(file, group + name);
    c.tensors[name] = ModelTensor{shape, std::vector<float>(a.values.begin(), a.values.end())};
  }
  return c;
}

int real_rows(const float* jet) {
  for (int r = 100; r > 0; --r)
    for (int c = 0; c < 8; ++c)
      if (jet[(r - 1) * 8 + c] != 0.0f) return r;
  return 0;
}

int failures = 0;

// |emu - ref| <= 2e-5 * max|ref| over every value; returns the worst |emu - ref| / max|ref|.
double worst(const std::vector<float>& emu, const std::vector<float>& ref, bool& ok) {
  double scale = 0, w = 0;
  for (float v : ref) scale = std::max(scale, double(std::abs(v)));
  for (std::size_t i = 0; i < emu.size(); ++i) {
    const double d = std::abs(double(emu[i]) - double(ref[i]));
    if (!(d <= 2e-5 * scale)) ok = false;
    w = std::max(w, d / scale);
  }
  return w;
}

void run_case(const Network& net, const cu::PackedNetwork& packed, const std::vector<float>& jets, const char* set,
              int cut) {
  const int n_jets = static_cast<int>(jets.size() / 800);
  // The CPU reference.
  JetRunner runner(net);
  std::vector<JetResult> ref(n_jets);
  std::vector<std::vector<std::int32_t>> ref_knn(n_jets);
  std::vector<int> counts(1 + n_jets);
  counts[0] = n_jets;
  for (int b = 0; b < n_jets; ++b) {
    counts[1 + b] = real_rows(jets.data() + b * 800);
    runner.run(jets.data() + b * 800, counts[1 + b], ref[b]);
    ref_knn[b] = runner.knn1();
    ref_knn[b].insert(ref_knn[b].end(), runner.knn2().begin(), runner.knn2().end());
  }
  // The emulated kernel: 3 blocks (each loops over jets; blocks without a jet exit), NaN scratch.
  const int blocks = 3;
  std::vector<float> scratch(blocks * cu::kScratchPerBlock, std::numeric_limits<float>::quiet_NaN());
  std::vector<JetResult> out(n_jets);
  std::memset(out.data(), 0xff, out.size() * sizeof(JetResult));
  std::vector<int> knn(std::size_t(n_jets) * 2 * 100 * 10, -1);
  cu::launch_forward(packed.params, packed.data.data(), jets.data(), counts.data(), scratch.data(), blocks, out.data(),
                     knn.data(), nullptr);

  int knn_bad = 0, cluster_bad = 0, identical = 0;
  std::vector<float> ez, rz, ed, rd, el, rl;
  for (int b = 0; b < n_jets; ++b) {
    const int rows = counts[1 + b] + (counts[1 + b] < 100 ? 1 : 0);
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < rows * 10; ++i)
        knn_bad += knn[(std::size_t(b) * 2 + g) * 1000 + i] != ref_knn[b][g * std::size_t(runner.knn1().size()) + i];
    cluster_bad += out[b].cluster != ref[b].cluster;
    identical += std::memcmp(&out[b], &ref[b], sizeof(JetResult)) == 0;
    ez.insert(ez.end(), out[b].z, out[b].z + 3);
    rz.insert(rz.end(), ref[b].z, ref[b].z + 3);
    ed.insert(ed.end(), out[b].distances, out[b].distances + 3);
    rd.insert(rd.end(), ref[b].distances, ref[b].distances + 3);
    el.insert(el.end(), out[b].logits, out[b].logits + 20);
    rl.insert(rl.end(), ref[b].logits, ref[b].logits + 20);
  }
  bool ok = knn_bad == 0 && cluster_bad == 0;
  const double wz = worst(ez, rz, ok), wd = worst(ed, rd, ok), wl = worst(el, rl, ok);

  // The jet count is read on the device: with counts[0] = 1, only jet 0 is written (again).
  std::vector<JetResult> again(n_jets);
  std::memset(again.data(), 0x7f, again.size() * sizeof(JetResult));
  counts[0] = 1;
  cu::launch_forward(packed.params, packed.data.data(), jets.data(), counts.data(), scratch.data(), blocks,
                     again.data(), nullptr, nullptr);
  bool count_ok = std::memcmp(&again[0], &out[0], sizeof(JetResult)) == 0;
  for (int b = 1; b < n_jets; ++b) {
    JetResult untouched;
    std::memset(&untouched, 0x7f, sizeof untouched);
    count_ok = count_ok && std::memcmp(&again[b], &untouched, sizeof untouched) == 0;
  }
  ok = ok && count_ok;
  std::printf("%-5s n=%-4s jets %2d: knn diffs %d, cluster diffs %d, worst rel z %.2e dist %.2e logits %.2e, "
              "bit-identical %d/%d, device count %s  %s\n",
              set, cut == 100 ? "all" : std::to_string(cut).c_str(), n_jets, knn_bad, cluster_bad, wz, wd, wl,
              identical, n_jets, count_ok ? "ok" : "WRONG", ok ? "ok" : "FAIL");
  failures += !ok;
}

}  // namespace

int main() {
  const std::string path = std::string(UCLUSTER_SOURCE_DIR) + "/tests/data/golden_small.h5";
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    return 2;
  }
  std::printf("CPU reference: JetRunner with the %s GEMM\n", Network(contents(file, "weights/")).gemm_name());
  for (const auto& [set, prefix] : {std::pair{"main", ""}, std::pair{"tiny", "tiny/"}}) {
    const Network net(contents(file, std::string(prefix) + "weights/"));
    const cu::PackedNetwork packed = cu::pack_network(net);
    const Array data = read(file, std::string(prefix) + "input/data");
    const std::vector<float> all(data.values.begin(), data.values.end());
    for (int cut : {100, 1, 2, 5, 9, 10, 11, 50, 99}) {
      // The jets with at least `cut` particles, cut to exactly `cut` (all jets, whole, for 100).
      std::vector<float> jets;
      for (std::size_t b = 0; b < all.size() / 800; ++b) {
        std::vector<float> jet(all.begin() + b * 800, all.begin() + (b + 1) * 800);
        std::fill(jet.begin() + cut * 8, jet.end(), 0.0f);
        if (cut == 100 || real_rows(jet.data()) == cut) jets.insert(jets.end(), jet.begin(), jet.end());
      }
      if (jets.empty()) {
        std::printf("%-5s n=%-4d no jet has that many particles\n", set, cut);
        continue;
      }
      run_case(net, packed, jets, set, cut);
    }
  }
  H5Fclose(file);
  std::printf(failures ? "FAILURES %d\n" : "ALL OK\n", failures);
  return failures ? 1 : 0;
}
