// Round trip: toy generator -> raw HLS4ML files -> prepare-data -> loader (library and tools).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "io/file_source.h"
#include "io/prepare.h"
#include "io/preprocess.h"
#include "io/raw_file.h"
#include "io/toy/dataset.h"
#include "io/toy_files.h"
#include "io/ucluster_file.h"
#include "io_test_util.h"

namespace ucluster {
namespace {

using test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

int run(const std::string& cmd) { return std::system((cmd + " > /dev/null 2>&1").c_str()); }

struct Prepared {
  TempDir dir;
  std::vector<std::string> raw_files;
  jets::PrepareResult result;
};

// 300 toy jets in 3 raw files, prepared into train/test.
void prepare(Prepared& p, bool shuffle = false, std::int64_t chunk = 64) {
  toy::ToyFilesOptions t;
  t.out_dir = p.dir / "toy";
  t.jets = 300;
  t.per_file = 120;
  t.seed = 9;
  t.threads = 2;
  t.gzip_level = 1;
  p.raw_files = toy::write_toy_files(t).files;
  jets::PrepareOptions o;
  o.inputs = {p.dir / "toy/train"};
  o.out_dir = p.dir / (shuffle ? "shuffled" : "prepared");
  o.shuffle = shuffle;
  o.seed = 21;
  o.chunk_rows = chunk;
  p.result = jets::prepare_data(o);
}

TEST(RoundTrip, ToyToRawToPrepareToLoader) {
  Prepared p;
  prepare(p);
  ASSERT_EQ(p.raw_files.size(), 3u);
  EXPECT_EQ(p.result.scanned, 300);
  const std::int64_t selected = p.result.selected;
  ASSERT_GT(selected, 280);  // nearly every toy W/Z/top jet has 10 < m < 200
  ASSERT_EQ(p.result.outputs.size(), 2u);
  EXPECT_EQ(p.result.rows[0], static_cast<std::int64_t>(0.8 * selected));
  EXPECT_EQ(p.result.rows[0] + p.result.rows[1], selected);

  // Expected rows, recomputed from the raw files in file order (spec 1.7: no shuffle).
  std::vector<std::vector<float>> data;
  std::vector<int> truth, pid;
  std::vector<float> mass;
  for (const std::string& f : p.raw_files) {
    const jets::RawFile raw(f);
    EXPECT_EQ(raw.n_particles(), 100);
    std::vector<double> cons, rows;
    raw.read_constituents(0, raw.n_jets(), cons);
    raw.read_jet_rows(0, raw.n_jets(), rows);
    for (std::int64_t i = 0; i < raw.n_jets(); ++i) {
      const double* r = rows.data() + i * jets::kJetColumns;
      if (!jets::keep_jet(r)) continue;
      std::vector<float> feat(100 * jets::kFeatures);
      jets::particle_features(cons.data() + i * 100 * jets::kRawParticleColumns, 100, feat.data());
      data.push_back(feat);
      truth.push_back(jets::truth_class(r));
      pid.push_back(jets::mass_bin(r[jets::kJetMass]));
      mass.push_back(static_cast<float>(r[jets::kJetMass]));
    }
  }
  ASSERT_EQ(static_cast<std::int64_t>(data.size()), selected);

  const jets::UclusterFile train(p.result.outputs[0]), test(p.result.outputs[1]);
  EXPECT_EQ(train.chunk_rows(), 64);
  EXPECT_EQ(train.n_features(), jets::kFeatures);
  for (int split = 0; split < 2; ++split) {
    const jets::UclusterFile& f = split == 0 ? train : test;
    const std::int64_t offset = split == 0 ? 0 : p.result.rows[0];
    const std::int64_t n = f.n_jets();
    std::vector<float> d(n * 100 * jets::kFeatures), m(n), g(n * 4);
    std::vector<std::int32_t> pi(n), tr(n);
    f.read(0, n, d.data(), pi.data(), tr.data(), m.data(), g.data(), true);
    for (std::int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::equal(data[offset + i].begin(), data[offset + i].end(), d.begin() + i * 800)) << "row " << i;
      ASSERT_EQ(tr[i], truth[offset + i]);
      ASSERT_EQ(pi[i], pid[offset + i]);
      ASSERT_EQ(m[i], mass[offset + i]);
    }
  }

  // Streaming loader over 3 ranks (evaluation epoch) sees every train row once, with its data.
  std::set<std::int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    LoaderOptions o;
    o.batch_size = 16;
    o.world = 3;
    o.rank = r;
    o.drop_last = false;
    o.shuffle = true;
    auto loader = open_loader(p.result.outputs[0], o);
    auto mem = open_loader(p.result.outputs[0], o, true);
    Batch b, bm;
    while (loader->next(b)) {
      ASSERT_TRUE(mem->next(bm));
      ASSERT_EQ(b.rows, bm.rows);
      ASSERT_EQ(b.data, bm.data);
      for (std::int64_t i = 0; i < b.size; ++i) {
        ASSERT_TRUE(seen.insert(b.rows[i]).second);
        ASSERT_TRUE(std::equal(b.data.begin() + i * 800, b.data.begin() + (i + 1) * 800, data[b.rows[i]].begin()));
        ASSERT_EQ(b.truth[i], truth[b.rows[i]]);
        ASSERT_EQ(b.target[i], pid[b.rows[i]]);
        ASSERT_EQ(b.mass[i], mass[b.rows[i]]);
      }
    }
    ASSERT_FALSE(mem->next(bm));
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), p.result.rows[0]);

  // The in-memory toy data set is the same as the file route (before the split).
  const JetArrays mem_set = toy::make_toy_dataset(9, 300, 100, 2);
  ASSERT_EQ(mem_set.n, selected);
  for (std::int64_t i = 0; i < selected; ++i) {
    ASSERT_TRUE(std::equal(data[i].begin(), data[i].end(), mem_set.data.begin() + i * 800)) << "row " << i;
    ASSERT_EQ(mem_set.truth[i], truth[i]);
    ASSERT_EQ(mem_set.target[i], pid[i]);
    ASSERT_EQ(mem_set.mass[i], mass[i]);
  }

  // A UCluster-layout file is accepted as input and comes out unchanged (eval: no split).
  jets::PrepareOptions again;
  again.inputs = {p.result.outputs[0]};
  again.out_dir = p.dir / "again";
  again.eval = true;
  const auto r2 = jets::prepare_data(again);
  ASSERT_EQ(r2.rows[0], train.n_jets());
  const jets::UclusterFile back(r2.outputs[0]);
  std::vector<float> d1(train.n_jets() * 800), d2(train.n_jets() * 800);
  train.read(0, train.n_jets(), d1.data(), nullptr, nullptr, nullptr, nullptr, false);
  back.read(0, back.n_jets(), d2.data(), nullptr, nullptr, nullptr, nullptr, false);
  EXPECT_EQ(d1, d2);
}

TEST(RoundTrip, SeededShuffleKeepsTheJetsAndIsReproducible) {
  Prepared a, b, plain;
  prepare(a, true);
  prepare(b, true);
  prepare(plain, false);
  // Same seed, same rows (the files differ only in the input paths recorded in the attribute).
  for (std::size_t s = 0; s < 2; ++s) {
    const jets::UclusterFile fa(a.result.outputs[s]), fb(b.result.outputs[s]);
    ASSERT_EQ(fa.n_jets(), fb.n_jets());
    std::vector<float> da(fa.n_jets() * 800), db(fb.n_jets() * 800);
    fa.read(0, fa.n_jets(), da.data(), nullptr, nullptr, nullptr, nullptr, false);
    fb.read(0, fb.n_jets(), db.data(), nullptr, nullptr, nullptr, nullptr, false);
    EXPECT_EQ(da, db);
  }
  auto masses = [](const Prepared& p) {
    std::multiset<float> m;
    std::vector<float> first;
    for (const auto& path : p.result.outputs) {
      const jets::UclusterFile f(path);
      std::vector<float> v(f.n_jets());
      f.read(0, f.n_jets(), nullptr, nullptr, nullptr, v.data(), nullptr, false);
      m.insert(v.begin(), v.end());
      if (first.empty()) first = v;
    }
    return std::make_pair(m, first);
  };
  const auto ma = masses(a), mp = masses(plain);
  EXPECT_EQ(ma.first, mp.first);    // the same jets...
  EXPECT_NE(ma.second, mp.second);  // ...in another order
}

TEST(RoundTripTools, MakeToyJetsThenPrepareDataFromTheCommandLine) {
  TempDir dir;
  const std::string toy = UCLUSTER_MAKE_TOY_JETS, prep = UCLUSTER_PREPARE_DATA;
  ASSERT_EQ(run(toy + " --help"), 0);
  ASSERT_EQ(run(prep + " --help"), 0);
  ASSERT_EQ(run(toy + " --jets 250 --val-jets 60 --per-file 100 --threads 1 --out " + (dir / "t1")), 0);
  ASSERT_EQ(run(toy + " --jets 250 --val-jets 60 --per-file 100 --threads 2 --out " + (dir / "t2")), 0);
  EXPECT_EQ(dir.entries("t1/train"), (std::vector<std::string>{"jetImage_0_100p_0_100.h5", "jetImage_1_100p_100_200.h5",
                                                                "jetImage_2_100p_200_250.h5"}));
  EXPECT_EQ(dir.entries("t1/val"), (std::vector<std::string>{"jetImage_0_100p_0_60.h5"}));
  for (const auto& name : dir.entries("t1/train")) {
    EXPECT_EQ(slurp(dir / ("t1/train/" + name)), slurp(dir / ("t2/train/" + name))) << "same seed, same bytes";
  }
  EXPECT_NE(slurp(dir / "t1/train/jetImage_0_100p_0_100.h5"), slurp(dir / "t1/val/jetImage_0_100p_0_60.h5"));
  // Refuses to mix with an existing set unless asked.
  EXPECT_NE(run(toy + " --jets 10 --out " + (dir / "t1")), 0);
  ASSERT_EQ(run(prep + " --out " + (dir / "prep") + " " + (dir / "t1/train")), 0);
  ASSERT_EQ(run(prep + " --eval --out " + (dir / "prep") + " " + (dir / "t1/val")), 0);
  EXPECT_EQ(dir.entries("prep"), (std::vector<std::string>{"eval_multi_20v_100P.h5", "test_multi_20v_100P.h5",
                                                            "train_multi_20v_100P.h5"}));
  const jets::UclusterFile train(dir / "prep/train_multi_20v_100P.h5");
  const jets::UclusterFile test(dir / "prep/test_multi_20v_100P.h5");
  EXPECT_EQ(train.n_jets() + test.n_jets() > 240, true);
  LoaderOptions o;
  o.batch_size = 32;
  auto loader = open_loader(dir / "prep/train_multi_20v_100P.h5", o);
  Batch b;
  int steps = 0;
  while (loader->next(b)) ++steps;
  EXPECT_EQ(steps, train.n_jets() / 32);
  // Images on request.
  ASSERT_EQ(run(toy + " --jets 20 --images --out " + (dir / "img")), 0);
  const h5::File f = h5::File::open(dir / "img/train/jetImage_0_100p_0_20.h5");
  EXPECT_EQ(f.list(), (std::vector<std::string>{"jetConstituentList", "jetFeatureNames", "jetImage", "jetImageECAL",
                                                "jetImageHCAL", "jets", "particleFeatureNames"}));
  EXPECT_EQ(f.open_dataset("jetImage").shape(), (h5::Dims{20, 100, 100}));
}

}  // namespace
}  // namespace ucluster

namespace ucluster {
namespace {

TEST(RoundTrip, ParticleCountComesFromTheFileShape) {
  test::TempDir dir;
  auto j = test::toy_jets(40, 30);  // a 30-particle file, like the 30p sibling record
  test::write_raw(dir / "jets_30p.h5", j, 1);
  jets::PrepareOptions o;
  o.inputs = {dir / "jets_30p.h5"};
  o.out_dir = dir / "out";
  o.eval = true;
  o.chunk_rows = 16;
  const auto r = jets::prepare_data(o);
  const jets::UclusterFile f(r.outputs[0]);
  EXPECT_EQ(f.n_particles(), 30);
  EXPECT_EQ(f.chunk_rows(), 16);
  LoaderOptions lo;
  lo.batch_size = 8;
  auto loader = open_loader(r.outputs[0], lo);
  Batch b;
  ASSERT_TRUE(loader->next(b));
  EXPECT_EQ(b.n_particles, 30);
  EXPECT_EQ(b.data.size(), 8u * 30 * jets::kFeatures);
}

}  // namespace
}  // namespace ucluster

namespace ucluster {
namespace {

// A file as the original prepare_data_multi.py writes it: contiguous datasets, float64 label,
// pid (with the per-file compacted ids) and masses.
TEST(RoundTrip, FilesFromTheOriginalScriptAreAccepted) {
  test::TempDir dir;
  const std::int64_t n = 40;
  std::vector<float> data(n * 100 * jets::kFeatures);
  std::vector<double> label(n * 3, 0.0), pid(n), masses(n), global(n * 4, 0.5);
  for (std::int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 100 * jets::kFeatures; ++k) data[i * 800 + k] = k < 40 * 8 ? 0.01f * (i + k % 7) : 0.0f;
    label[i * 3 + i % 3] = 1.0;
    masses[i] = 20.0 + 4.0 * static_cast<double>(i);
    pid[i] = std::max(0, jets::mass_bin(masses[i]) - 1);  // compacted: one bin lower than the plain index
  }
  {
    h5::File f = h5::File::create(dir / "train_multi_20v_100P.h5");
    f.create_dataset("data", h5::Element::F32, {n, 100, 8}).write(data.data());
    f.create_dataset("label", h5::Element::F64, {n, 3}).write(label.data());
    f.create_dataset("pid", h5::Element::F64, {n}).write(pid.data());
    f.create_dataset("masses", h5::Element::F64, {n}).write(masses.data());
    f.create_dataset("global", h5::Element::F64, {n, 4}).write(global.data());
    f.close();
  }
  // The loader reads it as it is (the file's own pid), in blocks, from any rank.
  LoaderOptions o;
  o.batch_size = 8;
  o.world = 2;
  o.rank = 1;
  auto loader = open_loader(dir / "train_multi_20v_100P.h5", o);
  EXPECT_EQ(loader->source().chunk_rows(), 512);  // contiguous: virtual blocks
  Batch b;
  ASSERT_TRUE(loader->next(b));
  EXPECT_EQ(b.rows[0], 20);
  EXPECT_EQ(b.truth[0], 20 % 3);
  EXPECT_EQ(b.target[0], static_cast<int>(pid[20]));
  EXPECT_EQ(b.mass[0], static_cast<float>(masses[20]));
  EXPECT_EQ(b.data[3], data[20 * 800 + 3]);
  // prepare-data re-chunks it and recomputes pid as the plain bin index.
  jets::PrepareOptions p;
  p.inputs = {dir / "train_multi_20v_100P.h5"};
  p.out_dir = dir / "out";
  p.eval = true;
  const auto r = jets::prepare_data(p);
  ASSERT_EQ(r.rows[0], n);
  const jets::UclusterFile f(r.outputs[0]);
  std::vector<std::int32_t> new_pid(n), truth(n);
  std::vector<float> d(n * 800);
  f.read(0, n, d.data(), new_pid.data(), truth.data(), nullptr, nullptr, true);
  for (std::int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(new_pid[i], jets::mass_bin(masses[i]));
    EXPECT_EQ(truth[i], i % 3);
  }
  EXPECT_EQ(d, data);
}

}  // namespace
}  // namespace ucluster
