// The .ucm model file: everything inference needs, readable without HDF5 (safetensors-like).
//
// Layout (all integers little-endian):
//   offset  0  8 bytes  magic "UCLMODEL"
//   offset  8  u32      format version (kModelFormatVersion)
//   offset 12  u32      0 (reserved)
//   offset 16  u64      header_bytes: length of the JSON header that follows the prefix
//   offset 24  u64      data_bytes: length of the tensor data
//   offset 32  u64      checksum: FNV-1a 64 of the header bytes followed by the data bytes
//   offset 40  u64      0 (reserved)
//   offset 48  the JSON header (UTF-8, padded with spaces so the data starts at a multiple of 64)
//   then       the tensor data, float32 little-endian, each tensor at its "offset" in the data
//
// The header:
//   {"format": "ucluster-model", "version": 1,
//    "dims": {"num_points": 100, "num_features": 8, "k": 10, "gap0_width": 16, "gap1_width": 128,
//             "latent": 3, "num_classes": 20, "num_clusters": 3},
//    "constants": {"batch_norm_epsilon": 0.001, "attention_leaky_slope": 0.2,
//                  "knn_padding_penalty": 1000.0},
//    "inverse_temperature": 10.0,
//    "source": {...free-form provenance: checkpoint path, epoch, global step...},
//    "tensors": {"gap0_newfea.W": {"dtype": "F32", "shape": [8, 16], "offset": 0}, ...}}
// The tensors are those of model::UClusterModel::declare (trainable tensors and the batch-norm
// moving statistics) with the same names and shapes, in row-major order.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/layers.h"

namespace ucluster::embed {

constexpr std::uint32_t kModelFormatVersion = 1;
constexpr char kModelMagic[8] = {'U', 'C', 'L', 'M', 'O', 'D', 'E', 'L'};
constexpr std::size_t kModelPrefixBytes = 48;
constexpr std::size_t kModelDataAlignment = 64;

// Why a model file was refused; the message says which tensor/field/offset.
enum class ModelFileProblem { Io, Truncated, Corrupted, Version, Shape };

class ModelFileError : public std::runtime_error {
 public:
  ModelFileError(ModelFileProblem problem, const std::string& message)
      : std::runtime_error(message), problem_(problem) {}
  ModelFileProblem problem() const { return problem_; }

 private:
  ModelFileProblem problem_;
};

struct ModelTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major
};

// Everything in a model file, as plain values.
struct ModelContents {
  model::ModelDims dims;
  double batch_norm_epsilon = 1e-3;
  double attention_leaky_slope = 0.2;
  double knn_padding_penalty = 1000.0;
  double inverse_temperature = 0;
  std::string source_json = "{}";  // the "source" object, serialised
  std::map<std::string, ModelTensor> tensors;
};

// The names and shapes every model of `dims` must hold (model::UClusterModel::declare's).
std::map<std::string, std::vector<std::int64_t>> required_tensors(const model::ModelDims& dims);

// The bytes of a model file. Throws ModelFileError(Shape) when a required tensor is missing or
// has another shape.
std::vector<unsigned char> serialise_model(const ModelContents& contents);

// Parses and checks a model file (magic, version, sizes, checksum, header, every required tensor
// with its shape, no overlap or out-of-range offsets, finite values, the dims this library was
// built for). `what` names the source in messages (a path, or "memory buffer").
ModelContents parse_model(const unsigned char* data, std::size_t size, const std::string& what);

// Reads a whole file; ModelFileError(Io) when it cannot.
std::vector<unsigned char> read_model_bytes(const std::string& path);

}  // namespace ucluster::embed
