// The model of a golden-data group (weights/ or tiny/weights/) as the library's ModelContents, and
// the bytes of its .ucm file: test support for tests/embed.
#pragma once

#include <string>
#include <vector>

#include "embed/src/model_file.h"
#include "model/ucluster_model.h"
#include "tests/model/golden.h"

namespace ucluster::test {

inline embed::ModelContents golden_contents(const GoldenFile& file, const std::string& group,
                                            double inverse_temperature = 10.0) {
  model::UClusterModel model;
  ParamStore store;
  model.declare(store);
  embed::ModelContents c;
  c.inverse_temperature = inverse_temperature;
  auto add = [&](const std::string& name, const Shape& shape) {
    const GoldenArray a = file.read(group + "/" + name);
    embed::ModelTensor t;
    t.shape = shape.dims();
    t.values.assign(a.values.begin(), a.values.end());
    c.tensors[name] = t;
  };
  for (const auto& e : store.param_entries()) add(e.name, e.shape);
  for (const auto& e : store.buffer_entries()) add(e.name, e.shape);
  return c;
}

inline std::vector<unsigned char> golden_model_bytes(const GoldenFile& file, const std::string& group) {
  return embed::serialise_model(golden_contents(file, group));
}

}  // namespace ucluster::test
