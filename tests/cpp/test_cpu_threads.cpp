// deepcomp's CPU kernels use ATen's intra-op threads: at::parallel_for is inline, and in code compiled
// without OpenMP (where torch uses it) it silently ran every kernel on one thread.
#include <catch2/catch.hpp>

#include <deepcomp/ops.h>

TEST_CASE("the CPU kernels split their work over ATen's intra-op threads") {
  REQUIRE(deepcomp::ops::cpu_kernels_parallel());
}
