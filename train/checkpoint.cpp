#include "train/checkpoint.h"

#include <algorithm>
#include <cmath>

#include "io/h5.h"
#include "io/staged_file.h"

namespace ucluster {

namespace {

std::vector<float> host_floats(Context& ctx, const Tensor& t) { return ctx.to_vector<float>(t); }

void write_tensor(h5::File& file, const std::string& name, Context& ctx, const Tensor& t) {
  const std::vector<float> v = host_floats(ctx, t);
  h5::Dataset ds = file.create_dataset(name, h5::Element::F32, t.shape().dims());
  ds.write(v.data());
}

void read_tensor(Context& ctx, const h5::File& file, const std::string& name, const Tensor& dst) {
  UCLUSTER_CHECK(file.contains(name), "checkpoint '", file.path(), "' has no tensor '", name,
                 "' (a checkpoint of another model?)");
  h5::Dataset ds = file.open_dataset(name);
  UCLUSTER_CHECK(ds.shape() == dst.shape().dims(), "checkpoint '", file.path(), "': tensor '", name, "' has shape ",
                 Shape(ds.shape()).str(), " but the model expects ", dst.shape().str(),
                 " (a checkpoint of another model shape)");
  std::vector<float> v(static_cast<std::size_t>(dst.numel()));
  ds.read(v.data());
  const auto bad = std::find_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
  UCLUSTER_CHECK(bad == v.end(), "checkpoint '", file.path(), "': tensor '", name, "' holds ", *bad, " at element ",
                 bad - v.begin(), "; a checkpoint with NaN or infinite values cannot be used (damaged file?)");
  ctx.copy(dst, ctx.from_vector<float>(dst.shape(), v, Device::cpu()));
}

}  // namespace

TrainConfig checkpoint_config(const std::string& path, const nlohmann::json& config) {
  try {
    return config_from_json(config);
  } catch (const Error& e) {
    fail("the configuration stored in checkpoint '", path, "' is not valid for this version of ucluster (written by ",
         "another version?): ", e.what());
  }
}

CheckpointEvaluation checkpoint_evaluation(const TrainConfig& config, const nlohmann::json& state) {
  const int next_epoch = state.value("epoch", 0);
  const bool boundary = state.value("loader_step", std::int64_t(0)) == 0;
  const int epoch = std::max(0, boundary ? next_epoch - 1 : next_epoch);
  const AlphaSchedule alpha = config.schedules().alpha;
  return {epoch, alpha.eval(epoch), alpha.full_training(epoch)};
}

nlohmann::json RunState::to_json() const {
  nlohmann::json positions = nlohmann::json::array();
  for (const LoaderPosition& p : loader_positions) positions.push_back({p.epoch, p.step});
  return {{"epoch", epoch},
          {"loader_epoch", loader.epoch},
          {"loader_step", loader.step},
          {"world_size", world_size},
          {"loader_positions", positions},
          {"global_step", global_step},
          {"rng", rng},
          {"running", running.to_json()},
          {"last_lr", last_lr},
          {"last_bn_decay", last_bn_decay},
          {"history", history}};
}

RunState RunState::from_json(const nlohmann::json& j) {
  try {
    return parse_run_state(j);
  } catch (const nlohmann::json::exception& e) {
    fail("the checkpoint's 'state' attribute is incomplete or damaged: ", e.what());
  }
}

RunState RunState::parse_run_state(const nlohmann::json& j) {
  RunState s;
  s.epoch = j.at("epoch");
  s.loader = {j.at("loader_epoch").get<std::int64_t>(), j.at("loader_step").get<std::int64_t>()};
  s.world_size = j.value("world_size", 1);
  if (j.contains("loader_positions"))
    for (const auto& p : j.at("loader_positions"))
      s.loader_positions.push_back({p.at(0).get<std::int64_t>(), p.at(1).get<std::int64_t>()});
  s.global_step = j.at("global_step");
  s.rng = j.at("rng");
  s.running = PassStats::from_json(j.at("running"));
  s.last_lr = j.at("last_lr");
  s.last_bn_decay = j.at("last_bn_decay");
  s.history = j.at("history").get<std::vector<nlohmann::json>>();
  return s;
}

bool all_finite(Context& ctx, const Tensor& t) {
  if (t.dtype() == DType::F64) {
    for (double x : ctx.to_vector<double>(t))
      if (!std::isfinite(x)) return false;
    return true;
  }
  for (float x : ctx.to_vector<float>(t))
    if (!std::isfinite(x)) return false;
  return true;
}

void save_checkpoint(Context& ctx, const std::string& path, const ParamStore& store, const CheckpointData& data) {
  UCLUSTER_CHECK(all_finite(ctx, store.flat_params()) && all_finite(ctx, store.flat_buffers()),
                 "refusing to write checkpoint '", path, "': the parameters contain NaN or infinity");
  StagedFile staged(path);
  {
    h5::File file = h5::File::create(staged.temp_path());
    for (const auto& e : store.param_entries()) write_tensor(file, "params/" + e.name, ctx, store.param(e.name));
    for (const auto& e : store.buffer_entries()) write_tensor(file, "buffers/" + e.name, ctx, store.buffer(e.name));
    if (data.adam_m.defined()) {
      UCLUSTER_CHECK(all_finite(ctx, data.adam_m) && all_finite(ctx, data.adam_v), "refusing to write checkpoint '",
                     path, "': the optimiser moments contain NaN or infinity");
      write_tensor(file, "optimizer/m", ctx, data.adam_m);
      write_tensor(file, "optimizer/v", ctx, data.adam_v);
    }
    if (!data.embeddings.empty()) {
      const std::int64_t rows = static_cast<std::int64_t>(data.embeddings.size()) / data.embedding_dim;
      h5::Dataset ds = file.create_dataset("kmeans/embeddings", h5::Element::F32, {rows, data.embedding_dim});
      ds.write(data.embeddings.data());
      UCLUSTER_CHECK(static_cast<std::int64_t>(data.embedding_rows.size()) == rows, "checkpoint '", path, "': ",
                     rows, " embeddings but ", data.embedding_rows.size(), " row indices");
      file.create_dataset("kmeans/rows", h5::Element::I64, {rows}).write(data.embedding_rows.data());
    }
    nlohmann::json state = data.state;
    state["format_version"] = kCheckpointFormatVersion;
    // The per-epoch metrics history grows with the run (about 1 kB an epoch): it goes into a string
    // dataset, one entry per epoch, because HDF5 keeps attributes compact (64 kB at most).
    if (state.contains("history")) {
      std::vector<std::string> lines;
      for (const auto& h : state["history"]) lines.push_back(h.dump());
      file.write_strings("state/history", lines);
      state.erase("history");
    }
    file.write_attribute("config", data.config.dump());
    file.write_attribute("state", state.dump());
    file.close();
  }
  staged.commit();
}

TrainConfig read_checkpoint_config(const std::string& path) {
  h5::File file = h5::File::open(path);
  UCLUSTER_CHECK(file.has_attribute("config"), "'", path, "' is not a ucluster checkpoint (no config attribute)");
  const nlohmann::json config = nlohmann::json::parse(file.read_string_attribute("config"), nullptr, false);
  UCLUSTER_CHECK(!config.is_discarded() && config.is_object(), "checkpoint '", path,
                 "': its 'config' attribute is not a JSON object (damaged file?)");
  return checkpoint_config(path, config);
}

void load_checkpoint(Context& ctx, const std::string& path, const ParamStore& store, CheckpointData* data) {
  h5::File file = h5::File::open(path);
  UCLUSTER_CHECK(file.has_attribute("state") && file.has_attribute("config"), "'", path,
                 "' is not a ucluster checkpoint (no state/config attributes)");
  const nlohmann::json state = nlohmann::json::parse(file.read_string_attribute("state"), nullptr, false);
  UCLUSTER_CHECK(!state.is_discarded() && state.is_object(), "checkpoint '", path,
                 "': its 'state' attribute is not a JSON object (damaged file?)");
  UCLUSTER_CHECK(state.contains("format_version") && state["format_version"].is_number_integer(), "checkpoint '",
                 path, "': its 'state' attribute has no format_version (damaged file?)");
  const int version = state["format_version"].get<int>();
  UCLUSTER_CHECK(version == kCheckpointFormatVersion, "checkpoint '", path, "' has format version ", version,
                 "; this build reads version ", kCheckpointFormatVersion);
  for (const auto& e : store.param_entries()) read_tensor(ctx, file, "params/" + e.name, store.param(e.name));
  for (const auto& e : store.buffer_entries()) read_tensor(ctx, file, "buffers/" + e.name, store.buffer(e.name));
  if (!data) return;
  data->state = state;
  if (file.contains("state/history")) {
    nlohmann::json history = nlohmann::json::array();
    for (const auto& line : file.read_strings("state/history")) {
      history.push_back(nlohmann::json::parse(line, nullptr, false));
      UCLUSTER_CHECK(!history.back().is_discarded(), "checkpoint '", path, "': entry ", history.size() - 1,
                     " of state/history is not valid JSON (damaged file?)");
    }
    data->state["history"] = history;
  }
  data->config = nlohmann::json::parse(file.read_string_attribute("config"), nullptr, false);
  UCLUSTER_CHECK(!data->config.is_discarded() && data->config.is_object(), "checkpoint '", path,
                 "': its 'config' attribute is not a JSON object (damaged file?)");
  if (file.contains("optimizer/m")) {
    data->adam_m = ctx.zeros_like(store.flat_params());
    data->adam_v = ctx.zeros_like(store.flat_params());
    read_tensor(ctx, file, "optimizer/m", data->adam_m);
    read_tensor(ctx, file, "optimizer/v", data->adam_v);
  }
  data->embeddings.clear();
  data->embedding_rows.clear();
  if (file.contains("kmeans/embeddings")) {
    h5::Dataset ds = file.open_dataset("kmeans/embeddings");
    const h5::Dims dims = ds.shape();
    data->embedding_dim = dims.at(1);
    data->embeddings.resize(static_cast<std::size_t>(dims.at(0) * dims.at(1)));
    ds.read(data->embeddings.data());
    UCLUSTER_CHECK(file.contains("kmeans/rows"), "checkpoint '", path, "' has k-means embeddings without their rows");
    data->embedding_rows.resize(static_cast<std::size_t>(dims.at(0)));
    file.open_dataset("kmeans/rows").read(data->embedding_rows.data());
  }
}

}  // namespace ucluster
