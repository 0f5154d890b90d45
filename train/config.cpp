#include "train/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "engine/error.h"
#include "io/input_path.h"

namespace ucluster {

namespace {

// One table drives parsing, serialisation and the unknown-key check.
template <typename F>
void for_each_field(TrainConfig& c, F&& f) {
  f("preset", c.preset);
  f("task", c.task);
  f("clusters", c.clusters);
  f("train_file", c.train_file);
  f("test_file", c.test_file);
  f("toy_jets", c.toy_jets);
  f("toy_seed", c.toy_seed);
  f("shuffle", c.shuffle);
  f("batch_size", c.batch_size);
  f("epochs", c.epochs);
  f("pretrain_epochs", c.pretrain_epochs);
  f("learning_rate", c.learning_rate);
  f("lr_decay_samples", c.lr_decay_samples);
  f("lr_decay_rate", c.lr_decay_rate);
  f("lr_floor", c.lr_floor);
  f("bn_init_decay", c.bn_init_decay);
  f("bn_decay_samples", c.bn_decay_samples);
  f("bn_decay_rate", c.bn_decay_rate);
  f("bn_decay_clip", c.bn_decay_clip);
  f("km_alpha_train_slope", c.km_alpha_train_slope);
  f("km_alpha_eval_slope", c.km_alpha_eval_slope);
  f("km_alpha_train_shift", c.km_alpha_train_shift);
  f("focal_gamma", c.focal_gamma);
  f("focal_alpha", c.focal_alpha);
  f("beta", c.beta);
  f("focal_reduction", c.focal_reduction);
  f("kmeans_n_init", c.kmeans_n_init);
  f("kmeans_max_iter", c.kmeans_max_iter);
  f("kmeans_tol", c.kmeans_tol);
  f("kmeans_max_samples", c.kmeans_max_samples);
  f("batch_split", c.batch_split);
  f("lr_scaling", c.lr_scaling);
  f("lr_warmup_steps", c.lr_warmup_steps);
  f("batch_norm_stats", c.batch_norm_stats);
  f("collectives", c.collectives);
  f("timeout_s", c.timeout_s);
  f("edge_path", c.edge_path);
  f("seed", c.seed);
  f("device", c.device);
  f("threads", c.threads);
  f("output_dir", c.output_dir);
  f("checkpoint_every", c.checkpoint_every);
  f("max_steps", c.max_steps);
}

template <typename T>
void read_value(const nlohmann::json& v, const char* key, T& out) {
  using nlohmann::json;
  if constexpr (std::is_same_v<T, bool>) {
    UCLUSTER_CHECK(v.is_boolean(), "config key '", key, "' must be true or false, got ", v.dump());
    out = v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    UCLUSTER_CHECK(v.is_string(), "config key '", key, "' must be a string, got ", v.dump());
    out = v.get<std::string>();
  } else if constexpr (std::is_integral_v<T>) {
    // Range-checked before narrowing: 4294967298 must not become 2 in a 32-bit key.
    using Limits = std::numeric_limits<T>;
    const auto out_of_range = [&] {
      fail("config key '", key, "' = ", v.dump(), " is outside the range of this key [", +Limits::min(), ", ",
           +Limits::max(), "]");
    };
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(Limits::max())) out_of_range();
      out = static_cast<T>(u);
    } else if (v.is_number_integer()) {
      const auto i = v.get<std::int64_t>();
      UCLUSTER_CHECK(!std::is_unsigned_v<T> || i >= 0, "config key '", key, "' must not be negative, got ", v.dump());
      if constexpr (std::is_signed_v<T>) {
        if (i < static_cast<std::int64_t>(Limits::min()) || i > static_cast<std::int64_t>(Limits::max())) out_of_range();
      }
      out = static_cast<T>(i);
    } else {
      // A float that holds a whole number (1e3, 512.0) is accepted when it is exactly representable.
      UCLUSTER_CHECK(v.is_number_float() && std::isfinite(v.get<double>()) && std::trunc(v.get<double>()) == v.get<double>(),
                     "config key '", key, "' must be an integer, got ", v.dump());
      const double d = v.get<double>();
      UCLUSTER_CHECK(!std::is_unsigned_v<T> || d >= 0, "config key '", key, "' must not be negative, got ", v.dump());
      // Both bounds as doubles: min() is a power of two (exact), max() + 1 is one too.
      if (d < static_cast<double>(Limits::min()) || d >= 2.0 * static_cast<double>(Limits::max() / 2 + 1)) out_of_range();
      out = static_cast<T>(d);
    }
  } else {
    UCLUSTER_CHECK(v.is_number() && std::isfinite(v.get<double>()), "config key '", key, "' must be a finite number, got ",
                   v.dump());
    out = v.get<double>();
  }
}

// spec 0.1: the committed script (A) and the archived run (B) differ in five numbers.
struct Preset {
  const char* name;
  double focal_gamma, focal_alpha, beta;
  int pretrain_epochs;
  double km_alpha_train_slope, km_alpha_eval_slope;
};
constexpr Preset kPresets[] = {{"A", 4.0, 10.0, 1.0, 11, 2.0, 2.0}, {"B", 2.0, 1.0, 10.0, 21, 5.0, 2.0}};

// ucluster-ad-spec.md 2.1, 2.4 (train_kmeans_seg.py): 100 epochs, k-means after epoch 10, batch
// 1024, lr 1e-2 halved every 1e6 samples, BN decay per 1e6 samples, focal gamma 2 alpha 10, the
// clustering loss unweighted, alpha_train = 10 (e - 8), alpha_eval = 10 (e - 9), 2 clusters.
void apply_anomaly_preset(TrainConfig& c) {
  c.preset = "AD";
  c.task = "events";
  c.clusters = 2;
  c.epochs = 100;
  c.pretrain_epochs = 11;
  c.batch_size = 1024;
  c.learning_rate = 1e-2;
  c.lr_decay_samples = 1000000;
  c.bn_decay_samples = 1000000;
  c.focal_gamma = 2.0;
  c.focal_alpha = 10.0;
  c.beta = 1.0;
  c.km_alpha_train_slope = 10.0;
  c.km_alpha_eval_slope = 10.0;
  c.km_alpha_train_shift = 1;
}

void apply_preset(TrainConfig& c, const std::string& preset) {
  if (preset == "AD") return apply_anomaly_preset(c);
  for (const Preset& p : kPresets) {
    if (preset != p.name) continue;
    c.focal_gamma = p.focal_gamma;
    c.focal_alpha = p.focal_alpha;
    c.beta = p.beta;
    c.pretrain_epochs = p.pretrain_epochs;
    c.km_alpha_train_slope = p.km_alpha_train_slope;
    c.km_alpha_eval_slope = p.km_alpha_eval_slope;
    c.preset = preset;
    return;
  }
  fail("config key 'preset' must be \"A\", \"B\" or \"AD\", got \"", preset, "\"");
}

}  // namespace

std::int64_t TrainConfig::rank_batch(int world) const {
  if (batch_split == "per_rank") return batch_size;
  UCLUSTER_CHECK(batch_size % world == 0, "batch_size ", batch_size, " does not divide evenly among ", world,
                 " ranks (batch_split = \"global\"): choose a multiple of ", world);
  return batch_size / world;
}

std::int64_t TrainConfig::global_batch(int world) const {
  return batch_split == "per_rank" ? batch_size * world : batch_size;
}

double TrainConfig::lr_scale(int world, std::int64_t step) const {
  const double target = lr_scaling == "linear" ? double(global_batch(world)) / double(batch_size) : 1.0;
  if (lr_warmup_steps <= 0 || step >= lr_warmup_steps) return target;
  return 1.0 + (target - 1.0) * double(step) / double(lr_warmup_steps);
}

bool TrainConfig::synchronised_batch_norm(int world) const {
  if (world == 1) return false;
  if (batch_norm_stats == "auto") return batch_split == "global";
  return batch_norm_stats == "global";
}

TrainingSchedules TrainConfig::schedules(int world) const {
  // The decays are defined in samples (spec 4.2-4.3): the jets of one step over all ranks.
  const std::int64_t step_jets = global_batch(world);
  TrainingSchedules s;
  s.lr = {learning_rate, lr_decay_samples, lr_decay_rate, lr_floor, step_jets};
  s.bn_decay = {bn_init_decay, bn_decay_samples, bn_decay_rate, bn_decay_clip, step_jets};
  s.alpha = {max_pretrain(), km_alpha_train_slope, km_alpha_eval_slope, km_alpha_train_shift};
  return s;
}

model::ModelDims TrainConfig::model_dims() const {
  if (events()) return model::event_model_dims(clusters);
  model::ModelDims d;
  d.num_clusters = clusters;
  return d;
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
  TrainConfig copy = *this;
  for_each_field(copy, [&](const char* key, auto& value) { j[key] = value; });
  return j;
}

TrainConfig config_from_json(const nlohmann::json& j) {
  UCLUSTER_CHECK(j.is_object(), "configuration must be a JSON object, got ", j.dump());
  TrainConfig c;
  if (j.contains("preset")) {
    std::string preset;
    read_value(j.at("preset"), "preset", preset);
    apply_preset(c, preset);
  }
  std::vector<std::string> known;
  for_each_field(c, [&](const char* key, auto& value) {
    known.emplace_back(key);
    if (std::string(key) != "preset" && j.contains(key)) read_value(j.at(key), key, value);
  });
  for (const auto& [key, value] : j.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      fail("unknown config key '", key, "' (known keys: ", list, ")");
    }
  }
  validate(c);
  return c;
}

void apply_override(nlohmann::json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  UCLUSTER_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '", assignment, "'");
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded() || value.is_object() || value.is_array()) value = text;
  j[key] = value;
}

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json j = nlohmann::json::object();
  if (!path.empty()) {
    require_input_path("config file", path);
    std::ifstream in(path);
    UCLUSTER_CHECK(in.good(), "cannot open config file '", path, "'");
    try {
      j = nlohmann::json::parse(in, nullptr, true, true);
    } catch (const nlohmann::json::parse_error& e) {
      // e.what() names the line and column: "... parse error at line 1, column 14: syntax error ...".
      fail("config file '", path, "' is not valid JSON: ", e.what());
    }
  }
  for (const auto& o : overrides) apply_override(j, o);
  try {
    return config_from_json(j);
  } catch (const Error& e) {
    fail(path.empty() ? "" : "config file '" + path + "': ", e.what());
  }
}

void validate(const TrainConfig& c) {
  auto positive = [](const char* key, double v) { UCLUSTER_CHECK(v > 0, "config key '", key, "' must be > 0, got ", v); };
  auto unit = [](const char* key, double v) {
    UCLUSTER_CHECK(v >= 0 && v <= 1, "config key '", key, "' must be in [0, 1], got ", v);
  };
  positive("batch_size", double(c.batch_size));
  positive("epochs", c.epochs);
  UCLUSTER_CHECK(c.pretrain_epochs >= 1 && c.pretrain_epochs <= c.epochs, "config key 'pretrain_epochs' must be in [1, epochs = ",
                 c.epochs, "], got ", c.pretrain_epochs);
  positive("learning_rate", c.learning_rate);
  positive("lr_decay_samples", double(c.lr_decay_samples));
  positive("lr_decay_rate", c.lr_decay_rate);
  UCLUSTER_CHECK(c.lr_floor >= 0, "config key 'lr_floor' must be >= 0, got ", c.lr_floor);
  unit("bn_init_decay", c.bn_init_decay);
  positive("bn_decay_samples", double(c.bn_decay_samples));
  unit("bn_decay_rate", c.bn_decay_rate);
  unit("bn_decay_clip", c.bn_decay_clip);
  UCLUSTER_CHECK(c.focal_gamma >= 0, "config key 'focal_gamma' must be >= 0, got ", c.focal_gamma);
  positive("focal_alpha", c.focal_alpha);
  UCLUSTER_CHECK(c.beta >= 0, "config key 'beta' must be >= 0, got ", c.beta);
  positive("kmeans_n_init", c.kmeans_n_init);
  positive("kmeans_max_iter", c.kmeans_max_iter);
  positive("kmeans_tol", c.kmeans_tol);
  UCLUSTER_CHECK(c.kmeans_max_samples >= 0, "config key 'kmeans_max_samples' must be >= 0");
  UCLUSTER_CHECK(c.threads >= 0, "config key 'threads' must be >= 0, got ", c.threads);
  UCLUSTER_CHECK(c.checkpoint_every >= 0, "config key 'checkpoint_every' must be >= 0");
  UCLUSTER_CHECK(c.max_steps >= 0, "config key 'max_steps' must be >= 0");
  auto one_of = [](const char* key, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    }
    fail("config key '", key, "' must be one of ", list, ", got \"", v, "\"");
  };
  one_of("batch_split", c.batch_split, {"global", "per_rank"});
  one_of("lr_scaling", c.lr_scaling, {"linear", "none"});
  one_of("batch_norm_stats", c.batch_norm_stats, {"auto", "global", "local"});
  one_of("collectives", c.collectives, {"auto", "mpi", "nccl", "single"});
  one_of("edge_path", c.edge_path, {"auto", "fused", "unfused"});
  one_of("task", c.task, {"jets", "events"});
  one_of("focal_reduction", c.focal_reduction, {"per_point", "max_points"});
  if (c.events()) {
    // The training metrics keep a confusion matrix of up to StepRecord::kClusters clusters.
    UCLUSTER_CHECK(c.clusters >= 2 && c.clusters <= 8, "config key 'clusters' must be in [2, 8] for task \"events\", got ",
                   c.clusters);
    UCLUSTER_CHECK(!c.toy_data(), "task \"events\" needs prepared event files in 'train_file' and 'test_file' "
                   "(make-toy-events, then prepare-data --task lhco; tools/anomaly-quickstart does both)");
  } else {
    UCLUSTER_CHECK(c.clusters == 3, "config key 'clusters' must be 3 for task \"jets\" (W, Z, top), got ", c.clusters);
  }
  UCLUSTER_CHECK(c.km_alpha_train_shift >= 0 && c.km_alpha_train_shift <= 1,
                 "config key 'km_alpha_train_shift' must be 0 or 1, got ", c.km_alpha_train_shift);
  UCLUSTER_CHECK(c.lr_warmup_steps >= 0, "config key 'lr_warmup_steps' must be >= 0");
  UCLUSTER_CHECK(c.timeout_s >= 0, "config key 'timeout_s' must be >= 0 (0: no timeout), got ", c.timeout_s);
  UCLUSTER_CHECK(!c.output_dir.empty(), "config key 'output_dir' must not be empty");
  UCLUSTER_CHECK(c.train_file.empty() == c.test_file.empty(),
                 "config keys 'train_file' and 'test_file' must be given together (or neither, for toy data)");
  if (c.toy_data()) UCLUSTER_CHECK(c.toy_jets >= 10, "config key 'toy_jets' must be >= 10, got ", c.toy_jets);
}

}  // namespace ucluster
