// The CUDA twins against their CPU references. Without a GPU the whole executable is skipped
// (exit 77, which ctest reports as "Skipped").
#define CATCH_CONFIG_RUNNER
#include "../helpers.h"

#include <iostream>

int main(int argc, char** argv) {
  if (!torch::cuda::is_available()) {
    std::cout << "no CUDA device: the CUDA twin tests are skipped\n";
    return 77;
  }
  // The twins are compared with CPU references in full float32: no TF32 in cuDNN's convolutions,
  // which torch allows by default (cuBLAS's matmuls are full float32 by default).
  at::globalContext().setAllowTF32CuDNN(false);
  return Catch::Session().run(argc, argv);
}
