#include "engine/autograd.h"

#include "engine/profiling.h"

namespace ucluster {

Var make_var(Tensor value, bool requires_grad) {
  auto v = std::make_shared<VarNode>();
  v->value = std::move(value);
  v->requires_grad = requires_grad;
  return v;
}

Var param_var(const ParamStore& store, const std::string& name) {
  auto v = std::make_shared<VarNode>();
  v->value = store.param(name);
  v->grad = store.grad(name);
  v->requires_grad = true;
  return v;
}

bool Tape::needs_grad(std::initializer_list<const Var*> inputs) const {
  if (!grad_enabled_) return false;
  for (const Var* v : inputs)
    if (v && *v && (*v)->requires_grad) return true;
  return false;
}

Var Tape::output(Tensor value, std::initializer_list<const Var*> inputs) const {
  return make_var(std::move(value), needs_grad(inputs));
}

void Tape::record(const char* op, std::function<void()> backward) {
  steps_.push_back({scope_.empty() ? std::string(op) : scope_ + "/" + op, std::move(backward)});
}

const Tensor& Tape::grad(const Var& v) {
  if (!v->grad.defined()) v->grad = ctx_.zeros_like(v->value);
  return v->grad;
}

Tensor Tape::grad_if_needed(const Var& v) { return v && v->requires_grad ? grad(v) : Tensor(); }

void Tape::backward(const Var& loss) {
  UCLUSTER_CHECK(loss->value.numel() == 1, "Tape::backward: the loss must have one element, got ",
                 loss->value.describe());
  UCLUSTER_CHECK(loss->requires_grad, "Tape::backward: the loss does not depend on anything that requires grad");
  Tensor seed = ctx_.empty({1}, loss->value.dtype(), Device::cpu());
  if (seed.dtype() == DType::F64) *seed.data<double>() = 1.0;
  else *seed.data<float>() = 1.0f;
  backward(loss, seed);
}

void Tape::backward(const Var& output, const Tensor& seed) {
  UCLUSTER_CHECK(seed.numel() == output->value.numel() && seed.dtype() == output->value.dtype(),
                 "Tape::backward: seed ", seed.describe(), " does not match output ", output->value.describe());
  UCLUSTER_CHECK(output->requires_grad, "Tape::backward: the output does not depend on anything that requires grad");
  UCLUSTER_CHECK(!backpropagated_, "Tape::backward: this tape has already been backpropagated (its steps were "
                                   "released as they ran); record the computation on a new tape");
  backpropagated_ = true;
  ctx_.copy(grad(output), seed);
  ScopedRange range("backward");
  // Each step is released as soon as it has run: the activations and gradients only it still held
  // (most intermediate tensors) go back to the allocator while the rest of the backward runs, so the
  // peak memory of a training step is about its activations, not activations plus all gradients.
  while (!steps_.empty()) {
    const Step step = std::move(steps_.back());
    steps_.pop_back();
    ScopedRange step_range(step.name.c_str());
    step.backward();
  }
}

Var reshape(Tape& tape, const Var& x, const Shape& shape) {
  Var out = tape.output(x->value.reshape(shape), {&x});
  if (out->requires_grad) out->grad = tape.grad(x).reshape(shape);
  return out;
}

}  // namespace ucluster
