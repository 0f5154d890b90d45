// The original authors' published TF checkpoints for the tests that import them: found beside the
// checkout at ../shared/reference/ucluster-published (UCLUSTER_SOURCE_DIR is the repository root,
// defined by the test target). Tests skip, saying so, when they are absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace ucluster::test {

// ../shared/reference/ucluster-published beside the checkout, or "" when absent.
inline std::string published_dir() {
  const std::filesystem::path p =
      std::filesystem::path(UCLUSTER_SOURCE_DIR).parent_path() / "shared" / "reference" / "ucluster-published";
  return std::filesystem::exists(p / "cluster.ckpt.index") ? p.string() : std::string();
}

}  // namespace ucluster::test

// Declares `dir` (the published directory) or skips the test with the reason.
#define REQUIRE_PUBLISHED()                                                                                   \
  const std::string dir = ::ucluster::test::published_dir();                                                  \
  if (dir.empty())                                                                                            \
    GTEST_SKIP() << "published TF checkpoints not found at ../shared/reference/ucluster-published (beside " \
                    "the checkout); nothing to import"
