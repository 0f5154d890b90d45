// The prepared event layout (io/event_file.h): write -> read round trip in chunks, the shrink of
// the event axis, the layout check, and every bad file or value the reader and writer name.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "io/event_file.h"

namespace ucluster::events {
namespace {

using test::TempDir;
using test::error_of;
using test::expect_parts;

constexpr int P = kEventParticles, F = kEventFeatures, G = kEventGlobals;

// n events whose every value is a function of (event, position).
struct Events {
  std::int64_t n;
  std::vector<float> data, global, mjj;
  std::vector<std::int8_t> target, signal;
  std::vector<std::int64_t> row;
  explicit Events(std::int64_t n_) : n(n_) {
    for (std::int64_t e = 0; e < n; ++e) {
      for (int k = 0; k < P * F; ++k) data.push_back(static_cast<float>(e) + 0.001f * static_cast<float>(k));
      for (int p = 0; p < P; ++p) target.push_back(static_cast<std::int8_t>((e + p) % kMassClasses));
      for (int g = 0; g < G; ++g) global.push_back(static_cast<float>(10 * e + g));
      mjj.push_back(3000.0f + static_cast<float>(e));
      signal.push_back(static_cast<std::int8_t>(e % 3 == 0));
      row.push_back(1000 + 7 * e);
    }
  }
  void write(EventFileWriter& w, std::int64_t first, std::int64_t count) const {
    w.write(first, count, data.data() + first * P * F, target.data() + first * P, global.data() + first * G,
            mjj.data() + first, signal.data() + first, row.data() + first);
  }
};

std::string write_file(const TempDir& dir, const std::string& name, const Events& ev, std::int64_t chunk = 4) {
  EventFileWriter w(dir / name, ev.n, P, {chunk, 0});
  for (std::int64_t first = 0; first < ev.n; first += 3) ev.write(w, first, std::min<std::int64_t>(3, ev.n - first));
  w.set_attribute("prepare", "{\"x\": 1}");
  w.close();
  return dir / name;
}

TEST(EventFile, RoundTripInChunks) {
  TempDir dir;
  const Events ev(11);
  const std::string path = write_file(dir, "e.h5", ev);
  ASSERT_TRUE(EventFile::is_event_file(path));
  const EventFile f(path);
  EXPECT_EQ(f.n_events(), 11);
  EXPECT_EQ(f.n_particles(), P);
  EXPECT_EQ(f.n_features(), F);
  EXPECT_EQ(f.n_globals(), G);
  EXPECT_EQ(f.chunk_rows(), 4);
  EXPECT_EQ(f.task(), "lhco");
  EXPECT_EQ(f.attribute("layout"), "ucluster-events-1");
  EXPECT_EQ(f.attribute("prepare"), "{\"x\": 1}");
  const std::int64_t first = 2, count = 7;  // not aligned to the chunks
  std::vector<float> data(count * P * F), global(count * G), mjj(count);
  std::vector<std::int32_t> target(count * P), signal(count);
  std::vector<std::int64_t> rows(count);
  f.read(first, count, data.data(), target.data(), global.data(), mjj.data(), signal.data(), true);
  f.read_source_rows(first, count, rows.data());
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t e = first + i;
    for (int k = 0; k < P * F; ++k) ASSERT_EQ(data[i * P * F + k], ev.data[e * P * F + k]);
    for (int p = 0; p < P; ++p) ASSERT_EQ(target[i * P + p], ev.target[e * P + p]);
    for (int g = 0; g < G; ++g) EXPECT_EQ(global[i * G + g], ev.global[e * G + g]);
    EXPECT_EQ(mjj[i], ev.mjj[e]);
    EXPECT_EQ(signal[i], ev.signal[e]);
    EXPECT_EQ(rows[i], 1000 + 7 * e);
  }
  // Null pointers skip a dataset; a range past the end is refused.
  f.read(0, 1, nullptr, nullptr, nullptr, mjj.data(), nullptr, false);
  EXPECT_EQ(mjj[0], 3000.0f);
  expect_parts(error_of([&] { f.read(8, 5, nullptr, nullptr, nullptr, mjj.data(), nullptr, false); }),
               {path, "events [8, 13)", "has 11"});
  // The on-disk types of the layout.
  const h5::File h = h5::File::open(path);
  EXPECT_EQ(h.open_dataset("data").type_name(), "float32");
  EXPECT_EQ(h.open_dataset("target_bin").type_name(), "int8");
  EXPECT_EQ(h.open_dataset("is_signal").type_name(), "int8");
  EXPECT_EQ(h.open_dataset("source_row").type_name(), "int64");
  EXPECT_EQ(h.open_dataset("mjj").chunk(), h5::Dims{4});
  EXPECT_EQ(h.open_dataset("data").chunk(), (h5::Dims{4, P, F}));
}

TEST(EventFile, ShrinkKeepsTheWrittenRows) {
  TempDir dir;
  const Events ev(10);
  {
    EventFileWriter w(dir / "s.h5", 50, P, {4, 0});
    ev.write(w, 0, 10);
    w.set_events(10);
    EXPECT_THROW(w.set_events(11), std::exception);
    w.close();
  }
  const EventFile f(dir / "s.h5");
  EXPECT_EQ(f.n_events(), 10);
  std::vector<float> mjj(10);
  f.read(0, 10, nullptr, nullptr, nullptr, mjj.data(), nullptr, false);
  EXPECT_EQ(mjj[9], 3009.0f);
  // A file smaller than one chunk has one chunk of its size.
  const Events two(2);
  const std::string small = write_file(dir, "small.h5", two, 256);
  EXPECT_EQ(EventFile(small).chunk_rows(), 2);
}

TEST(EventFile, WriterRefusesBadValues) {
  TempDir dir;
  Events ev(2);
  EventFileWriter w(dir / "w.h5", 2, P);
  ev.target[5] = 21;
  expect_parts(error_of([&] { ev.write(w, 0, 2); }), {"event 0, particle 5", "target_bin 21"});
  ev.target[5] = 0;
  ev.signal[1] = 2;
  expect_parts(error_of([&] { ev.write(w, 0, 2); }), {"event 1", "is_signal 2"});
  ev.signal[1] = 0;
  expect_parts(error_of([&] { ev.write(w, 1, 2); }), {"rows [1, 3)", "has 2 events"});
  expect_parts(error_of([&] { EventFileWriter(dir / "z.h5", 0, P); }), {"0 events requested"});
  EXPECT_FALSE(std::filesystem::exists(dir / "z.h5"));
}

TEST(EventFile, ReaderNamesEveryProblem) {
  TempDir dir;
  const Events ev(3);
  const std::string good = write_file(dir, "good.h5", ev);
  // Not an event file: the LHCO frame, a text file, a missing file.
  {
    h5::File h = h5::File::create(dir / "plain.h5");
    h.create_dataset("data", h5::Element::F32, {3, P, F});
    h.close();
  }
  EXPECT_FALSE(EventFile::is_event_file(dir / "plain.h5"));
  expect_parts(error_of([&] { EventFile f(dir / "plain.h5"); }), {"plain.h5", "not a prepared event file", "layout"});
  std::ofstream(dir / "text.h5") << "hello\n";
  EXPECT_FALSE(EventFile::is_event_file(dir / "text.h5"));
  EXPECT_FALSE(EventFile::is_event_file(dir / "missing.h5"));
  EXPECT_THROW(EventFile(dir / "missing.h5"), std::exception);
  // A wrong shape and a missing dataset.
  {
    h5::File h = h5::File::create(dir / "shape.h5");
    h.write_attribute("layout", kLayout);
    h.create_dataset("data", h5::Element::F32, {3, P, F});
    h.create_dataset("target_bin", h5::Element::I8, {3, P});
    h.create_dataset("global", h5::Element::F32, {3, 3});
    h.create_dataset("mjj", h5::Element::F32, {3});
    h.create_dataset("is_signal", h5::Element::I8, {3});
    h.close();
  }
  expect_parts(error_of([&] { EventFile f(dir / "shape.h5"); }), {"shape.h5", "no dataset 'source_row'"});
  {
    h5::File h = h5::File::open(dir / "shape.h5", h5::File::Mode::ReadWrite);
    h.create_dataset("source_row", h5::Element::I64, {3});
    h.close();
  }
  expect_parts(error_of([&] { EventFile f(dir / "shape.h5"); }), {"dataset 'global'", "shape.h5", "[3, 3]", "[3, 4]"});
  // Bad values: a class out of range, a truth of 2, NaN in data (checked only with check_data).
  {
    h5::File h = h5::File::open(good, h5::File::Mode::ReadWrite);
    std::vector<std::int32_t> t(P, 0);
    t[7] = 30;
    h.open_dataset("target_bin").write_rows(1, 1, t.data());
    const std::int32_t two = 2;
    h.open_dataset("is_signal").write_rows(2, 1, &two);
    std::vector<float> d(P * F, 0.0f);
    d[3] = std::numeric_limits<float>::quiet_NaN();
    h.open_dataset("data").write_rows(0, 1, d.data());
    h.close();
  }
  const EventFile f(good);
  std::vector<float> data(3 * P * F);
  std::vector<std::int32_t> target(3 * P), signal(3);
  expect_parts(error_of([&] { f.read(0, 3, nullptr, target.data(), nullptr, nullptr, nullptr, false); }),
               {good, "event 1, particle 7", "target_bin 30"});
  expect_parts(error_of([&] { f.read(0, 3, nullptr, nullptr, nullptr, nullptr, signal.data(), false); }),
               {good, "event 2", "is_signal 2"});
  expect_parts(error_of([&] { f.read(0, 3, data.data(), nullptr, nullptr, nullptr, nullptr, true); }),
               {good, "event 0", "NaN or infinity in 'data'"});
  EXPECT_EQ(error_of([&] { f.read(0, 3, data.data(), nullptr, nullptr, nullptr, nullptr, false); }), "");
}

}  // namespace
}  // namespace ucluster::events
