// The NCCL communicator on one GPU ("the NCCL path with one rank at least"): a single
// rank needs no MPI, so this runs on a GPU machine without MPI. Device all-reduce and broadcast go
// through NCCL on the context's stream; host collectives through the single-process communicator.
// Skips, saying so, without a GPU or without libnccl.
#include <gtest/gtest.h>

#include "tests/test_support.h"
#include "train/communicator.h"

namespace ucluster {
namespace {

TEST(NcclCommunicator, OneRankDeviceCollectivesRunThroughNccl) {
  std::unique_ptr<Context> ctx = test::cuda_context();
  if (!ctx) GTEST_SKIP() << "no usable CUDA device: the NCCL communicator is not exercised";
  SingleCommunicator host;
  std::unique_ptr<Communicator> nccl;
  try {
    nccl = device_communicator(host, *ctx, "nccl");
  } catch (const Error& e) {
    if (std::string(e.what()).find("cannot load libnccl") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  ASSERT_NE(nccl, nullptr);
  EXPECT_EQ(nccl->backend(), "nccl");
  EXPECT_EQ(nccl->size(), 1);

  // Sum over one rank: the values stay, bit for bit, for every element type.
  Tensor f = ctx->from_vector<float>({4}, {1.5f, -2.25f, 3.0e-8f, 7.0f});
  nccl->all_reduce_sum(*ctx, f.raw_data(), f.numel(), DType::F32, true, "test float all-reduce");
  EXPECT_EQ(ctx->to_vector<float>(f), (std::vector<float>{1.5f, -2.25f, 3.0e-8f, 7.0f}));
  Tensor d = ctx->from_vector<double>({2}, {1e-300, 3.25});
  nccl->all_reduce_sum(*ctx, d.raw_data(), d.numel(), DType::F64, true, "test double all-reduce");
  EXPECT_EQ(ctx->to_vector<double>(d), (std::vector<double>{1e-300, 3.25}));
  Tensor i = ctx->from_vector<std::int32_t>({3}, {-4, 0, 9});
  nccl->all_reduce_sum(*ctx, i.raw_data(), i.numel(), DType::I32, true, "test int all-reduce");
  EXPECT_EQ(ctx->to_vector<std::int32_t>(i), (std::vector<std::int32_t>{-4, 0, 9}));
  nccl->broadcast(*ctx, f.raw_data(), static_cast<std::int64_t>(f.bytes()), true, 0, "test broadcast");
  EXPECT_EQ(ctx->to_vector<float>(f), (std::vector<float>{1.5f, -2.25f, 3.0e-8f, 7.0f}));

  // Host-memory collectives go to the host communicator.
  std::vector<double> host_values = {2.0, 5.0};
  nccl->all_reduce_sum(*ctx, host_values.data(), 2, DType::F64, false, "test host all-reduce");
  EXPECT_EQ(host_values, (std::vector<double>{2.0, 5.0}));
  EXPECT_EQ(nccl->all_gather("x", "test all-gather"), (std::vector<std::string>{"x"}));
}

TEST(NcclCommunicator, CpuContextNeedsNoDeviceCommunicator) {
  Context cpu(test::cpu_options());
  SingleCommunicator host;
  EXPECT_EQ(device_communicator(host, cpu, "nccl"), nullptr);
  EXPECT_EQ(device_communicator(host, cpu, "auto"), nullptr);
}

}  // namespace
}  // namespace ucluster
