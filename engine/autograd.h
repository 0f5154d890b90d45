// Tape-based reverse-mode autograd.
//
// A Var is a node holding a value tensor and, when it takes part in differentiation, a gradient
// tensor. Every differentiable op (kernels/*.h, the functions taking a Tape&) computes its output
// and, when gradients are enabled and some input requires them, records on the tape the backward
// function to call. Tape::backward runs the recorded functions in reverse order. Backward functions
// accumulate into input gradients with +=, so a Var used twice gets the sum of both contributions,
// and parameter Vars accumulate straight into the ParamStore's flat gradient buffer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/param_store.h"

namespace ucluster {

struct VarNode {
  Tensor value;
  Tensor grad;  // allocated (zero-filled) on first use, or a view into ParamStore's gradients
  bool requires_grad = false;
};
using Var = std::shared_ptr<VarNode>;

// A constant input (requires_grad = false) or a leaf whose gradient is wanted.
Var make_var(Tensor value, bool requires_grad = false);
// A parameter leaf: value and gradient are the ParamStore's named views.
Var param_var(const ParamStore& store, const std::string& name);

class Tape {
 public:
  explicit Tape(Context& ctx, bool grad_enabled = true) : ctx_(ctx), grad_enabled_(grad_enabled) {}
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  Context& ctx() const { return ctx_; }
  bool grad_enabled() const { return grad_enabled_; }

  // True when an op with these inputs must record a backward step.
  bool needs_grad(std::initializer_list<const Var*> inputs) const;
  // Output Var of an op: requires grad iff needs_grad(inputs).
  Var output(Tensor value, std::initializer_list<const Var*> inputs) const;
  void record(const char* op, std::function<void()> backward);
  // The layer name recorded steps are attributed to (profiling ranges "<scope>/<op>").
  void set_scope(std::string scope) { scope_ = std::move(scope); }
  const std::string& scope() const { return scope_; }

  // The gradient tensor of v, allocated zero-filled on first use.
  const Tensor& grad(const Var& v);
  // grad(v) when v is given and requires a gradient, else an undefined tensor: the optional gradient
  // outputs of the backward functions.
  Tensor grad_if_needed(const Var& v);

  // Seeds d(loss)/d(loss) = 1 (loss must have one element) and runs all recorded steps in reverse.
  // Each step is released once it has run (with the saved tensors only it held), so a tape can be
  // backpropagated once; a second call throws.
  void backward(const Var& loss);
  // Seeds d(.)/d(output) = seed (same shape as output) and runs all recorded steps in reverse, as above.
  void backward(const Var& output, const Tensor& seed);
  // Forgets the recorded steps (and with them the saved activations).
  void clear() { steps_.clear(); }
  std::size_t size() const { return steps_.size(); }

 private:
  struct Step {
    std::string name;  // "<scope>/<op>"
    std::function<void()> backward;
  };
  Context& ctx_;
  bool grad_enabled_;
  bool backpropagated_ = false;
  std::string scope_;
  std::vector<Step> steps_;
};

// Same data, new shape (no copy). The output's gradient is a view of the input's gradient, so no
// backward step is recorded.
Var reshape(Tape& tape, const Var& x, const Shape& shape);

}  // namespace ucluster
