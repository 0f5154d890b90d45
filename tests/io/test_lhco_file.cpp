// The LHCO R&D layout (ucluster-ad-spec.md 1.1): make-toy-events' files byte for byte reproducible,
// the write -> read round trip, chunked reads, the unlabelled (black-box) layout, and every bad
// input the reader names.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "io/lhco_file.h"
#include "io/toy_events_file.h"

namespace ucluster::lhco {
namespace {

using test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string write_events(const TempDir& dir, const std::string& name, std::uint64_t seed, std::int64_t n,
                         bool labels = true, int threads = 1) {
  toy::ToyEventsOptions o;
  o.events = n;
  o.out = dir / name;
  o.seed = seed;
  o.signal_fraction = 0.3;
  o.labels = labels;
  o.threads = threads;
  toy::write_toy_events(o);
  return o.out;
}

// The message of the exception LhcoFile(path) throws ("" if none).
std::string open_error(const std::string& path) {
  try {
    LhcoFile f(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& path, const std::vector<std::string>& parts) {
  const std::string msg = open_error(path);
  ASSERT_FALSE(msg.empty()) << "no error for " << path;
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

// A file with only df/block0_values of the given type and shape (and optionally a filter).
void write_values(const std::string& path, hid_t type, hsize_t rows, hsize_t cols, H5Z_filter_t filter = -1,
                  const char* name = "df/block0_values") {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {rows, cols};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (filter >= 0) {
    H5Pset_chunk(dcpl, 2, dims);
    // Optional: HDF5 records the filter without having it, as a file written where it was present.
    H5Pset_filter(dcpl, filter, H5Z_FLAG_OPTIONAL, 0, nullptr);
  }
  const hid_t d = H5Dcreate2(f, name, type, space, lcpl, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0) << "could not create the test file " << path;
  std::vector<double> zeros(rows * cols, 0.0);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  H5Sclose(space);
  H5Fclose(f);
}

TEST(LhcoFile, SameSeedSameBytesAnotherSeedOtherBytes) {
  TempDir dir;
  const std::string a = write_events(dir, "a.h5", 21, 120, true, 1);
  const std::string b = write_events(dir, "b.h5", 21, 120, true, 2);
  const std::string c = write_events(dir, "c.h5", 22, 120, true, 1);
  const std::string ba = slurp(a);
  EXPECT_GT(ba.size(), 10000u);
  EXPECT_TRUE(ba == slurp(b)) << "same seed, different bytes";
  EXPECT_FALSE(ba == slurp(c)) << "another seed, same bytes";
}

TEST(LhcoFile, RoundTripInChunksEqualsTheGenerator) {
  TempDir dir;
  const std::int64_t n = 150;
  const std::string path = write_events(dir, "e.h5", 5, n);
  std::vector<double> expected(static_cast<std::size_t>(n) * kLabelledColumns);
  toy::EventGenerator(5, 0.3).generate_block(0, n, expected.data(), 1);
  const LhcoFile f(path);
  EXPECT_EQ(f.n_events(), n);
  EXPECT_EQ(f.columns(), kLabelledColumns);
  EXPECT_TRUE(f.has_labels());
  EXPECT_EQ(f.filters(), std::vector<std::string>{"deflate"});
  std::vector<double> rows;
  for (std::int64_t first = 0; first < n; first += 37) {  // not aligned to the 64-row chunks
    const std::int64_t m = std::min<std::int64_t>(37, n - first);
    f.read_rows(first, m, rows);
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(m) * kLabelledColumns);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      ASSERT_EQ(rows[k], expected[static_cast<std::size_t>(first) * kLabelledColumns + k]) << "row " << first;
    }
  }
  const auto labels = f.read_labels(10, 50);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(labels[i], expected[(10 + i) * kLabelledColumns + kParticleColumns]);
  EXPECT_THROW(f.read_rows(n - 5, 10, rows), std::exception);
  // The pandas frame attributes and index nodes of spec 1.1.
  const h5::File h = h5::File::open(path);
  EXPECT_EQ(h.read_string_attribute("df", "pandas_type"), "frame");
  EXPECT_EQ(h.read_int_attribute("df", "nblocks"), 1);
  EXPECT_EQ(h.read_int_attribute("df/block0_values", "transposed"), 1);
  EXPECT_EQ(h.open_dataset("df/axis0").shape(), h5::Dims{kLabelledColumns});
  EXPECT_EQ(h.open_dataset("df/axis1").shape(), h5::Dims{n});
  std::vector<std::int64_t> items(kLabelledColumns);
  h.open_dataset("df/block0_items").read(items.data());
  EXPECT_EQ(items[2100], 2100);
}

TEST(LhcoFile, BlackBoxLayoutIsReportedUnlabelled) {
  TempDir dir;
  const std::string labelled = write_events(dir, "l.h5", 9, 40);
  const std::string bb = write_events(dir, "bb.h5", 9, 40, false);
  const LhcoFile f(bb), g(labelled);
  EXPECT_EQ(f.columns(), kParticleColumns);
  EXPECT_FALSE(f.has_labels());
  EXPECT_THROW(f.read_labels(0, 1), std::exception);
  std::vector<double> a, b;
  f.read_rows(0, 40, a);
  g.read_rows(0, 40, b);
  for (int e = 0; e < 40; ++e) {
    for (int k = 0; k < kParticleColumns; ++k) ASSERT_EQ(a[e * kParticleColumns + k], b[e * kLabelledColumns + k]);
  }
}

TEST(LhcoFile, BadInputsNameTheProblem) {
  TempDir dir;
  {
    std::ofstream(dir / "text.h5") << "event,pt\n1,2\n";
    expect_error(dir / "text.h5", {"not an HDF5 file"});
  }
  {
    const std::string good = write_events(dir, "good.h5", 3, 100);
    const auto size = std::filesystem::file_size(good);
    std::filesystem::copy_file(good, dir / "cut.h5");
    std::filesystem::resize_file(dir / "cut.h5", size / 2);
    expect_error(dir / "cut.h5", {"truncated"});
  }
  write_values(dir / "key.h5", H5T_IEEE_F64LE, 3, 2101, -1, "events/block0_values");
  expect_error(dir / "key.h5", {"no pandas key 'df'", "events"});
  write_values(dir / "cols.h5", H5T_IEEE_F64LE, 3, 2000);
  expect_error(dir / "cols.h5", {"2000 columns", "2101", "2100"});
  write_values(dir / "f32.h5", H5T_IEEE_F32LE, 3, 2101);
  expect_error(dir / "f32.h5", {"float32", "expected float64"});
  write_values(dir / "table.h5", H5T_IEEE_F64LE, 3, 2101, -1, "df/table");
  expect_error(dir / "table.h5", {"'table'-format"});
  write_values(dir / "blosc.h5", H5T_IEEE_F64LE, 3, 2101, 32001);
  expect_error(dir / "blosc.h5", {"blosc", "32001", "HDF5_PLUGIN_PATH"});
  {
    write_values(dir / "blocks.h5", H5T_IEEE_F64LE, 3, 2101);
    h5::File h = h5::File::open(dir / "blocks.h5", h5::File::Mode::ReadWrite);
    h.write_int_attribute("df", "nblocks", 2);
    h.close();
    expect_error(dir / "blocks.h5", {"2 blocks"});
  }
  // A bare block0_values in the right shape is accepted (the pandas attributes are optional).
  write_values(dir / "bare.h5", H5T_IEEE_F64LE, 3, 2100);
  EXPECT_EQ(open_error(dir / "bare.h5"), "");
}

TEST(LhcoFile, MissingFilterAdviceNamesThePlugin) {
  EXPECT_NE(missing_filter_advice(32001, "").find("hdf5-blosc"), std::string::npos);
  EXPECT_NE(missing_filter_advice(32004, "").find("hdf5-filter-plugin"), std::string::npos);
  EXPECT_NE(missing_filter_advice(32000, "").find("h5repack"), std::string::npos);
  EXPECT_NE(missing_filter_advice(4242, "zz").find("4242 ('zz')"), std::string::npos);
}

TEST(LhcoFile, ToolRefusesBadOptionsAndDocumentsItsOwn) {
  TempDir dir;
  const std::string tool = UCLUSTER_MAKE_TOY_EVENTS, err = dir / "err", out = dir / "out";
  EXPECT_EQ(std::system((tool + " --help > " + out).c_str()), 0);
  for (const char* opt : {"--events", "--signal-fraction", "--no-labels", "--summary-of", "--seed"})
    EXPECT_NE(slurp(out).find(opt), std::string::npos) << opt;
  EXPECT_NE(std::system((tool + " --signal-fraction 1.5 2> " + err).c_str()), 0);
  EXPECT_NE(slurp(err).find("--signal-fraction: 1.5 is outside [0, 1]"), std::string::npos) << slurp(err);
  EXPECT_NE(std::system((tool + " --max-events 3 2> " + err).c_str()), 0);
  EXPECT_NE(slurp(err).find("--max-events needs --summary-of"), std::string::npos) << slurp(err);
  const std::string file = write_events(dir, "x.h5", 1, 30);
  EXPECT_NE(std::system((tool + " --events 5 --quiet --out " + file + " 2> " + err).c_str()), 0);
  EXPECT_NE(slurp(err).find("already exists"), std::string::npos) << slurp(err);
  EXPECT_EQ(std::system((tool + " --quiet --summary-of " + file + " > " + out).c_str()), 0);
  EXPECT_NE(slurp(out).find("| m_jj median [GeV] |"), std::string::npos) << slurp(out);
}

}  // namespace
}  // namespace ucluster::lhco
