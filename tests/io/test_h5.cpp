// The HDF5 wrapper: round trips, chunking and gzip, strings and attributes, nested names,
// conversions, and error messages that name the file and the dataset without HDF5's own spam.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/error.h"
#include "io/h5.h"
#include "io_test_util.h"

namespace ucluster::h5 {
namespace {

using test::TempDir;

TEST(H5, ChunkedGzipRoundTripWithHyperslabsAndConversion) {
  TempDir dir;
  const std::string path = dir / "a.h5";
  {
    File f = File::create(path);
    Dataset d = f.create_dataset("x", Element::F64, {10, 3}, {{4, 3}, 4, true});
    std::vector<double> rows(30);
    for (int i = 0; i < 30; ++i) rows[i] = i * 0.5;
    d.write_rows(0, 6, rows.data());
    d.write_rows(6, 4, rows.data() + 18);
    f.create_dataset("group/sub/ints", Element::I32, {5}).write(std::vector<std::int32_t>{1, 2, 3, 4, 5}.data());
    f.write_strings("names", {"alpha", "", "gamma"});
    f.write_attribute("meta", "{\"k\": 1}");
    d.write_attribute("unit", "GeV");
    f.close();
  }
  const File f = File::open(path);
  EXPECT_TRUE(f.contains("x"));
  EXPECT_TRUE(f.contains("group/sub/ints"));
  EXPECT_FALSE(f.contains("group/none"));
  EXPECT_FALSE(f.contains("nothing/deeper"));
  EXPECT_EQ(f.list(), (std::vector<std::string>{"group", "names", "x"}));
  const Dataset d = f.open_dataset("x");
  EXPECT_EQ(d.shape(), (Dims{10, 3}));
  EXPECT_EQ(d.chunk(), (Dims{4, 3}));
  EXPECT_EQ(d.type_class(), TypeClass::Float);
  EXPECT_EQ(d.type_name(), "float64");
  EXPECT_EQ(d.filters(), (std::vector<std::string>{"shuffle", "deflate"}));
  d.check_filters_available();
  std::vector<float> part(9);
  d.read_rows(3, 3, part.data());  // float64 file -> float memory
  for (int i = 0; i < 9; ++i) EXPECT_EQ(part[i], (9 + i) * 0.5f);
  std::vector<std::int64_t> all(30);
  d.read(all.data());
  EXPECT_EQ(all[29], 14);
  EXPECT_EQ(f.read_strings("names"), (std::vector<std::string>{"alpha", "", "gamma"}));
  EXPECT_EQ(f.read_string_attribute("meta"), "{\"k\": 1}");
  EXPECT_EQ(d.read_string_attribute("unit"), "GeV");
  EXPECT_FALSE(f.has_attribute("other"));
  std::vector<std::int32_t> ints(5);
  f.open_dataset("group/sub/ints").read(ints.data());
  EXPECT_EQ(ints[4], 5);
}

TEST(H5, SameContentSameBytes) {
  TempDir dir;
  for (const char* name : {"a.h5", "b.h5"}) {
    File f = File::create(dir / name);
    f.create_dataset("x", Element::F32, {4}, {{2}, 1, false}).write(std::vector<float>{1, 2, 3, 4}.data());
    f.write_strings("s", {"x"});
    f.close();
  }
  std::ifstream a(dir / "a.h5", std::ios::binary), b(dir / "b.h5", std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(sa, sb);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(H5, ErrorsNameFileAndDatasetAndHdf5StaysQuiet) {
  TempDir dir;
  const std::string path = dir / "a.h5";
  {
    File f = File::create(path);
    f.create_dataset("x", Element::F32, {4});
    f.close();
  }
  testing::internal::CaptureStderr();
  const File f = File::open(path);
  std::string msg = error_of([&] { f.open_dataset("y"); });
  EXPECT_NE(msg.find("has no dataset 'y'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  std::vector<float> buf(8);
  msg = error_of([&] { f.open_dataset("x").read_rows(2, 4, buf.data()); });
  EXPECT_NE(msg.find("rows [2, 6) of dataset 'x' in file '" + path + "'"), std::string::npos) << msg;
  msg = error_of([&] { f.read_strings("x"); });
  EXPECT_NE(msg.find("holds float32, expected strings"), std::string::npos) << msg;
  msg = error_of([&] { File::open(dir / "missing.h5"); });
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  msg = error_of([&] { File::create(dir / "no/such/dir/x.h5"); });
  EXPECT_NE(msg.find("cannot create HDF5 file"), std::string::npos) << msg;
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "") << "HDF5 printed its error stack";
}

}  // namespace
}  // namespace ucluster::h5
