#include "embed/src/model_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

namespace ucluster::embed {

namespace {

using json = nlohmann::json;

[[noreturn]] void refuse(ModelFileProblem problem, const std::string& what, const std::string& message) {
  throw ModelFileError(problem, what + ": " + message);
}

// The dims as named in the header.
const std::pair<const char*, std::int64_t model::ModelDims::*> kDimFields[] = {
    {"num_points", &model::ModelDims::num_points}, {"num_features", &model::ModelDims::num_features},
    {"k", &model::ModelDims::k},                   {"gap0_width", &model::ModelDims::gap0_width},
    {"gap1_width", &model::ModelDims::gap1_width}, {"latent", &model::ModelDims::latent},
    {"num_classes", &model::ModelDims::num_classes}, {"num_clusters", &model::ModelDims::num_clusters}};

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<std::int64_t>& shape) { return json(shape).dump(); }

// Little-endian integers, byte by byte (independent of the host's byte order).
void put_le(std::vector<unsigned char>& out, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[at + i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint64_t get_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t(p[i]) << (8 * i);
  return v;
}

std::uint64_t fnv1a(std::uint64_t h, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

// Typed access to the header's fields; a missing or mistyped one is Corrupted, named by its path.
struct Header {
  const std::string& what;
  const json& at(const json& obj, const std::string& key, const std::string& path) const {
    const auto it = obj.find(key);
    if (it == obj.end()) refuse(ModelFileProblem::Corrupted, what, "header field '" + path + "' is missing");
    return *it;
  }
  [[noreturn]] void mistyped(const std::string& path, const char* expected) const {
    refuse(ModelFileProblem::Corrupted, what, "header field '" + path + "' must be " + expected);
  }
  const json& object(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_object()) mistyped(path, "an object");
    return v;
  }
  std::int64_t integer(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX))
      mistyped(path, "an integer");
    return v.get<std::int64_t>();
  }
  double number(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_number()) mistyped(path, "a number");
    return v.get<double>();
  }
  std::string string(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = at(obj, key, path);
    if (!v.is_string()) mistyped(path, "a string");
    return v.get<std::string>();
  }
};

}  // namespace

std::map<std::string, std::vector<std::int64_t>> required_tensors(const model::ModelDims& dims) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const model::TensorDecl& t : model::declared_tensors(dims)) out[t.name] = t.shape;
  return out;
}

std::vector<unsigned char> serialise_model(const ModelContents& c) {
  const std::string what = "model to write";
  const auto declared = model::declared_tensors(c.dims);
  const auto required = required_tensors(c.dims);
  for (const auto& [name, tensor] : c.tensors)
    if (!required.count(name))
      refuse(ModelFileProblem::Shape, what, "tensor '" + name + "' is not a tensor of the model");
  if (!std::isfinite(c.inverse_temperature))
    refuse(ModelFileProblem::Corrupted, what, "the inverse temperature is not finite");
  if (!json::parse(c.source_json, nullptr, false).is_object()) refuse(ModelFileProblem::Corrupted, what, "source_json is not a JSON object");

  nlohmann::ordered_json dims, tensors;
  for (const auto& [key, member] : kDimFields) dims[key] = c.dims.*member;
  std::uint64_t data_bytes = 0;
  for (const auto& [name, shape, trainable] : declared) {
    const auto it = c.tensors.find(name);
    if (it == c.tensors.end()) refuse(ModelFileProblem::Shape, what, "tensor '" + name + "' is missing");
    const ModelTensor& t = it->second;
    if (t.shape != shape || t.values.size() != std::size_t(numel(shape)))
      refuse(ModelFileProblem::Shape, what,
             "tensor '" + name + "' has shape " + shape_text(t.shape) + " and " + std::to_string(t.values.size()) +
                 " values; the model's shape is " + shape_text(shape));
    tensors[name] = {{"dtype", "F32"}, {"shape", shape}, {"offset", data_bytes}};
    data_bytes += 4 * t.values.size();
  }
  const nlohmann::ordered_json header = {
      {"format", "ucluster-model"},
      {"version", kModelFormatVersion},
      {"dims", dims},
      {"constants",
       {{"batch_norm_epsilon", c.batch_norm_epsilon},
        {"attention_leaky_slope", c.attention_leaky_slope},
        {"knn_padding_penalty", c.knn_padding_penalty}}},
      {"inverse_temperature", c.inverse_temperature},
      {"source", nlohmann::ordered_json::parse(c.source_json)},
      {"tensors", tensors}};
  std::string text = header.dump();
  text.append((kModelDataAlignment - (kModelPrefixBytes + text.size()) % kModelDataAlignment) % kModelDataAlignment,
              ' ');

  std::vector<unsigned char> out(kModelPrefixBytes + text.size() + data_bytes, 0);
  std::memcpy(out.data(), kModelMagic, sizeof kModelMagic);
  put_le(out, 8, kModelFormatVersion, 4);
  put_le(out, 16, text.size(), 8);
  put_le(out, 24, data_bytes, 8);
  std::memcpy(out.data() + kModelPrefixBytes, text.data(), text.size());
  std::size_t at = kModelPrefixBytes + text.size();
  for (const model::TensorDecl& t : declared)
    for (float v : c.tensors.at(t.name).values) {
      put_le(out, at, std::bit_cast<std::uint32_t>(v), 4);
      at += 4;
    }
  put_le(out, 32, fnv1a(kFnvBasis, out.data() + kModelPrefixBytes, out.size() - kModelPrefixBytes), 8);
  return out;
}

ModelContents parse_model(const unsigned char* data, std::size_t size, const std::string& what) {
  using P = ModelFileProblem;
  // The prefix.
  if (size > 0 && std::memcmp(data, kModelMagic, std::min(size, sizeof kModelMagic)) != 0)
    refuse(P::Corrupted, what, "not a ucluster model file (its first bytes are not \"UCLMODEL\")");
  if (size < kModelPrefixBytes)
    refuse(P::Truncated, what,
           "truncated: " + std::to_string(size) + " bytes, shorter than the " + std::to_string(kModelPrefixBytes) +
               "-byte prefix");
  const std::uint64_t version = get_le(data + 8, 4);
  if (version != kModelFormatVersion)
    refuse(P::Version, what,
           "model file format version " + std::to_string(version) + "; this library reads version " +
               std::to_string(kModelFormatVersion) + " only (export the model again with a matching export-model)");
  if (get_le(data + 12, 4) != 0 || get_le(data + 40, 8) != 0)
    refuse(P::Corrupted, what, "the reserved fields of the prefix are not zero");
  const std::uint64_t header_bytes = get_le(data + 16, 8), data_bytes = get_le(data + 24, 8);
  const std::uint64_t room = size - kModelPrefixBytes;
  if (header_bytes > room || data_bytes > room - header_bytes)
    refuse(P::Truncated, what,
           "truncated: " + std::to_string(size) + " bytes, but the prefix declares " +
               std::to_string(kModelPrefixBytes) + " + " + std::to_string(header_bytes) + " header + " +
               std::to_string(data_bytes) + " data bytes");
  if (data_bytes < room - header_bytes)
    refuse(P::Corrupted, what,
           std::to_string(room - header_bytes - data_bytes) + " unexpected bytes after the end of the data");
  const std::uint64_t stored = get_le(data + 32, 8);
  const std::uint64_t computed = fnv1a(kFnvBasis, data + kModelPrefixBytes, room);
  if (stored != computed)
    refuse(P::Corrupted, what, "checksum mismatch (the file is damaged): stored " + std::to_string(stored) +
                                   ", computed " + std::to_string(computed));
  if ((kModelPrefixBytes + header_bytes) % kModelDataAlignment != 0)
    refuse(P::Corrupted, what,
           "misaligned: the data does not start at a multiple of " + std::to_string(kModelDataAlignment) + " bytes");

  // The header.
  const char* text = reinterpret_cast<const char*>(data + kModelPrefixBytes);
  const json header = json::parse(text, text + header_bytes, nullptr, false);
  if (header.is_discarded()) refuse(P::Corrupted, what, "the header is not valid JSON");
  if (!header.is_object()) refuse(P::Corrupted, what, "the header is not a JSON object");
  const Header h{what};
  if (h.string(header, "format", "format") != "ucluster-model")
    refuse(P::Corrupted, what, "header field 'format' is not \"ucluster-model\"");
  if (h.integer(header, "version", "version") != std::int64_t(kModelFormatVersion))
    refuse(P::Corrupted, what, "the header's version differs from the prefix's");

  ModelContents c;
  const model::ModelDims expected_dims;
  const json& dims = h.object(header, "dims", "dims");
  for (const auto& [key, member] : kDimFields) {
    c.dims.*member = h.integer(dims, key, std::string("dims.") + key);
    if (c.dims.*member != expected_dims.*member)
      refuse(P::Shape, what,
             std::string("dims.") + key + " is " + std::to_string(c.dims.*member) + "; this library's model has " +
                 std::to_string(expected_dims.*member));
  }
  if (dims.size() != std::size(kDimFields))
    refuse(P::Shape, what, "dims has fields this library's model does not know: " + dims.dump());

  // The constants are part of the computation the library implements, like the dims: a file with
  // others describes a model this library cannot run (Shape), not a damaged file (the checksum
  // vouches for the bytes).
  const ModelContents expected_constants;
  const json& constants = h.object(header, "constants", "constants");
  for (const auto& [key, value, expected] :
       {std::tuple{"batch_norm_epsilon", &c.batch_norm_epsilon, expected_constants.batch_norm_epsilon},
        std::tuple{"attention_leaky_slope", &c.attention_leaky_slope, expected_constants.attention_leaky_slope},
        std::tuple{"knn_padding_penalty", &c.knn_padding_penalty, expected_constants.knn_padding_penalty}}) {
    *value = h.number(constants, key, std::string("constants.") + key);
    if (*value != expected)
      refuse(P::Shape, what,
             std::string("constants.") + key + " is " + json(*value).dump() + "; this library computes with " +
                 json(expected).dump());
  }
  c.inverse_temperature = h.number(header, "inverse_temperature", "inverse_temperature");
  if (!std::isfinite(c.inverse_temperature)) refuse(P::Corrupted, what, "inverse_temperature is not finite");
  c.source_json = h.object(header, "source", "source").dump();

  // The tensors: every required one with its shape, none other, inside the data, no overlaps.
  const json& tensors = h.object(header, "tensors", "tensors");
  const auto required = model::declared_tensors(c.dims);
  for (const model::TensorDecl& t : required)
    if (!tensors.contains(t.name)) refuse(P::Shape, what, "tensor '" + t.name + "' is missing");
  if (tensors.size() != required.size()) {
    const auto known = required_tensors(c.dims);
    for (const auto& [name, entry] : tensors.items())
      if (!known.count(name)) refuse(P::Shape, what, "unknown tensor '" + name + "' (not a tensor of this library's model)");
  }
  std::vector<std::tuple<std::uint64_t, std::uint64_t, std::string>> extents;  // offset, end, name
  const unsigned char* tensor_data = data + kModelPrefixBytes + header_bytes;
  for (const auto& [name, shape, trainable] : required) {
    const std::string path = "tensors." + name;
    const json& entry = h.object(tensors, name, path);
    const std::string dtype = h.string(entry, "dtype", path + ".dtype");
    if (dtype != "F32") refuse(P::Shape, what, "tensor '" + name + "' has dtype " + dtype + ", expected F32");
    const json& shape_json = h.at(entry, "shape", path + ".shape");
    if (!shape_json.is_array()) h.mistyped(path + ".shape", "an array of integers");
    std::vector<std::int64_t> file_shape;
    for (const json& d : shape_json) {
      if (!d.is_number_integer()) h.mistyped(path + ".shape", "an array of integers");
      file_shape.push_back(d.get<std::int64_t>());
    }
    if (file_shape != shape)
      refuse(P::Shape, what,
             "tensor '" + name + "' has shape " + shape_text(file_shape) + ", expected " + shape_text(shape));
    const json& offset_json = h.at(entry, "offset", path + ".offset");
    if (!offset_json.is_number_unsigned()) h.mistyped(path + ".offset", "a non-negative integer");
    const std::uint64_t offset = offset_json.get<std::uint64_t>(), bytes = 4 * std::uint64_t(numel(shape));
    if (offset > data_bytes || bytes > data_bytes - offset)
      refuse(P::Corrupted, what,
             "tensor '" + name + "' at offset " + std::to_string(offset) + " (" + std::to_string(bytes) +
                 " bytes) extends past the " + std::to_string(data_bytes) + " data bytes");
    if (offset % 4 != 0)
      refuse(P::Corrupted, what, "tensor '" + name + "' is misaligned: offset " + std::to_string(offset) +
                                     " is not a multiple of 4");
    extents.emplace_back(offset, offset + bytes, name);

    ModelTensor t{shape, std::vector<float>(std::size_t(numel(shape)))};
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      t.values[i] = std::bit_cast<float>(static_cast<std::uint32_t>(get_le(tensor_data + offset + 4 * i, 4)));
      if (!std::isfinite(t.values[i]))
        refuse(P::Corrupted, what,
               "tensor '" + name + "' holds a NaN or infinite value at index " + std::to_string(i));
    }
    c.tensors.emplace(name, std::move(t));
  }
  std::sort(extents.begin(), extents.end());
  for (std::size_t i = 1; i < extents.size(); ++i)
    if (std::get<0>(extents[i]) < std::get<1>(extents[i - 1]))
      refuse(P::Corrupted, what,
             "tensors '" + std::get<2>(extents[i - 1]) + "' and '" + std::get<2>(extents[i]) + "' overlap");
  return c;
}

std::vector<unsigned char> read_model_bytes(const std::string& path) {
  const auto fail_io = [&](const std::string& why) {
    throw ModelFileError(ModelFileProblem::Io, "cannot read model file '" + path + "': " + why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_io(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail_io(std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) fail_io("not a regular file");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_io(std::strerror(errno));
    if (n == 0) fail_io("the file shrank while being read");
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace ucluster::embed
