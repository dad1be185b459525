// In a build without CUDA, every device-specific op gets a CUDA kernel that says so clearly,
// instead of the dispatcher's generic "could not run with the CUDA backend".
#ifndef DEEPCOMP_WITH_CUDA

#include <torch/library.h>

namespace deepcomp::ops {
namespace {

void no_cuda_kernel(const c10::OperatorHandle& op, torch::jit::Stack*) {
  TORCH_CHECK(false, op.schema().name(),
              ": this deepcomp was built without CUDA kernels (DEEPCOMP_FORCE_CPU, or no CUDA toolkit "
              "at build time). Move the tensors to the CPU, or rebuild deepcomp where nvcc is available.");
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  for (const char* name : {"apply_mask", "apply_mask_"}) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&no_cuda_kernel>());
  }
}

}  // namespace deepcomp::ops

#endif  // DEEPCOMP_WITH_CUDA
