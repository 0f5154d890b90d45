// The .ucm model file (embed/src/model_file.h): an exact round trip, the tensor list of the
// model's declaration, reading from a file, and every refusal with its problem kind and a message
// naming what is wrong. Damaged files are made by editing a good one; where a check after the
// checksum is aimed at, the checksum is recomputed (reseal) so that check is the one that fires.
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "embed/src/model_file.h"
#include "model/ucluster_model.h"

namespace ucluster::embed {
namespace {

using Bytes = std::vector<unsigned char>;
using json = nlohmann::json;

// A model of `dims` whose values are all different, with -0, a denormal and the largest float.
ModelContents sample(const model::ModelDims& dims = {}) {
  ModelContents c;
  c.dims = dims;
  c.inverse_temperature = 42.5;
  c.source_json = R"({"checkpoint":"runs/x/checkpoint.h5","epoch":3,"global_step":77})";
  int k = 0;
  for (const auto& [name, shape] : required_tensors(dims)) {
    ModelTensor t{shape, {}};
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    for (std::int64_t i = 0; i < n; ++i) t.values.push_back(static_cast<float>(std::sin(++k) * 3));
    c.tensors[name] = t;
  }
  c.tensors["fc3.W"].values[0] = -0.0f;
  c.tensors["fc3.W"].values[1] = std::numeric_limits<float>::denorm_min();
  c.tensors["fc3.W"].values[2] = std::numeric_limits<float>::max();
  return c;
}

std::uint64_t get_u64(const Bytes& b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(b.at(at + i)) << (8 * i);
  return v;
}
void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.at(at + i) = static_cast<unsigned char>(v >> (8 * i));
}
std::size_t header_bytes(const Bytes& b) { return get_u64(b, 16); }
std::size_t data_start(const Bytes& b) { return kModelPrefixBytes + header_bytes(b); }

// FNV-1a 64 of everything after the prefix, written independently of the library's.
Bytes reseal(Bytes b) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = kModelPrefixBytes; i < b.size(); ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  put_u64(b, 32, h);
  return b;
}

// The file with its header replaced by `text` (padded to the data alignment when `pad`), resealed.
Bytes with_header(const Bytes& file, std::string text, bool pad = true) {
  if (pad) text.append((64 - (kModelPrefixBytes + text.size()) % 64) % 64, ' ');
  Bytes b(file.begin(), file.begin() + kModelPrefixBytes);
  b.insert(b.end(), text.begin(), text.end());
  b.insert(b.end(), file.begin() + static_cast<std::ptrdiff_t>(data_start(file)), file.end());
  put_u64(b, 16, text.size());
  return reseal(b);
}
json header_of(const Bytes& b) {
  return json::parse(b.begin() + kModelPrefixBytes, b.begin() + static_cast<std::ptrdiff_t>(data_start(b)));
}
template <typename Edit>
Bytes edit_header(const Bytes& file, Edit edit) {
  json h = header_of(file);
  edit(h);
  return with_header(file, h.dump());
}

ModelContents parse(const Bytes& b) { return parse_model(b.data(), b.size(), "test.ucm"); }

const char* kind_name(ModelFileProblem p) {
  switch (p) {
    case ModelFileProblem::Io: return "Io";
    case ModelFileProblem::Truncated: return "Truncated";
    case ModelFileProblem::Corrupted: return "Corrupted";
    case ModelFileProblem::Version: return "Version";
    case ModelFileProblem::Shape: return "Shape";
  }
  return "?";
}

// Parsing `b` fails with `kind` and a message holding `fragment` (and the source's name).
void expect_refused(const Bytes& b, ModelFileProblem kind, const std::string& fragment) {
  try {
    parse(b);
    ADD_FAILURE() << "accepted; expected " << kind_name(kind) << " with '" << fragment << "'";
  } catch (const ModelFileError& e) {
    EXPECT_STREQ(kind_name(e.problem()), kind_name(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("test.ucm: ", 0), 0u) << e.what();
  }
}

TEST(ModelFile, RoundTripIsExact) {
  const ModelContents in = sample();
  const Bytes b = serialise_model(in);
  EXPECT_EQ(std::memcmp(b.data(), "UCLMODEL", 8), 0);
  EXPECT_EQ(b[8], 1);
  EXPECT_EQ(data_start(b) % kModelDataAlignment, 0u);
  std::size_t floats = 0;
  for (const auto& [name, t] : in.tensors) floats += t.values.size();
  EXPECT_EQ(get_u64(b, 24), 4 * floats) << "the data is the tensors, back to back";
  EXPECT_EQ(b.size(), data_start(b) + 4 * floats);
  EXPECT_EQ(serialise_model(in), b) << "serialising is deterministic";

  const ModelContents out = parse(b);
  EXPECT_EQ(out.dims.num_points, 100);
  EXPECT_EQ(out.dims.gap1_width, in.dims.gap1_width);
  // Field by field: ModelDims has padding bytes (after `variant`), which a memcmp would compare.
  const auto fields = [](const model::ModelDims& d) {
    return std::tuple(d.num_points, d.num_features, d.k, d.gap0_width, d.gap1_width, d.latent, d.num_classes,
                      d.num_clusters, d.variant, d.num_globals);
  };
  EXPECT_TRUE(fields(out.dims) == fields(in.dims));
  EXPECT_EQ(out.inverse_temperature, 42.5);
  EXPECT_EQ(out.batch_norm_epsilon, 1e-3);
  EXPECT_EQ(out.attention_leaky_slope, 0.2);
  EXPECT_EQ(out.knn_padding_penalty, 1000.0);
  EXPECT_EQ(json::parse(out.source_json), json::parse(in.source_json));
  ASSERT_EQ(out.tensors.size(), in.tensors.size());
  for (const auto& [name, t] : in.tensors) {
    const ModelTensor& o = out.tensors.at(name);
    EXPECT_EQ(o.shape, t.shape) << name;
    ASSERT_EQ(o.values.size(), t.values.size()) << name;
    EXPECT_EQ(std::memcmp(o.values.data(), t.values.data(), 4 * t.values.size()), 0) << name << " differs";
  }
  EXPECT_TRUE(std::signbit(out.tensors.at("fc3.W").values[0])) << "-0 kept";
}

TEST(ModelFile, RequiredTensorsAreTheModelsDeclaration) {
  model::UClusterModel model;
  ParamStore store;
  model.declare(store);
  std::map<std::string, std::vector<std::int64_t>> declared;
  for (const auto& e : store.param_entries()) declared[e.name] = e.shape.dims();
  for (const auto& e : store.buffer_entries()) declared[e.name] = e.shape.dims();
  EXPECT_EQ(required_tensors(model.dims()), declared);
  EXPECT_EQ(declared.size(), 93u);
  EXPECT_EQ(declared.at("mu"), (std::vector<std::int64_t>{3, 3}));
}

TEST(ModelFile, ReadsAFileAndNamesThePathOfAnUnreadableOne) {
  const std::string dir = testing::TempDir() + "/ucluster_model_file_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const Bytes b = serialise_model(sample());
  std::ofstream(dir + "/m.ucm", std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  EXPECT_EQ(read_model_bytes(dir + "/m.ucm"), b);
  EXPECT_EQ(parse(read_model_bytes(dir + "/m.ucm")).tensors.at("mu").values, sample().tensors.at("mu").values);
  for (const auto& [path, why] : {std::pair{dir + "/missing.ucm", "No such file or directory"}, {dir, "Is a directory"}}) {
    try {
      read_model_bytes(path);
      ADD_FAILURE() << path << " was read";
    } catch (const ModelFileError& e) {
      EXPECT_EQ(e.problem(), ModelFileProblem::Io);
      EXPECT_NE(std::string(e.what()).find("'" + path + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelFile, RefusesATruncatedFileAtEveryLengthOfThePrefixAndInsideHeaderAndData) {
  const Bytes b = serialise_model(sample());
  const std::size_t h = data_start(b);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < kModelPrefixBytes; ++n) lengths.push_back(n);
  for (std::size_t n : {kModelPrefixBytes, kModelPrefixBytes + 1, (kModelPrefixBytes + h) / 2, h - 1, h, h + 3,
                        (h + b.size()) / 2, b.size() - 1})
    lengths.push_back(n);
  for (std::size_t n : lengths) {
    SCOPED_TRACE("length " + std::to_string(n));
    expect_refused(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)), ModelFileProblem::Truncated,
                   "truncated: " + std::to_string(n) + " bytes");
  }
  expect_refused(Bytes(b.begin(), b.begin() + 47), ModelFileProblem::Truncated, "48-byte prefix");
  expect_refused(Bytes(b.begin(), b.end() - 1), ModelFileProblem::Truncated,
                 std::to_string(header_bytes(b)) + " header + " + std::to_string(get_u64(b, 24)) + " data bytes");
  Bytes longer = b;
  longer.push_back(0);
  expect_refused(longer, ModelFileProblem::Corrupted, "1 unexpected bytes after the end of the data");
}

TEST(ModelFile, RefusesAFlippedByteByItsChecksum) {
  const Bytes b = serialise_model(sample());
  for (std::size_t at : {kModelPrefixBytes + 10, data_start(b) + 5, b.size() - 1}) {
    Bytes bad = b;
    bad[at] ^= 0x10;
    expect_refused(bad, ModelFileProblem::Corrupted, "checksum mismatch");
  }
}

TEST(ModelFile, RefusesAnotherVersionNamingBoth) {
  Bytes b = serialise_model(sample());
  b[8] = 2;
  expect_refused(b, ModelFileProblem::Version, "format version 2; this library reads version 1");
  expect_refused(edit_header(serialise_model(sample()), [](json& h) { h["version"] = 2; }),
                 ModelFileProblem::Corrupted, "the header's version differs");
}

TEST(ModelFile, RefusesWhatIsNotAModelFile) {
  Bytes b = serialise_model(sample());
  b[0] = 'X';
  expect_refused(b, ModelFileProblem::Corrupted, "not a ucluster model file");
  const std::string hdf5 = "\x89HDF\r\n\x1a\n and more";
  expect_refused(Bytes(hdf5.begin(), hdf5.end()), ModelFileProblem::Corrupted, "not a ucluster model file");
  expect_refused(Bytes{'U', 'C', 'X'}, ModelFileProblem::Corrupted, "not a ucluster model file");
}

TEST(ModelFile, RefusesAModelOfAnotherShape) {
  model::ModelDims dims;
  dims.gap1_width = 64;
  expect_refused(serialise_model(sample(dims)), ModelFileProblem::Shape,
                 "dims.gap1_width is 64; this library's model has 128");
  const Bytes b = serialise_model(sample());
  expect_refused(edit_header(b, [](json& h) { h["dims"]["depth"] = 2; }), ModelFileProblem::Shape, "\"depth\"");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["gap0_newfea.W"]["shape"] = {16, 8}; }),
                 ModelFileProblem::Shape, "tensor 'gap0_newfea.W' has shape [16,8], expected [8,16]");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["fc1.b"]["dtype"] = "F16"; }), ModelFileProblem::Shape,
                 "tensor 'fc1.b' has dtype F16, expected F32");
  // Constants: Shape (another model), see model_file.cpp.
  expect_refused(edit_header(b, [](json& h) { h["constants"]["knn_padding_penalty"] = 999.0; }),
                 ModelFileProblem::Shape, "constants.knn_padding_penalty is 999.0");
  expect_refused(edit_header(b, [](json& h) { h["constants"]["batch_norm_epsilon"] = 1e-5; }),
                 ModelFileProblem::Shape, "constants.batch_norm_epsilon");
}

TEST(ModelFile, RefusesAMissingOrAnUnknownTensor) {
  const Bytes b = serialise_model(sample());
  expect_refused(edit_header(b, [](json& h) { h["tensors"].erase("fc2.bn_var"); }), ModelFileProblem::Shape,
                 "tensor 'fc2.bn_var' is missing");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["extra.W"] = h["tensors"]["mu"]; }),
                 ModelFileProblem::Shape, "unknown tensor 'extra.W'");
  // The writer refuses the same.
  ModelContents c = sample();
  c.tensors.erase("gap1_out.b");
  try {
    serialise_model(c);
    ADD_FAILURE() << "a model without gap1_out.b was written";
  } catch (const ModelFileError& e) {
    EXPECT_EQ(e.problem(), ModelFileProblem::Shape);
    EXPECT_NE(std::string(e.what()).find("tensor 'gap1_out.b' is missing"), std::string::npos) << e.what();
  }
}

TEST(ModelFile, RefusesBadOffsets) {
  const Bytes b = serialise_model(sample());
  const std::uint64_t data = get_u64(b, 24);
  expect_refused(edit_header(b, [&](json& h) { h["tensors"]["mu"]["offset"] = data - 4; }),
                 ModelFileProblem::Corrupted, "tensor 'mu' at offset " + std::to_string(data - 4) + " (36 bytes)");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["fc3.W"]["offset"] = std::uint64_t(1) << 63; }),
                 ModelFileProblem::Corrupted, "extends past");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["gap0_newfea.W"]["offset"] = 2; }),
                 ModelFileProblem::Corrupted, "tensor 'gap0_newfea.W' is misaligned");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["fc3.b"]["offset"] = h["tensors"]["fc3.W"]["offset"]; }),
                 ModelFileProblem::Corrupted, "overlap");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["fc3.b"]["offset"] = -4; }), ModelFileProblem::Corrupted,
                 "'tensors.fc3.b.offset' must be a non-negative integer");
}

TEST(ModelFile, RefusesANonFiniteValueNamingTensorAndIndex) {
  const Bytes b = serialise_model(sample());
  const std::size_t offset = header_of(b)["tensors"]["fc1.W"]["offset"];
  for (float v : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    Bytes bad = b;
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
    for (int i = 0; i < 4; ++i) bad[data_start(b) + offset + 4 * 5 + i] = static_cast<unsigned char>(bits >> (8 * i));
    expect_refused(reseal(bad), ModelFileProblem::Corrupted, "tensor 'fc1.W' holds a NaN or infinite value at index 5");
  }
}

TEST(ModelFile, RefusesABadHeader) {
  const Bytes b = serialise_model(sample());
  expect_refused(with_header(b, "{\"format\": "), ModelFileProblem::Corrupted, "the header is not valid JSON");
  expect_refused(with_header(b, "[1, 2]"), ModelFileProblem::Corrupted, "the header is not a JSON object");
  expect_refused(edit_header(b, [](json& h) { h["dims"]["k"] = "10"; }), ModelFileProblem::Corrupted,
                 "header field 'dims.k' must be an integer");
  expect_refused(edit_header(b, [](json& h) { h.erase("inverse_temperature"); }), ModelFileProblem::Corrupted,
                 "header field 'inverse_temperature' is missing");
  expect_refused(edit_header(b, [](json& h) { h["source"] = "x"; }), ModelFileProblem::Corrupted,
                 "header field 'source' must be an object");
  expect_refused(edit_header(b, [](json& h) { h["format"] = "safetensors"; }), ModelFileProblem::Corrupted,
                 "'format'");
  expect_refused(edit_header(b, [](json& h) { h["tensors"]["mu"]["shape"] = "3x3"; }), ModelFileProblem::Corrupted,
                 "'tensors.mu.shape' must be an array of integers");
  const std::string padded(b.begin() + kModelPrefixBytes, b.begin() + static_cast<std::ptrdiff_t>(data_start(b)));
  expect_refused(with_header(b, padded + " ", false), ModelFileProblem::Corrupted, "misaligned: the data does not start at a multiple of 64");
}

}  // namespace
}  // namespace ucluster::embed
