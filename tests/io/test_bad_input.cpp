// Every bad-input case: each test builds such a file in a temporary directory, runs the
// preparation through the library and through the prepare-data executable, and checks the
// message (file and problem named), the non-zero exit status and that no output is left behind.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "engine/error.h"
#include "io/file_source.h"
#include "io/h5.h"
#include "io/prepare.h"
#include "io/ucluster_file.h"
#include "io_test_util.h"

namespace ucluster {
namespace {

using test::TempDir;
using namespace ucluster::jets;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Runs prepare-data on `input` both ways; every string in `expected` must be in the message.
void expect_rejected(const TempDir& dir, const std::string& input, const std::vector<std::string>& expected,
                     bool eval = false) {
  PrepareOptions o;
  o.inputs = {input};
  o.out_dir = dir / "out";
  o.eval = eval;
  std::string msg = "(no error)";
  try {
    prepare_data(o);
  } catch (const Error& e) {
    msg = e.what();
  }
  for (const auto& s : expected) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
  EXPECT_EQ(dir.entries("out"), std::vector<std::string>{}) << "output left behind";

  const std::string err = dir / "stderr.txt";
  const std::string cmd = std::string(UCLUSTER_PREPARE_DATA) + (eval ? " --eval" : "") + " --quiet --out " +
                          (dir / "out2") + " " + input + " 2> " + err;
  const int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0) << "prepare-data exited 0";
  const std::string printed = slurp(err);
  EXPECT_EQ(printed.rfind("prepare-data: error: ", 0), 0u) << printed;
  for (const auto& s : expected) EXPECT_NE(printed.find(s), std::string::npos) << "'" << s << "' not in: " << printed;
  EXPECT_EQ(printed.find("HDF5-DIAG"), std::string::npos) << "HDF5 printed its error stack: " << printed;
  EXPECT_EQ(dir.entries("out2"), std::vector<std::string>{}) << "executable left output behind";
}

TEST(BadInput, MissingFile) {
  TempDir dir;
  expect_rejected(dir, dir / "nothere.h5", {dir / "nothere.h5", "does not exist"});
}

TEST(BadInput, NotAnHdf5File) {
  TempDir dir;
  std::ofstream(dir / "text.h5") << "jetConstituentList,jets\n1,2,3\n";
  expect_rejected(dir, dir / "text.h5", {dir / "text.h5", "is not an HDF5 file"});
  std::ofstream(dir / "empty.h5").close();
  expect_rejected(dir, dir / "empty.h5", {dir / "empty.h5", "the file is empty"});
}

TEST(BadInput, TruncatedFile) {
  TempDir dir;
  test::write_raw(dir / "full.h5", test::toy_jets(20));
  const std::string bytes = slurp(dir / "full.h5");
  std::ofstream(dir / "cut.h5", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  expect_rejected(dir, dir / "cut.h5", {dir / "cut.h5", "truncated"});
}

TEST(BadInput, MissingDataset) {
  TempDir dir;
  const auto j = test::toy_jets(5);
  {
    h5::File f = h5::File::create(dir / "nojets.h5");
    f.create_dataset("jetConstituentList", h5::Element::F64, {5, 100, 16}).write(j.cons.data());
    f.write_strings("particleFeatureNames", {"j1_px"});
    f.write_strings("jetFeatureNames", {"j_pt"});
    f.close();
  }
  expect_rejected(dir, dir / "nojets.h5", {dir / "nojets.h5", "has no dataset 'jets'"});
  {
    h5::File f = h5::File::create(dir / "other.h5");
    f.create_dataset("something", h5::Element::F32, {3});
    f.close();
  }
  expect_rejected(dir, dir / "other.h5", {dir / "other.h5", "neither a raw HLS4ML jet file"});
}

// A raw file with the given constituent dataset replaced.
void write_raw_with(const std::string& path, const test::RawJets& j, h5::Element cons_type, const h5::Dims& cons_shape,
                    const std::vector<std::string>& pnames) {
  h5::File f = h5::File::create(path);
  h5::Dataset c = f.create_dataset("jetConstituentList", cons_type, cons_shape, {{1, cons_shape[1], cons_shape[2]}, 4});
  std::vector<double> buf(static_cast<std::size_t>(cons_shape[0] * cons_shape[1] * cons_shape[2]), 1.0);
  c.write(buf.data());
  f.create_dataset("jets", h5::Element::F64, {j.n, kJetColumns}).write(j.rows.data());
  f.write_strings("particleFeatureNames", pnames);
  f.write_strings("jetFeatureNames", std::vector<std::string>(kJetNames.begin(), kJetNames.end()));
  f.close();
}

std::vector<std::string> particle_names() {
  std::vector<std::string> n(kParticleNames.begin(), kParticleNames.end());
  n.emplace_back("j1_pdgid");
  return n;
}

TEST(BadInput, WrongRankOrShape) {
  TempDir dir;
  const auto j = test::toy_jets(4);
  write_raw_with(dir / "cols.h5", j, h5::Element::F64, {4, 100, 15}, particle_names());
  expect_rejected(dir, dir / "cols.h5", {dir / "cols.h5", "'jetConstituentList'", "[4, 100, 15]", "[N, P, 16]"});
  {
    h5::File f = h5::File::create(dir / "rank.h5");
    f.create_dataset("jetConstituentList", h5::Element::F64, {4, 1600});
    f.create_dataset("jets", h5::Element::F64, {4, kJetColumns});
    f.write_strings("particleFeatureNames", particle_names());
    f.write_strings("jetFeatureNames", std::vector<std::string>(kJetNames.begin(), kJetNames.end()));
    f.close();
  }
  expect_rejected(dir, dir / "rank.h5", {dir / "rank.h5", "has shape [4, 1600]"});
  {
    h5::File f = h5::File::create(dir / "rows.h5");
    f.create_dataset("jetConstituentList", h5::Element::F64, {4, 100, 16});
    f.create_dataset("jets", h5::Element::F64, {3, kJetColumns});
    f.write_strings("particleFeatureNames", particle_names());
    f.write_strings("jetFeatureNames", std::vector<std::string>(kJetNames.begin(), kJetNames.end()));
    f.close();
  }
  expect_rejected(dir, dir / "rows.h5", {dir / "rows.h5", "'jets' has 3 rows but 'jetConstituentList' has 4"});
}

TEST(BadInput, WrongDtype) {
  TempDir dir;
  const auto j = test::toy_jets(4);
  write_raw_with(dir / "int.h5", j, h5::Element::I32, {4, 100, 16}, particle_names());
  expect_rejected(dir, dir / "int.h5", {dir / "int.h5", "'jetConstituentList'", "holds int32", "expected floating point"});
}

TEST(BadInput, FeatureNamesInAnotherOrder) {
  TempDir dir;
  auto j = test::toy_jets(4);
  auto names = particle_names();
  std::swap(names[kPt], names[kERel]);
  write_raw_with(dir / "order.h5", j, h5::Element::F64, {4, 100, 16}, names);
  expect_rejected(dir, dir / "order.h5",
                  {dir / "order.h5", "particleFeatureNames[4] is 'j1_pt'", "'j1_erel'", "another order"});
  // Jet names: labels swapped.
  {
    h5::File f = h5::File::create(dir / "jetorder.h5");
    f.create_dataset("jetConstituentList", h5::Element::F64, {4, 100, 16}).write(j.cons.data());
    f.create_dataset("jets", h5::Element::F64, {4, kJetColumns}).write(j.rows.data());
    f.write_strings("particleFeatureNames", particle_names());
    std::vector<std::string> jn(kJetNames.begin(), kJetNames.end());
    std::swap(jn[kJetW], jn[kJetZ]);
    f.write_strings("jetFeatureNames", jn);
    f.close();
  }
  expect_rejected(dir, dir / "jetorder.h5", {dir / "jetorder.h5", "jetFeatureNames[55] is 'j_z'", "'j_w'"});
}

TEST(BadInput, NanOrInfinityNamesTheJet) {
  TempDir dir;
  auto j = test::toy_jets(8);
  j.jet(3)[2 * kRawParticleColumns + kEta] = std::nan("");
  test::write_raw(dir / "nan.h5", j, 4);
  expect_rejected(dir, dir / "nan.h5", {dir / "nan.h5", "jet 3:", "NaN", "'j1_eta'"});
  j = test::toy_jets(8);
  j.row(5)[kJetMass] = std::numeric_limits<double>::infinity();
  test::write_raw(dir / "inf.h5", j);
  expect_rejected(dir, dir / "inf.h5", {dir / "inf.h5", "jet 5:", "infinity", "'j_mass'"});
}

TEST(BadInput, JetWithNoConstituents) {
  TempDir dir;
  auto j = test::toy_jets(6);
  std::fill(j.jet(2), j.jet(3), 0.0);
  test::write_raw(dir / "empty_jet.h5", j);
  expect_rejected(dir, dir / "empty_jet.h5", {dir / "empty_jet.h5", "jet 2:", "no constituents"});
}

TEST(BadInput, LabelsNotOneHot) {
  TempDir dir;
  auto j = test::toy_jets(6);
  j.row(4)[kJetG] = 1.0;  // a second label
  test::write_raw(dir / "twohot.h5", j);
  expect_rejected(dir, dir / "twohot.h5", {dir / "twohot.h5", "jet 4:", "not one-hot"});
  j = test::toy_jets(6);
  for (int c = kJetG; c <= kJetUndef; ++c) j.row(1)[c] = 0.0;
  test::write_raw(dir / "nohot.h5", j);
  expect_rejected(dir, dir / "nohot.h5", {dir / "nohot.h5", "jet 1:", "not one-hot"});
  // UCluster-layout input with a bad label row.
  {
    UclusterWriter w(dir / "ulayout.h5", 3, 100);
    std::vector<float> data(3 * 800, 0.0f), mass = {80, 90, 170}, global(12, 0.0f);
    std::vector<std::int32_t> pid = {7, 8, 16}, truth = {0, 1, 2};
    w.write(0, 3, data.data(), pid.data(), truth.data(), mass.data(), global.data());
    w.close();
    h5::File f = h5::File::open(dir / "ulayout.h5", h5::File::Mode::ReadWrite);
    const std::vector<float> label = {1, 0, 0, 0, 1, 1, 0, 0, 1};
    f.open_dataset("label").write(label.data());
    f.close();
  }
  expect_rejected(dir, dir / "ulayout.h5", {dir / "ulayout.h5", "jet 1:", "not one-hot"}, true);
  // The loader reports it too.
  LoaderOptions o;
  o.batch_size = 3;
  try {
    auto loader = open_loader(dir / "ulayout.h5", o);
    Batch b;
    loader->next(b);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not one-hot"), std::string::npos) << e.what();
  }
}

TEST(BadInput, EmptySplitAfterSelection) {
  TempDir dir;
  auto j = test::toy_jets(6);
  for (std::int64_t i = 0; i < j.n; ++i) {
    for (int c = kJetG; c <= kJetUndef; ++c) j.row(i)[c] = c == kJetG ? 1.0 : 0.0;  // all gluons
  }
  test::write_raw(dir / "gluons.h5", j);
  expect_rejected(dir, dir / "gluons.h5", {dir / "gluons.h5", "no jet passed the selection"});
  j = test::toy_jets(6);
  for (std::int64_t i = 1; i < j.n; ++i) j.row(i)[kJetMass] = 250.0;  // one jet left in the window
  test::write_raw(dir / "one.h5", j);
  expect_rejected(dir, dir / "one.h5", {dir / "one.h5", "the train split is empty after selection"});
}

TEST(BadInput, DirectoryWithoutFilesAndUnknownOptions) {
  TempDir dir;
  std::filesystem::create_directories(dir / "emptydir");
  expect_rejected(dir, dir / "emptydir", {dir / "emptydir", "holds no .h5 file"});
  const std::string err = dir / "err.txt";
  EXPECT_NE(std::system((std::string(UCLUSTER_PREPARE_DATA) + " --bogus x 2> " + err).c_str()), 0);
  EXPECT_NE(slurp(err).find("unknown option '--bogus'"), std::string::npos);
  EXPECT_NE(std::system((std::string(UCLUSTER_MAKE_TOY_JETS) + " --jets -5 2> " + err).c_str()), 0);
  EXPECT_NE(slurp(err).find("--jets: -5 is outside"), std::string::npos) << slurp(err);
}

}  // namespace
}  // namespace ucluster
