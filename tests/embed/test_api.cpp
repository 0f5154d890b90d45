// The C API through the shared library (libucluster.so, only its exported ucluster_* functions):
// golden outputs, bit-identical results across sessions, batch sizes and thread counts (own threads,
// a caller's parallel-for hook, 8 threads with 8 sessions on one model), no heap allocation after
// session creation (counted by this executable's operator new), every bad input leaving the outputs
// untouched, corrupt model files, options, versions and the four-momentum path.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/embed/golden_model.h"
#include "ucluster/ucluster.h"

// Heap allocations of this process while `counting` is set: the library's operator new calls come
// here too (the executable's definition takes precedence over libstdc++'s).
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

// GCC cannot see that these replacements pair malloc with free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace ucluster {
namespace {

constexpr int kJetFloats = UCLUSTER_MAX_PARTICLES * UCLUSTER_NUM_FEATURES;

struct Results {
  std::vector<std::int32_t> cluster;
  std::vector<float> distances, latent, logits;
  explicit Results(std::int64_t n, float fill = 0.0f)
      : cluster(n, -7), distances(n * 3, fill), latent(n * 3, fill), logits(n * 20, fill) {}
  ucluster_outputs outputs(std::int64_t first = 0) {
    return {cluster.data() + first, distances.data() + first * 3, latent.data() + first * 3,
            logits.data() + first * 20};
  }
  bool operator==(const Results& o) const {
    return cluster == o.cluster && std::memcmp(distances.data(), o.distances.data(), distances.size() * 4) == 0 &&
           std::memcmp(latent.data(), o.latent.data(), latent.size() * 4) == 0 &&
           std::memcmp(logits.data(), o.logits.data(), logits.size() * 4) == 0;
  }
};

class Api : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = new test::GoldenFile(test::compact_golden_path());
    bytes_ = new std::vector<unsigned char>(test::golden_model_bytes(*file_, "weights"));
    const test::GoldenArray data = file_->read("input/data");
    // The 16 golden jets, then the same jets cut to 1, 5, 11 and 50 particles: 80 jets.
    jets_ = new std::vector<float>(data.values.begin(), data.values.end());
    for (int cut : {1, 5, 11, 50})
      for (int b = 0; b < 16; ++b) {
        std::vector<float> jet(data.values.begin() + b * kJetFloats, data.values.begin() + (b + 1) * kJetFloats);
        std::fill(jet.begin() + cut * 8, jet.end(), 0.0f);
        jets_->insert(jets_->end(), jet.begin(), jet.end());
      }
  }
  static void TearDownTestSuite() {
    delete file_;
    delete bytes_;
    delete jets_;
  }
  void SetUp() override { ASSERT_EQ(ucluster_model_load_buffer(bytes_->data(), bytes_->size(), &model_), UCLUSTER_OK) << ucluster_last_error(); }
  void TearDown() override { ucluster_model_destroy(model_); }

  std::int64_t n_jets() const { return static_cast<std::int64_t>(jets_->size() / kJetFloats); }
  const float* jet(std::int64_t b) const { return jets_->data() + b * kJetFloats; }

  ucluster_session* session(std::int64_t max_batch, int threads = 1) {
    ucluster_session_options o;
    ucluster_session_options_init(&o);
    o.max_batch = max_batch;
    o.num_threads = threads;
    ucluster_session* s = nullptr;
    EXPECT_EQ(ucluster_session_create(model_, &o, &s), UCLUSTER_OK) << ucluster_last_error();
    return s;
  }

  // All jets through one session in batches of `batch`.
  Results run_all(ucluster_session* s, std::int64_t batch) {
    Results r(n_jets());
    for (std::int64_t first = 0; first < n_jets(); first += batch) {
      const std::int64_t n = std::min(batch, n_jets() - first);
      const ucluster_outputs out = r.outputs(first);
      EXPECT_EQ(ucluster_run_features(s, jet(first), n, &out), UCLUSTER_OK) << ucluster_last_error();
    }
    return r;
  }

  static test::GoldenFile* file_;
  static std::vector<unsigned char>* bytes_;
  static std::vector<float>* jets_;
  ucluster_model* model_ = nullptr;
};
test::GoldenFile* Api::file_ = nullptr;
std::vector<unsigned char>* Api::bytes_ = nullptr;
std::vector<float>* Api::jets_ = nullptr;

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// The golden README's inference tolerance, 2e-5 * max|ref| (section 8), and identical clusters.
TEST_F(Api, GoldenJetsGiveTheReferenceOutputs) {
  ucluster_session* s = session(16);
  Results r(16);
  const ucluster_outputs out = r.outputs();
  ASSERT_EQ(ucluster_run_features(s, jet(0), 16, &out), UCLUSTER_OK) << ucluster_last_error();
  const test::GoldenArray z = file_->read("infer/z"), d = file_->read("infer/dist"), l = file_->read("infer/logits"),
                          c = file_->read("infer/cluster");
  for (int i = 0; i < 48; ++i) {
    EXPECT_NEAR(r.latent[i], z.values[i], 2e-5 * max_abs(z.values)) << i;
    EXPECT_NEAR(r.distances[i], d.values[i], 2e-5 * max_abs(d.values)) << i;
  }
  for (int i = 0; i < 320; ++i) EXPECT_NEAR(r.logits[i], l.values[i], 2e-5 * max_abs(l.values)) << i;
  for (int b = 0; b < 16; ++b) EXPECT_EQ(r.cluster[b], c.values[b]) << "jet " << b;
  float mu[9];
  ASSERT_EQ(ucluster_model_centroids(model_, mu), UCLUSTER_OK);
  const test::GoldenArray ref_mu = file_->read("weights/mu");
  for (int i = 0; i < 9; ++i) EXPECT_EQ(mu[i], static_cast<float>(ref_mu.values[i]));
  EXPECT_EQ(ucluster_model_inverse_temperature(model_), 10.0);
  ucluster_session_destroy(s);
}

// A caller's parallel-for: `workers` std::threads, worker w runs the w-th contiguous share.
struct Hook {
  int workers;
  static void run(void* context, std::int64_t n, ucluster_parallel_body body, void* body_context) {
    const int workers = static_cast<Hook*>(context)->workers;
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back([=] { body(body_context, n * w / workers, n * (w + 1) / workers, w); });
    for (std::thread& t : threads) t.join();
  }
};

TEST_F(Api, ResultsAreBitIdenticalAcrossSessionsBatchesAndThreads) {
  ucluster_session* whole = session(n_jets());
  const Results reference = run_all(whole, n_jets());
  EXPECT_TRUE(run_all(whole, n_jets()) == reference) << "a second run of the same session differs";
  ucluster_session* one = session(1);
  EXPECT_TRUE(run_all(one, 1) == reference) << "one jet at a time differs";
  ucluster_session* seven = session(7);
  EXPECT_TRUE(run_all(seven, 7) == reference) << "batches of 7 differ";
  for (int threads : {2, 3, 8}) {
    ucluster_session* pooled = session(n_jets(), threads);
    EXPECT_TRUE(run_all(pooled, n_jets()) == reference) << threads << " own threads differ";
    ucluster_session_destroy(pooled);
  }
  Hook hook{4};
  ucluster_session_options o;
  ucluster_session_options_init(&o);
  o.max_batch = n_jets();
  o.parallel_for = &Hook::run;
  o.parallel_for_context = &hook;
  o.max_workers = 4;
  ucluster_session* hooked = nullptr;
  ASSERT_EQ(ucluster_session_create(model_, &o, &hooked), UCLUSTER_OK) << ucluster_last_error();
  EXPECT_TRUE(run_all(hooked, n_jets()) == reference) << "the parallel-for hook differs";
  for (ucluster_session* s : {whole, one, seven, hooked}) ucluster_session_destroy(s);
}

TEST_F(Api, EightThreadsWithEightSessionsOnOneModelEqualOneThread) {
  ucluster_session* single = session(n_jets());
  const Results reference = run_all(single, n_jets());
  ucluster_session_destroy(single);
  std::vector<Results> results(8, Results(n_jets()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      ucluster_session* s = session(16);
      for (int repeat = 0; repeat < 3; ++repeat) results[t] = run_all(s, 16);
      ucluster_session_destroy(s);
    });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_TRUE(results[t] == reference) << "thread " << t;
}

TEST_F(Api, RunningAllocatesNothingAfterSessionCreation) {
  ucluster_session* s = session(n_jets(), 2);
  Results r(n_jets());
  const ucluster_outputs out = r.outputs();
  std::vector<double> pt(40), eta(40), phi(40), e(40);
  for (int i = 0; i < 40; ++i) {
    pt[i] = 100.0 / (i + 1);
    eta[i] = 0.01 * i;
    phi[i] = -0.02 * i;
    e[i] = pt[i] * std::cosh(eta[i]);
  }
  const ucluster_jet four{pt.data(), eta.data(), phi.data(), e.data(), 40, 300.0, 0.1, -0.1, 350.0};
  ASSERT_EQ(ucluster_run_features(s, jet(0), n_jets(), &out), UCLUSTER_OK);  // warm: first-touch of lazy state
  allocations = 0;
  counting = true;
  for (int repeat = 0; repeat < 3; ++repeat) {
    EXPECT_EQ(ucluster_run_features(s, jet(0), n_jets(), &out), UCLUSTER_OK);
    EXPECT_EQ(ucluster_run_jets(s, &four, 1, &out), UCLUSTER_OK);
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "heap allocations while running";
  ucluster_session_destroy(s);
}

// A bad call must fail with `status` and a message containing `fragment`, and write nothing.
void expect_refused(ucluster_status got, ucluster_status status, const std::string& fragment, const Results& r,
                    const Results& untouched) {
  EXPECT_EQ(got, status) << ucluster_status_name(got) << ": " << ucluster_last_error();
  EXPECT_NE(std::string(ucluster_last_error()).find(fragment), std::string::npos)
      << "message '" << ucluster_last_error() << "' lacks '" << fragment << "'";
  EXPECT_TRUE(r == untouched) << "outputs were written";
}

TEST_F(Api, BadInputFailsNamingTheJetAndParticleAndLeavesOutputsUntouched) {
  ucluster_session* s = session(4);
  Results r(4, 123.0f);
  const Results untouched(4, 123.0f);
  const ucluster_outputs out = r.outputs();
  std::vector<float> bad(jet(0), jet(0) + 4 * kJetFloats);
  bad[(2 * 100 + 5) * 8 + 3] = std::nanf("");
  expect_refused(ucluster_run_features(s, bad.data(), 4, &out), UCLUSTER_ERROR_BAD_INPUT,
                 "jet 2, particle 5: delta R is NaN", r, untouched);
  bad[(2 * 100 + 5) * 8 + 3] = 1.0f;
  bad[(3 * 100 + 0) * 8 + 6] = -INFINITY;
  expect_refused(ucluster_run_features(s, bad.data(), 4, &out), UCLUSTER_ERROR_BAD_INPUT,
                 "jet 3, particle 0: log pt is infinite", r, untouched);
  std::fill(bad.begin() + 3 * kJetFloats, bad.end(), 0.0f);
  expect_refused(ucluster_run_features(s, bad.data(), 4, &out), UCLUSTER_ERROR_BAD_INPUT, "jet 3 has no particles",
                 r, untouched);
  std::fill(bad.begin() + 3 * kJetFloats, bad.end(), 3e38f);  // finite, but overflows inside the network
  expect_refused(ucluster_run_features(s, bad.data(), 4, &out), UCLUSTER_ERROR_BAD_INPUT,
                 "jet 3 gives a NaN or infinite output", r, untouched);
  expect_refused(ucluster_run_features(s, jet(0), 5, &out), UCLUSTER_ERROR_INVALID_ARGUMENT,
                 "larger than the session's max_batch 4", r, untouched);
  expect_refused(ucluster_run_features(s, jet(0), -1, &out), UCLUSTER_ERROR_INVALID_ARGUMENT, "n_jets is -1", r,
                 untouched);
  expect_refused(ucluster_run_features(nullptr, jet(0), 1, &out), UCLUSTER_ERROR_INVALID_ARGUMENT, "session is NULL",
                 r, untouched);
  expect_refused(ucluster_run_features(s, nullptr, 1, &out), UCLUSTER_ERROR_INVALID_ARGUMENT, "input is NULL", r,
                 untouched);
  expect_refused(ucluster_run_features(s, jet(0), 1, nullptr), UCLUSTER_ERROR_INVALID_ARGUMENT, "outputs is NULL", r,
                 untouched);

  double pt[3] = {50, 30, 20}, eta[3] = {0.1, 0.0, -0.1}, phi[3] = {0.0, 0.1, -0.1}, e[3] = {51, 31, 21};
  ucluster_jet jets[2] = {{pt, eta, phi, e, 3, 100, 0, 0, 103}, {pt, eta, phi, e, 3, 100, 0, 0, 103}};
  jets[1].count = 0;
  expect_refused(ucluster_run_jets(s, jets, 2, &out), UCLUSTER_ERROR_BAD_INPUT, "jet 1: count is 0", r, untouched);
  jets[1].count = 101;
  expect_refused(ucluster_run_jets(s, jets, 2, &out), UCLUSTER_ERROR_BAD_INPUT, "jet 1: count is 101", r, untouched);
  jets[1].count = 3;
  double nan_eta[3] = {0.1, std::nan(""), 0.0};
  jets[1].eta = nan_eta;
  expect_refused(ucluster_run_jets(s, jets, 2, &out), UCLUSTER_ERROR_BAD_INPUT, "jet 1: particle 1: eta is NaN", r,
                 untouched);
  jets[1].eta = eta;
  jets[1].pt = nullptr;
  expect_refused(ucluster_run_jets(s, jets, 2, &out), UCLUSTER_ERROR_BAD_INPUT, "jet 1", r, untouched);
  jets[1].pt = pt;
  EXPECT_EQ(ucluster_run_jets(s, jets, 2, &out), UCLUSTER_OK) << ucluster_last_error();
  EXPECT_EQ(std::string(ucluster_last_error()), "") << "a success clears the message";
  ucluster_session_destroy(s);
}

TEST_F(Api, FourMomentaGiveTheSameResultsAsTheirFeatures) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int n = 24;
  std::vector<std::vector<double>> pt(n), eta(n), phi(n), e(n);
  std::vector<ucluster_jet> jets(n);
  std::vector<float> features(n * kJetFloats);
  for (int j = 0; j < n; ++j) {
    const int count = 1 + j * 4;  // 1..93 constituents
    double jpx = 0, jpy = 0, jpz = 0, je = 0;
    for (int i = 0; i < count; ++i) {
      pt[j].push_back(200.0 * std::exp(-0.1 * i) * (0.5 + u(rng)));
      eta[j].push_back(0.3 + 0.4 * (u(rng) - 0.5));
      phi[j].push_back(1.0 + 0.4 * (u(rng) - 0.5));
      e[j].push_back(pt[j][i] * std::cosh(eta[j][i]));
      jpx += pt[j][i] * std::cos(phi[j][i]);
      jpy += pt[j][i] * std::sin(phi[j][i]);
      jpz += pt[j][i] * std::sinh(eta[j][i]);
      je += e[j][i];
    }
    std::sort(pt[j].begin(), pt[j].end(), std::greater<>());
    const double jpt = std::hypot(jpx, jpy);
    jets[j] = {pt[j].data(), eta[j].data(), phi[j].data(), e[j].data(), count, jpt, std::asinh(jpz / jpt),
               std::atan2(jpy, jpx), je};
    ASSERT_EQ(ucluster_jet_features(&jets[j], features.data() + j * kJetFloats), UCLUSTER_OK) << ucluster_last_error();
  }
  ucluster_session* s = session(n);
  Results from_jets(n), from_features(n);
  const ucluster_outputs a = from_jets.outputs(), b = from_features.outputs();
  ASSERT_EQ(ucluster_run_jets(s, jets.data(), n, &a), UCLUSTER_OK) << ucluster_last_error();
  ASSERT_EQ(ucluster_run_features(s, features.data(), n, &b), UCLUSTER_OK) << ucluster_last_error();
  EXPECT_TRUE(from_jets == from_features);
  ucluster_session_destroy(s);
}

TEST_F(Api, BadOptionsAreRefused) {
  ucluster_session_options o;
  ucluster_session* s = reinterpret_cast<ucluster_session*>(&o);
  auto refused = [&](const std::string& fragment) {
    EXPECT_EQ(ucluster_session_create(model_, &o, &s), UCLUSTER_ERROR_INVALID_ARGUMENT) << fragment;
    EXPECT_NE(std::string(ucluster_last_error()).find(fragment), std::string::npos) << ucluster_last_error();
    EXPECT_EQ(s, nullptr) << "no session on failure";
  };
  ucluster_session_options_init(&o);
  o.max_batch = 0;
  refused("max_batch is 0");
  ucluster_session_options_init(&o);
  o.num_threads = 0;
  refused("num_threads is 0");
  ucluster_session_options_init(&o);
  o.num_threads = 2;
  o.parallel_for = &Hook::run;
  refused("not both");
  ucluster_session_options_init(&o);
  const int unknown = 9;  // as a C caller can store it (a C++ enum value out of range would be UB here)
  std::memcpy(&o.device, &unknown, sizeof unknown);
  refused("unknown device 9");
  EXPECT_EQ(ucluster_session_create(nullptr, nullptr, &s), UCLUSTER_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ucluster_session_create(model_, nullptr, nullptr), UCLUSTER_ERROR_INVALID_ARGUMENT);
}

TEST_F(Api, CorruptOrMissingModelFilesAreRefusedSayingWhich) {
  ucluster_model* m = reinterpret_cast<ucluster_model*>(this);
  auto refused = [&](const std::vector<unsigned char>& b, ucluster_status status, const std::string& fragment) {
    EXPECT_EQ(ucluster_model_load_buffer(b.data(), b.size(), &m), status) << fragment;
    EXPECT_NE(std::string(ucluster_last_error()).find(fragment), std::string::npos) << ucluster_last_error();
    EXPECT_EQ(m, nullptr);
  };
  std::vector<unsigned char> b = *bytes_;
  refused(std::vector<unsigned char>(b.begin(), b.begin() + b.size() / 2), UCLUSTER_ERROR_BAD_MODEL, "runcated");
  b[b.size() - 5] ^= 0x40;
  refused(b, UCLUSTER_ERROR_BAD_MODEL, "checksum");
  b = *bytes_;
  b[8] = 2;
  refused(b, UCLUSTER_ERROR_BAD_MODEL, "version");
  EXPECT_EQ(ucluster_model_load_file("/nonexistent/model.ucm", &m), UCLUSTER_ERROR_IO);
  EXPECT_NE(std::string(ucluster_last_error()).find("/nonexistent/model.ucm"), std::string::npos);
  EXPECT_EQ(ucluster_model_load_file(nullptr, &m), UCLUSTER_ERROR_INVALID_ARGUMENT);
}

TEST(ApiVersion, VersionsMatchTheProjectAndTheHeader) {
  EXPECT_EQ(std::string(ucluster_version()), UCLUSTER_PROJECT_VERSION);
  EXPECT_EQ(std::string(ucluster_version()), std::to_string(UCLUSTER_VERSION_MAJOR) + "." +
                                                 std::to_string(UCLUSTER_VERSION_MINOR) + "." +
                                                 std::to_string(UCLUSTER_VERSION_PATCH));
  EXPECT_EQ(ucluster_model_format_version(), 1u);
  EXPECT_EQ(std::string(ucluster_status_name(UCLUSTER_ERROR_BAD_INPUT)), "bad input");
}

}  // namespace
}  // namespace ucluster
