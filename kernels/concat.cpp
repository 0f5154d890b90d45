#include "kernels/concat.h"

#include <type_traits>

#include "kernels/cpu/concat.h"
#include "kernels/cuda/concat.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {
bool same_leading_dims(const Shape& a, const Shape& b) {
  if (a.rank() != b.rank()) return false;
  for (int i = 0; i + 1 < a.rank(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// Checks the inputs against each other; returns the total channel count.
std::int64_t check_inputs(const char* op, const std::vector<Tensor>& inputs) {
  UCLUSTER_CHECK(!inputs.empty(), op, ": no inputs");
  const Tensor& first = inputs[0];
  std::int64_t total = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    UCLUSTER_CHECK(t.defined(), op, ": input ", i, " is undefined");
    UCLUSTER_CHECK(t.rank() >= 1, op, ": input ", i, " ", t.describe(), " has no channel axis");
    UCLUSTER_CHECK(same_leading_dims(t.shape(), first.shape()), op, ": input ", i, " ", t.describe(),
                   " does not match input 0 ", first.describe(), " in its leading dimensions");
    UCLUSTER_CHECK(t.dtype() == first.dtype(), op, ": input ", i, " ", t.describe(), " has another dtype than input 0 ",
                   first.describe());
    check_same_device(op, first, t);
    total += t.shape().last();
  }
  return total;
}

// The inputs' channel counts and the [rows, total] shape of their concatenation.
struct Layout {
  std::vector<std::int64_t> widths;
  int count;
  std::int64_t rows, total;
};

// Checks the inputs and the concatenated tensor (the output, or its gradient) against each other.
Layout check_concat(const char* op, const std::vector<Tensor>& inputs, const char* whole_what, const Tensor& whole) {
  const std::int64_t total = check_inputs(op, inputs);
  const Tensor& first = inputs[0];
  check_shape(op, whole_what, whole, first.shape().with_last(total));
  check_dtype(op, whole_what, whole, first.dtype());
  check_same_device(op, first, whole);
  Layout layout{{}, static_cast<int>(inputs.size()), first.shape().rows(), total};
  for (const Tensor& t : inputs) layout.widths.push_back(t.shape().last());
  return layout;
}

// The typed data pointers of tensors (nullptr for undefined ones), P = T or const T.
template <typename P>
std::vector<P*> pointers_of(const std::vector<Tensor>& tensors) {
  std::vector<P*> ptrs;
  for (const Tensor& t : tensors) ptrs.push_back(ptr_or_null<std::remove_const_t<P>>(t));
  return ptrs;
}
}  // namespace

void concat_forward(Context& ctx, const std::vector<Tensor>& inputs, const Tensor& out) {
  const char* op = "concat";
  const auto [widths, count, rows, total] = check_concat(op, inputs, "output", out);
  const Tensor& first = inputs[0];
  switch (first.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, first.dtype(), [&]<typename T>() {
        cpu::concat_forward<T>(pointers_of<const T>(inputs).data(), widths.data(), count, out.data<T>(), rows, total);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, first,
                                cuda::concat_forward(ctx, pointers_of<const float>(inputs).data(), widths.data(), count,
                                                     out.data<float>(), rows, total));
  }
}

void concat_backward(Context& ctx, const std::vector<Tensor>& inputs, const Tensor& dout,
                     const std::vector<Tensor>& dinputs) {
  const char* op = "concat backward";
  const auto [widths, count, rows, total] = check_concat(op, inputs, "output gradient", dout);
  const Tensor& first = inputs[0];
  UCLUSTER_CHECK(dinputs.size() == inputs.size(), op, ": ", dinputs.size(), " input gradients for ", inputs.size(),
                 " inputs");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!dinputs[i].defined()) continue;
    check_shape(op, "input gradient", dinputs[i], inputs[i].shape());
    check_dtype(op, "input gradient", dinputs[i], first.dtype());
    check_same_device(op, first, dinputs[i]);
  }
  switch (first.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, first.dtype(), [&]<typename T>() {
        cpu::concat_backward<T>(dout.data<T>(), pointers_of<T>(dinputs).data(), widths.data(), count, rows, total);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, first,
                                cuda::concat_backward(ctx, dout.data<float>(), pointers_of<float>(dinputs).data(),
                                                      widths.data(), count, rows, total));
  }
}

Var concat(Tape& tape, const std::vector<Var>& inputs) {
  Context& ctx = tape.ctx();
  std::vector<Tensor> values;
  bool needs_grad = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    UCLUSTER_CHECK(inputs[i], "concat: input ", i, " is null");
    values.push_back(inputs[i]->value);
    needs_grad = needs_grad || tape.needs_grad({&inputs[i]});
  }
  const std::int64_t total = check_inputs("concat", values);
  Tensor y = ctx.empty(values[0].shape().with_last(total), values[0].dtype(), values[0].device());
  concat_forward(ctx, values, y);
  Var out = make_var(y, needs_grad);
  if (out->requires_grad) {
    tape.record("concat", [&tape, inputs, values, out] {
      std::vector<Tensor> grads;
      for (const Var& v : inputs) grads.push_back(tape.grad_if_needed(v));
      concat_backward(tape.ctx(), values, tape.grad(out), grads);
    });
  }
  return out;
}

}  // namespace ucluster
