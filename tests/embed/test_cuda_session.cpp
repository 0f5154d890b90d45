// CUDA sessions through the C API (the shared library): with a GPU, a CUDA session against a CPU
// session on the golden jets (tests/data/golden_small.h5, the published and the random weights, whole
// and cut to few particles) at the golden inference tolerance, 2e-5 * max|ref|, with identical
// clusters; repeated runs bit-identical; the caller's stream; batches smaller than max_batch; the
// four-momentum path; bad input refused as on the CPU. Without a GPU those skip, saying so, and the
// refusal of a CUDA session (UCLUSTER_ERROR_DEVICE with a message) is checked instead.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "embed/src/model_file.h"
#include "tests/model/golden.h"
#include "ucluster/ucluster.h"

namespace {

using ucluster::test::GoldenArray;
using ucluster::test::GoldenFile;

// "" when a CUDA device is usable, else why not.
std::string no_device_reason() {
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess) return cudaGetErrorString(e);
  return devices > 0 ? "" : "no device";
}

// The golden weights of `group` as a model buffer (.ucm), loaded by the library.
ucluster_model* golden_model(const GoldenFile& file, const std::string& group) {
  ucluster::embed::ModelContents c;
  c.inverse_temperature = 1.0;
  for (const auto& [name, shape] : ucluster::embed::required_tensors(c.dims)) {
    const GoldenArray a = file.read(group + name);
    c.tensors[name] = ucluster::embed::ModelTensor{shape, std::vector<float>(a.values.begin(), a.values.end())};
  }
  const std::vector<unsigned char> bytes = ucluster::embed::serialise_model(c);
  ucluster_model* model = nullptr;
  EXPECT_EQ(UCLUSTER_OK, ucluster_model_load_buffer(bytes.data(), bytes.size(), &model)) << ucluster_last_error();
  return model;
}

ucluster_session* session(const ucluster_model* model, ucluster_device device, int64_t max_batch,
                          void* stream = nullptr) {
  ucluster_session_options o;
  ucluster_session_options_init(&o);
  o.device = device;
  o.max_batch = max_batch;
  o.cuda_stream = stream;
  ucluster_session* s = nullptr;
  EXPECT_EQ(UCLUSTER_OK, ucluster_session_create(model, &o, &s)) << ucluster_last_error();
  return s;
}

struct Outputs {
  explicit Outputs(std::size_t n) : cluster(n, -7), distances(3 * n, -7), latent(3 * n, -7), logits(20 * n, -7) {}
  ucluster_outputs view() { return {cluster.data(), distances.data(), latent.data(), logits.data()}; }
  bool operator==(const Outputs& o) const {  // bit for bit
    auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    return cluster == o.cluster && same(distances, o.distances) && same(latent, o.latent) && same(logits, o.logits);
  }
  std::vector<int32_t> cluster;
  std::vector<float> distances, latent, logits;
};

Outputs run(ucluster_session* s, const std::vector<float>& features) {
  Outputs out(features.size() / 800);
  const ucluster_outputs v = out.view();
  EXPECT_EQ(UCLUSTER_OK, ucluster_run_features(s, features.data(), int64_t(out.cluster.size()), &v))
      << ucluster_last_error();
  return out;
}

int real_rows(const float* jet) {
  for (int r = 100; r > 0; --r)
    for (int c = 0; c < 8; ++c)
      if (jet[(r - 1) * 8 + c] != 0.0f) return r;
  return 0;
}

// Every |got - want| <= 2e-5 * max|want|.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  double scale = 0;
  for (float v : want) scale = std::max(scale, double(std::abs(v)));
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-5 * scale) << what << " [" << i << "]";
}

void expect_matches_cpu(const Outputs& cuda, const Outputs& cpu, const std::string& what) {
  EXPECT_EQ(cuda.cluster, cpu.cluster) << what;
  expect_close(cuda.latent, cpu.latent, what + " z");
  expect_close(cuda.distances, cpu.distances, what + " distances");
  expect_close(cuda.logits, cpu.logits, what + " logits");
}

TEST(CudaSessionWithoutDevice, CreationFailsWithADeviceError) {
  const std::string reason = no_device_reason();
  if (reason.empty()) GTEST_SKIP() << "a CUDA device is present: the refusal without one is not testable here";
  const GoldenFile file(ucluster::test::compact_golden_path());
  ucluster_model* model = golden_model(file, "weights/");
  ASSERT_NE(model, nullptr);
  ucluster_session_options o;
  ucluster_session_options_init(&o);
  o.device = UCLUSTER_DEVICE_CUDA;
  ucluster_session* s = reinterpret_cast<ucluster_session*>(1);
  EXPECT_EQ(UCLUSTER_ERROR_DEVICE, ucluster_session_create(model, &o, &s));
  EXPECT_EQ(s, nullptr);
  const std::string message = ucluster_last_error();
  EXPECT_NE(message.find("ucluster_session_create: no CUDA device"), std::string::npos) << message;
  std::printf("refused as expected: %s\n", message.c_str());
  // The library still runs CPU sessions: the golden z.
  const GoldenArray data = file.read("input/data"), z = file.read("infer/z");
  ucluster_session* cpu = session(model, UCLUSTER_DEVICE_CPU, data.shape[0]);
  ASSERT_NE(cpu, nullptr);
  const Outputs out = run(cpu, std::vector<float>(data.values.begin(), data.values.end()));
  expect_close(out.latent, std::vector<float>(z.values.begin(), z.values.end()), "CPU session z");
  ucluster_session_destroy(cpu);
  ucluster_model_destroy(model);
}

struct Set {
  const char* name;
  const char* prefix;
};

class CudaSession : public testing::TestWithParam<Set> {
 protected:
  void SetUp() override {
    const std::string reason = no_device_reason();
    if (!reason.empty()) GTEST_SKIP() << "no CUDA device: " << reason;
    file_ = std::make_unique<GoldenFile>(ucluster::test::compact_golden_path());
    const std::string prefix = GetParam().prefix;
    model_ = golden_model(*file_, prefix + "weights/");
    ASSERT_NE(model_, nullptr);
    const GoldenArray data = file_->read(prefix + "input/data");
    golden_.assign(data.values.begin(), data.values.end());
    // The golden jets, then each cut to n = 1, 2, 5, 9, 10, 11, 50, 99 particles where it has more.
    jets_ = golden_;
    for (int cut : {1, 2, 5, 9, 10, 11, 50, 99})
      for (std::size_t b = 0; b < golden_.size() / 800; ++b) {
        std::vector<float> jet(golden_.begin() + b * 800, golden_.begin() + (b + 1) * 800);
        std::fill(jet.begin() + cut * 8, jet.end(), 0.0f);
        if (real_rows(jet.data()) == cut) jets_.insert(jets_.end(), jet.begin(), jet.end());
      }
  }
  void TearDown() override { ucluster_model_destroy(model_); }
  int64_t n_jets() const { return int64_t(jets_.size() / 800); }

  std::unique_ptr<GoldenFile> file_;
  ucluster_model* model_ = nullptr;
  std::vector<float> golden_, jets_;
};

TEST_P(CudaSession, MatchesTheCpuSessionOnGoldenJets) {
  ucluster_session* cpu = session(model_, UCLUSTER_DEVICE_CPU, n_jets());
  ucluster_session* cuda = session(model_, UCLUSTER_DEVICE_CUDA, n_jets());
  ASSERT_NE(cuda, nullptr);
  expect_matches_cpu(run(cuda, jets_), run(cpu, jets_), GetParam().name);
  ucluster_session_destroy(cuda);
  ucluster_session_destroy(cpu);
}

TEST_P(CudaSession, RepeatedRunsAreBitIdentical) {
  ucluster_session* cuda = session(model_, UCLUSTER_DEVICE_CUDA, n_jets());
  ASSERT_NE(cuda, nullptr);
  const Outputs first = run(cuda, jets_);
  run(cuda, std::vector<float>(jets_.begin() + 800, jets_.begin() + 800 * 4));  // another batch in between
  EXPECT_TRUE(run(cuda, jets_) == first);
  ucluster_session_destroy(cuda);
}

TEST_P(CudaSession, RunsOnTheCallersStream) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaSuccess, cudaStreamCreate(&stream));
  ucluster_session* own = session(model_, UCLUSTER_DEVICE_CUDA, n_jets());
  ucluster_session* callers = session(model_, UCLUSTER_DEVICE_CUDA, n_jets(), stream);
  ASSERT_NE(callers, nullptr);
  EXPECT_TRUE(run(callers, jets_) == run(own, jets_));
  EXPECT_EQ(cudaSuccess, cudaStreamQuery(stream)) << "the run returns with the stream's work done";
  ucluster_session_destroy(callers);
  ucluster_session_destroy(own);
  EXPECT_EQ(cudaSuccess, cudaStreamDestroy(stream));
}

TEST_P(CudaSession, BatchesSmallerThanMaxBatch) {
  ucluster_session* cuda = session(model_, UCLUSTER_DEVICE_CUDA, n_jets() + 5);
  ASSERT_NE(cuda, nullptr);
  const Outputs all = run(cuda, jets_);
  for (int64_t n : {int64_t(1), int64_t(3), n_jets() - 1}) {
    const int64_t first = n_jets() - n;  // the last n jets
    const Outputs part = run(cuda, std::vector<float>(jets_.begin() + first * 800, jets_.end()));
    for (int64_t b = 0; b < n; ++b) {
      EXPECT_EQ(part.cluster[b], all.cluster[first + b]) << "batch of " << n << ", jet " << b;
      EXPECT_EQ(0, std::memcmp(&part.logits[b * 20], &all.logits[(first + b) * 20], 20 * sizeof(float)))
          << "batch of " << n << ", jet " << b << ": a jet's result depends on its batch";
    }
  }
  ucluster_session_destroy(cuda);
}

TEST_P(CudaSession, FourMomentaAsOnTheCpu) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> pt(1.0, 80.0), eta(-0.4, 0.4), phi(-0.4, 0.4);
  const int counts[] = {1, 7, 10, 11, 42, 100};
  std::vector<std::vector<double>> columns(4 * 6);
  std::vector<ucluster_jet> jets;
  for (int j = 0; j < 6; ++j) {
    std::vector<double>&p = columns[4 * j], &e = columns[4 * j + 1], &f = columns[4 * j + 2], &en = columns[4 * j + 3];
    for (int i = 0; i < counts[j]; ++i) p.push_back(pt(rng));
    std::sort(p.begin(), p.end(), std::greater<double>());  // decreasing pt, as HLS4ML
    double px = 0, py = 0, pz = 0, energy = 0;
    for (int i = 0; i < counts[j]; ++i) {
      e.push_back(1.0 + eta(rng));
      f.push_back(0.5 + phi(rng));
      en.push_back(p[i] * std::cosh(e.back()));
      px += p[i] * std::cos(f.back());
      py += p[i] * std::sin(f.back());
      pz += p[i] * std::sinh(e.back());
      energy += en.back();
    }
    const double jet_pt = std::hypot(px, py);
    jets.push_back({p.data(), e.data(), f.data(), en.data(), counts[j], jet_pt, std::asinh(pz / jet_pt),
                    std::atan2(py, px), energy});
  }
  ucluster_session* cpu = session(model_, UCLUSTER_DEVICE_CPU, 6);
  ucluster_session* cuda = session(model_, UCLUSTER_DEVICE_CUDA, 6);
  ASSERT_NE(cuda, nullptr);
  Outputs a(6), b(6);
  const ucluster_outputs va = a.view(), vb = b.view();
  ASSERT_EQ(UCLUSTER_OK, ucluster_run_jets(cuda, jets.data(), 6, &va)) << ucluster_last_error();
  ASSERT_EQ(UCLUSTER_OK, ucluster_run_jets(cpu, jets.data(), 6, &vb)) << ucluster_last_error();
  expect_matches_cpu(a, b, std::string(GetParam().name) + " four-momenta");
  ucluster_session_destroy(cuda);
  ucluster_session_destroy(cpu);
}

TEST_P(CudaSession, BadInputRefusedAsOnTheCpu) {
  ucluster_session* cpu = session(model_, UCLUSTER_DEVICE_CPU, 4);
  ucluster_session* cuda = session(model_, UCLUSTER_DEVICE_CUDA, 4);
  ASSERT_NE(cuda, nullptr);
  std::vector<float> bad(jets_.begin(), jets_.begin() + 4 * 800);
  bad[2 * 800 + 5 * 8 + 3] = std::numeric_limits<float>::quiet_NaN();
  Outputs out(4);
  const ucluster_outputs v = out.view();
  EXPECT_EQ(UCLUSTER_ERROR_BAD_INPUT, ucluster_run_features(cpu, bad.data(), 4, &v));
  const std::string cpu_message = ucluster_last_error();
  EXPECT_EQ(UCLUSTER_ERROR_BAD_INPUT, ucluster_run_features(cuda, bad.data(), 4, &v));
  EXPECT_EQ(cpu_message, ucluster_last_error());
  EXPECT_TRUE(out == Outputs(4)) << "outputs written after a refusal";
  EXPECT_EQ(UCLUSTER_ERROR_INVALID_ARGUMENT, ucluster_run_features(cuda, jets_.data(), 5, &v));
  ucluster_session_destroy(cuda);
  ucluster_session_destroy(cpu);
}

INSTANTIATE_TEST_SUITE_P(Golden, CudaSession, testing::Values(Set{"main", ""}, Set{"tiny", "tiny/"}),
                         [](const testing::TestParamInfo<Set>& info) { return std::string(info.param.name); });

}  // namespace
