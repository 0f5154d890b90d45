#include "train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/losses.h"
#include "train/checkpoint.h"
#include "train/kmeans.h"

namespace ucluster {

namespace {

double scalar(Context& ctx, const Var& v) { return ctx.to_vector<float>(v->value).at(0); }

std::vector<int> as_ints(const std::vector<std::int32_t>& v, std::int64_t n) {
  return std::vector<int>(v.begin(), v.begin() + n);
}

// Config keys that may differ between a run and its resumption.
bool resumable_difference(const std::string& key) {
  return key == "epochs" || key == "max_steps" || key == "device" || key == "threads" || key == "checkpoint_every";
}

class Progress {
 public:
  Progress(const Trainer::Log& log, std::string what, std::int64_t total)
      : log_(log), what_(std::move(what)), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void update(std::int64_t done, double loss) {
    if (total_ <= 0) return;
    if (tty_) {
      const int width = 30, filled = static_cast<int>(width * done / total_);
      std::fprintf(stderr, "\r%s [%s%s] %lld/%lld loss %.4f", what_.c_str(), std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), static_cast<long long>(done),
                   static_cast<long long>(total_), loss);
      if (done == total_) std::fprintf(stderr, "\n");
    } else {
      // Plain lines at each quarter of the epoch when the output is not a terminal.
      const std::int64_t quarter = std::max<std::int64_t>(1, total_ / 4);
      if (done % quarter == 0 || done == total_)
        log_(make_message(what_, " ", done, "/", total_, " batches, loss ", loss));
    }
  }

 private:
  const Trainer::Log& log_;
  std::string what_;
  std::int64_t total_;
  bool tty_;
};

}  // namespace

RunPaths::RunPaths(const std::string& output_dir)
    : dir(output_dir),
      metrics(output_dir + "/metrics.jsonl"),
      checkpoint(output_dir + "/checkpoint.h5") {}

nlohmann::json PassStats::to_json() const {
  std::vector<std::int64_t> counts(confusion.data(), confusion.data() + confusion.size());
  return {{"focal_sum", focal_sum}, {"kmeans_sum", kmeans_sum}, {"total_sum", total_sum},
          {"batches", batches}, {"jets", jets}, {"per_batch_accuracy_sum", per_batch_accuracy_sum},
          {"full_batches", full_batches}, {"confusion", counts}};
}

void PassStats::add(Context& ctx, const model::Losses& losses, const Batch& b, std::int64_t batch_size) {
  focal_sum += scalar(ctx, losses.focal);
  kmeans_sum += scalar(ctx, losses.kmeans);
  total_sum += scalar(ctx, losses.total);
  batches += 1;
  jets += b.size;
  const std::vector<std::int32_t> pred32 = ctx.to_vector<std::int32_t>(losses.assignment);
  const std::vector<int> pred(pred32.begin(), pred32.end()), truth = as_ints(b.truth, b.size);
  confusion.add(truth, pred);
  // The reference's per-batch mean covers full batches only (its loop drops the tail, spec 1.7).
  if (b.size == batch_size) {
    per_batch_accuracy_sum += cluster_accuracy(truth, pred).accuracy;
    full_batches += 1;
  }
}

PassStats PassStats::from_json(const nlohmann::json& j) {
  PassStats s;
  s.focal_sum = j.at("focal_sum");
  s.kmeans_sum = j.at("kmeans_sum");
  s.total_sum = j.at("total_sum");
  s.batches = j.at("batches");
  s.jets = j.at("jets");
  s.per_batch_accuracy_sum = j.at("per_batch_accuracy_sum");
  s.full_batches = j.at("full_batches");
  const auto counts = j.at("confusion").get<std::vector<std::int64_t>>();
  UCLUSTER_CHECK(counts.size() == s.confusion.size(), "checkpoint: confusion counts of the wrong size");
  std::copy(counts.begin(), counts.end(), s.confusion.data());
  return s;
}

nlohmann::json PassStats::summary() const {
  const double n = std::max<std::int64_t>(1, batches);
  std::vector<std::vector<std::int64_t>> matrix(3, std::vector<std::int64_t>(3));
  for (int p = 0; p < 3; ++p)
    for (int t = 0; t < 3; ++t) matrix[p][t] = confusion.count(p, t);
  return {{"loss_focal", focal_sum / n},
          {"loss_kmeans", kmeans_sum / n},
          {"loss_total", total_sum / n},
          {"jets", jets},
          {"accuracy_global", confusion.total() > 0 ? confusion.accuracy().accuracy : 0.0},
          {"accuracy_per_batch_mean", full_batches > 0 ? per_batch_accuracy_sum / double(full_batches) : 0.0},
          {"confusion_pred_by_true", matrix}};
}

Trainer::Trainer(TrainConfig config, Context& ctx, std::unique_ptr<Loader> train, std::unique_ptr<Loader> test,
                 Log log)
    : config_(std::move(config)),
      ctx_(ctx),
      train_(std::move(train)),
      test_(std::move(test)),
      log_(std::move(log)),
      paths_(config_.output_dir),
      schedules_(config_.schedules()) {
  UCLUSTER_CHECK(train_->steps_per_epoch() > 0, "the training data (", train_->source().name(), ", ", train_->rows(),
                 " jets) hold fewer jets than one batch of ", config_.batch_size);
  UCLUSTER_CHECK(train_->rows() >= model_.dims().num_clusters, "the training data hold fewer jets (",
                 train_->rows(), ") than clusters (", model_.dims().num_clusters, ")");
  UCLUSTER_CHECK(train_->features() == model_.dims().num_features, "the training data have ", train_->features(),
                 " features per particle, the model expects ", model_.dims().num_features);
  model_.declare(store_);
  store_.finalize(ctx_, ctx_.device());
  Rng init_rng = Rng(config_.seed).derive(0);
  model_.initialise(ctx_, store_, init_rng);
  optimizer_ = std::make_unique<AdamOptimizer>(ctx_, store_);
}

Tensor Trainer::batch_tensor(const Batch& b, Tensor& targets) {
  targets = ctx_.from_vector<std::int32_t>({b.size}, std::vector<std::int32_t>(b.target.begin(), b.target.begin() + b.size));
  const std::vector<float> data(b.data.begin(), b.data.begin() + b.size * b.n_particles * b.n_features);
  return ctx_.from_vector<float>({b.size, b.n_particles, b.n_features}, data);
}

void Trainer::train_epoch(int epoch) {
  const bool joint = schedules_.alpha.full_training(epoch);
  const bool collect = epoch == config_.max_pretrain();
  const double alpha = schedules_.alpha.train(epoch);
  const std::vector<std::string> frozen = joint ? std::vector<std::string>{} : std::vector<std::string>{"mu"};
  Progress progress(log_, make_message("epoch ", epoch, joint ? " (joint)" : " (pre-training)"),
                    train_->steps_per_epoch());
  Batch b;
  while (train_->next(b)) {
    const std::int64_t global = optimizer_->step();
    last_lr_ = schedules_.lr.at(global);
    last_bn_decay_ = schedules_.bn_decay.at(global);
    Tensor targets;
    Tensor data = batch_tensor(b, targets);
    Tape tape(ctx_);
    model::ForwardOutput out = model_.forward(tape, store_, data, model::BatchNormMode::Train);
    model::Losses losses =
        model::compute_losses(tape, out, param_var(store_, "mu"), targets, alpha, config_.losses(), joint);
    const double total = scalar(ctx_, losses.total);
    if (!std::isfinite(total)) {
      const bool have = std::filesystem::exists(paths_.checkpoint);
      fail("training stopped: the loss is ", total, " at epoch ", epoch, ", batch ", b.step, " of the epoch (global step ",
           global, "); last good checkpoint: ", have ? paths_.checkpoint : std::string("none"));
    }
    store_.zero_grad(ctx_);
    tape.backward(losses.total);
    optimizer_->update(ctx_, store_, last_lr_, frozen);
    model_.update_moving_statistics(ctx_, store_, out, last_bn_decay_);

    running_.add(ctx_, losses, b, config_.batch_size);
    if (collect) {
      const std::vector<float> z = ctx_.to_vector<float>(out.z->value);
      embeddings_.insert(embeddings_.end(), z.begin(), z.end());
    }
    progress.update(b.step + 1, total);
    const std::int64_t done = optimizer_->step();
    if (config_.checkpoint_every > 0 && done % config_.checkpoint_every == 0 && b.step + 1 < train_->steps_per_epoch())
      save(paths_.checkpoint);
    if (config_.max_steps > 0 && done >= config_.max_steps) {
      save(paths_.checkpoint);
      log_(make_message("stopping after global step ", done, " (max_steps); checkpoint ", paths_.checkpoint));
      stop_requested_ = true;
      return;
    }
  }
}

PassStats Trainer::evaluate(int epoch) {
  const double alpha = schedules_.alpha.eval(epoch);
  const bool joint = schedules_.alpha.full_training(epoch);
  PassStats stats;
  test_->seek({epoch, 0});
  Batch b;
  while (test_->next(b)) {
    if (b.size == 0) continue;
    Tensor targets;
    Tensor data = batch_tensor(b, targets);
    Tape tape(ctx_, false);
    model::ForwardOutput out = model_.forward(tape, store_, data, model::BatchNormMode::Inference);
    model::Losses losses =
        model::compute_losses(tape, out, param_var(store_, "mu"), targets, alpha, config_.losses(), joint);
    stats.add(ctx_, losses, b, config_.batch_size);
  }
  return stats;
}

void Trainer::initialise_centroids(int epoch) {
  const std::int64_t d = model_.dims().latent;
  const std::int64_t n = static_cast<std::int64_t>(embeddings_.size()) / d;
  KMeansOptions o;
  o.clusters = static_cast<int>(model_.dims().num_clusters);
  o.n_init = config_.kmeans_n_init;
  o.max_iter = config_.kmeans_max_iter;
  o.tol = config_.kmeans_tol;
  o.seed = mix_seed(config_.seed ^ mix_seed(static_cast<std::uint64_t>(epoch) + 1000));
  o.max_samples = config_.kmeans_max_samples;
  const KMeansResult r = kmeans(embeddings_.data(), n, d, o);
  std::vector<float> mu(r.centroids.begin(), r.centroids.end());
  ctx_.copy(store_.param("mu"), ctx_.from_vector<float>(store_.param("mu").shape(), mu, Device::cpu()));
  log_(make_message("k-means++ on ", n, " embeddings (", r.fitted_rows, " fitted, n_init ", o.n_init,
                    "): inertia ", r.inertia, ", centroids ", nlohmann::json(mu).dump()));
  embeddings_.clear();
}

void Trainer::save(const std::string& path) {
  CheckpointData data;
  data.config = config_.to_json();
  std::vector<nlohmann::json> history(history_.begin(), history_.end());
  data.state = {{"epoch", epoch_},
                {"loader_epoch", train_->position().epoch},
                {"loader_step", train_->position().step},
                {"global_step", optimizer_->step()},
                {"rng", ctx_.rng().state()},
                {"running", running_.to_json()},
                {"last_lr", last_lr_},
                {"last_bn_decay", last_bn_decay_},
                {"history", history}};
  data.adam_m = optimizer_->m();
  data.adam_v = optimizer_->v();
  data.embeddings = embeddings_;
  data.embedding_dim = model_.dims().latent;
  save_checkpoint(ctx_, path, store_, data);
}

void Trainer::resume_from(const std::string& path) {
  UCLUSTER_CHECK(std::filesystem::exists(path), "--resume: no checkpoint '", path, "' to resume from");
  CheckpointData data;
  load_checkpoint(ctx_, path, store_, &data);
  const nlohmann::json now = config_.to_json();
  for (const auto& [key, value] : data.config.items()) {
    if (resumable_difference(key) || !now.contains(key)) continue;
    UCLUSTER_CHECK(now.at(key) == value, "--resume: config key '", key, "' is ", now.at(key).dump(),
                   " but the checkpoint was written with ", value.dump(), "; resume with the same configuration");
  }
  UCLUSTER_CHECK(data.adam_m.defined(), "--resume: checkpoint '", path, "' has no optimiser state");
  ctx_.copy(optimizer_->m(), data.adam_m);
  ctx_.copy(optimizer_->v(), data.adam_v);
  const nlohmann::json& s = data.state;
  optimizer_->set_step(s.at("global_step"));
  epoch_ = s.at("epoch");
  ctx_.rng().set_state(s.at("rng"));
  running_ = PassStats::from_json(s.at("running"));
  last_lr_ = s.at("last_lr");
  last_bn_decay_ = s.at("last_bn_decay");
  history_ = s.at("history").get<std::vector<nlohmann::json>>();
  embeddings_ = data.embeddings;
  train_->seek({s.at("loader_epoch").get<std::int64_t>(), s.at("loader_step").get<std::int64_t>()});
  write_metrics_file();
  log_(make_message("resumed from ", path, " at epoch ", epoch_, ", step ", s.at("loader_step").get<std::int64_t>(),
                    " (global step ", optimizer_->step(), ")"));
}

void Trainer::write_metrics_file() const {
  const std::string tmp = paths_.metrics + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    UCLUSTER_CHECK(out.good(), "cannot write metrics file '", paths_.metrics, "'");
    for (const auto& line : history_) out << line.dump() << "\n";
  }
  std::filesystem::rename(tmp, paths_.metrics);
}

nlohmann::json Trainer::run(bool resume) {
  std::filesystem::create_directories(paths_.dir);
  if (resume) resume_from(paths_.checkpoint);
  else write_metrics_file();
  log_(make_message("UCluster: ", store_.num_params(), " trainable parameters, ", train_->rows(), " training jets (",
                    train_->steps_per_epoch(), " steps of ", config_.batch_size, " per epoch), ", test_->rows(),
                    " test jets, device ", ctx_.device_description()));
  while (epoch_ < config_.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t jets_before = running_.jets;
    train_epoch(epoch_);
    if (stop_requested_) return history_.empty() ? nlohmann::json() : history_.back();
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (epoch_ == config_.max_pretrain()) initialise_centroids(epoch_);
    const PassStats test = evaluate(epoch_);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<float> mu = ctx_.to_vector<float>(store_.param("mu"));
    nlohmann::json line = {
        {"epoch", epoch_},
        {"phase", schedules_.alpha.full_training(epoch_) ? "joint" : "pretrain"},
        {"global_step", optimizer_->step()},
        {"learning_rate", last_lr_},
        {"bn_decay", last_bn_decay_},
        {"inverse_temperature", {{"train", schedules_.alpha.train(epoch_)}, {"eval", schedules_.alpha.eval(epoch_)}}},
        {"train", running_.summary()},
        {"test", test.summary()},
        {"centroids", mu},
        {"timing",
         {{"epoch_seconds", seconds},
          {"train_jets_per_s", double(running_.jets - jets_before) / std::max(1e-9, train_seconds)}}}};
    history_.push_back(line);
    {
      std::ofstream out(paths_.metrics, std::ios::app);
      out << line.dump() << "\n";
    }
    log_(make_message("epoch ", epoch_, ": train loss ", line["train"]["loss_total"].get<double>(), ", test loss ",
                      line["test"]["loss_total"].get<double>(), ", test accuracy ",
                      line["test"]["accuracy_global"].get<double>(), " (global) / ",
                      line["test"]["accuracy_per_batch_mean"].get<double>(), " (per-batch mean), ",
                      static_cast<long long>(line["timing"]["train_jets_per_s"].get<double>()), " jets/s"));
    ++epoch_;
    running_ = PassStats();
    save(paths_.checkpoint);
  }
  return history_.empty() ? nlohmann::json() : history_.back();
}

}  // namespace ucluster
