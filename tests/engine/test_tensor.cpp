#include "engine/context.h"
#include "engine/param_store.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

TEST(Tensor, ViewsShareStorageAndReshapeChecksCounts) {
  Context ctx(test::cpu_options());
  Tensor t = ctx.from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor v = t.view(2, {2, 2});
  EXPECT_TRUE(v.shares_storage(t));
  EXPECT_EQ(ctx.to_vector<float>(v), (std::vector<float>{2, 3, 4, 5}));
  v.data<float>()[0] = 42;
  EXPECT_EQ(t.data<float>()[2], 42);
  EXPECT_EQ(t.reshape({3, 2}).dim(0), 3);
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(t.view(5, {2}), Error);
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_EQ(t.describe(), "float32[2,3]@cpu");
}

TEST(Tensor, ShapeHelpers) {
  Shape s{4, 5, 6};
  EXPECT_EQ(s.numel(), 120);
  EXPECT_EQ(s.rows(), 20);
  EXPECT_EQ(s[-1], 6);
  EXPECT_EQ(s.with_last(2).str(), "[4,5,2]");
}

TEST(Context, CudaRequestWithoutGpuFailsClearlyAndAutoFallsBack) {
  ContextOptions o;
  o.device = "cuda";
  try {
    Context ctx(o);
    // A machine with a GPU gets here: then the device must be CUDA.
    EXPECT_TRUE(ctx.device().is_cuda());
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
  std::string notice;
  o.device = "auto";
  o.log = [&](const std::string& line) { notice = line; };
  Context ctx(o);
  if (ctx.device().is_cpu()) {
    EXPECT_NE(notice.find("running on the CPU"), std::string::npos) << notice;
  }
  o.device = "tpu";
  EXPECT_THROW(Context bad(o), Error);
}

TEST(Allocator, CachingReusesFreedBlocks) {
  auto alloc = make_cpu_allocator();
  {
    auto a = Tensor::empty(alloc, {1000}, DType::F32);
  }
  auto stats = alloc->stats();
  EXPECT_EQ(stats.system_allocations, 1u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  { auto b = Tensor::empty(alloc, {900}, DType::F32); }  // same 4 KiB bucket
  EXPECT_EQ(alloc->stats().system_allocations, 1u);
  EXPECT_EQ(alloc->stats().peak_bytes_in_use, CachingAllocator::bucket_size(4000));
  alloc->release_cached();
  EXPECT_EQ(alloc->stats().bytes_cached, 0u);
}

TEST(Rng, SameSeedSameSequenceAndStateRoundTrip) {
  Rng a(123), b(123);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  const std::string state = a.state();
  const double x = a.normal();
  Rng c(1);
  c.set_state(state);
  EXPECT_EQ(c.normal(), x);
  EXPECT_NE(a.derive(0).next_u64(), a.derive(1).next_u64());
  EXPECT_EQ(Rng(5).derive(3).next_u64(), Rng(5).derive(3).next_u64());
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LT(a.below(7), 7u);
  }
}

TEST(ParamStore, FlatBuffersWithNamedViews) {
  Context ctx(test::cpu_options());
  ParamStore store;
  store.add_param("a.W", {2, 3});
  store.add_param("a.b", {3});
  store.add_buffer("a.bn_mean", {3});
  EXPECT_THROW(store.add_param("a.W", {1}), Error);
  store.finalize(ctx, Device::cpu());
  EXPECT_EQ(store.num_params(), 9);
  EXPECT_EQ(store.flat_params().numel(), 9);
  EXPECT_EQ(store.flat_grads().numel(), 9);
  EXPECT_EQ(store.flat_buffers().numel(), 3);
  store.param("a.b").data<float>()[1] = 5;
  EXPECT_EQ(store.flat_params().data<float>()[7], 5);
  store.grad("a.W").data<float>()[0] = 3;
  store.zero_grad(ctx);
  EXPECT_EQ(store.flat_grads().data<float>()[0], 0);
  EXPECT_THROW(store.param("nope"), Error);
  EXPECT_THROW(store.add_param("late", {1}), Error);
}

}  // namespace
}  // namespace ucluster
