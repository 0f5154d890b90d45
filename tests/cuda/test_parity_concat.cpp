// CUDA-vs-CPU parity of the channel concatenation.
//
// Tolerance: none. The forward only moves data and the backward adds one float32 term per
// element (din += dout slice, a single correctly rounded addition with nothing to contract), so
// both must match the CPU bit for bit.
#include "kernels/concat.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class ConcatParity : public parity::CudaParity {
 protected:
  void check(const Shape& lead, const std::vector<std::int64_t>& widths) {
    std::vector<Tensor> in_c, in_g, d0, d_c, d_g;
    std::int64_t total = 0;
    for (std::int64_t w : widths) {
      const Shape s = lead.with_last(w);
      in_c.push_back(randn(s));
      in_g.push_back(to_gpu(in_c.back()));
      d0.push_back(randn(s));
      d_c.push_back(clone_cpu(d0.back()));
      d_g.push_back(to_gpu(d0.back()));
      total += w;
    }
    const Shape out_shape = lead.with_last(total);
    Tensor out_c = poisoned_cpu(out_shape), out_g = poisoned_gpu(out_shape);
    concat_forward(ctx(), in_c, out_c);
    concat_forward(ctx(), in_g, out_g);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "concat forward", out_g, out_c);

    const Tensor dout = randn(out_shape);
    // One gradient slot left undefined: it must be skipped on both backends.
    d_c[0] = Tensor();
    d_g[0] = Tensor();
    concat_backward(ctx(), in_c, dout, d_c);
    concat_backward(ctx(), in_g, to_gpu(dout), d_g);
    for (std::size_t i = 1; i < widths.size(); ++i)
      UCLUSTER_EXPECT_SAME_BITS(ctx(), "concat backward input " << i, d_g[i], d_c[i]);
  }
};

TEST_F(ConcatParity, Small) { check({2, 3, 1}, {1, 4, 2}); }
// gap_block's concat(x, o0) at B = 8 (spec 2.4 row 9).
TEST_F(ConcatParity, InputAndAttentionOutput) { check({8, 100, 1}, {8, 16, 128}); }
// The 848-channel concat before agg (spec 2.4 row 21), in the model's order.
TEST_F(ConcatParity, The848ChannelConcat) { check({8, 100, 1}, {64, 128, 256, 256, 16, 128}); }

}  // namespace
}  // namespace ucluster
