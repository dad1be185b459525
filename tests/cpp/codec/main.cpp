// The torch-free codec's tests (csrc/codec): no LibTorch, no GPU; they build in seconds.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
