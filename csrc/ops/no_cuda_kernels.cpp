// In a build without CUDA kernels (DEEPCOMP_FORCE_CPU, or no toolkit), the device-specific ops get a
// CUDA kernel that says so clearly, instead of the dispatcher's generic "could not run with the
// CUDA backend". A CUDA build has a twin for each of them in cuda/.
#include <torch/library.h>

#include "check.h"

#ifndef DEEPCOMP_WITH_CUDA
namespace deepcomp::ops {
namespace {

constexpr const char* kDeviceSpecificOps[] = {"apply_mask",        "apply_mask_",
                                              "codebook_decode",   "codebook_grad",
                                              "compressed_linear", "compressed_linear_codebook_grad"};

void no_cuda_kernel(const c10::OperatorHandle& op, torch::jit::Stack*) {
  DEEPCOMP_CHECK(false, op.schema().name(),
                 ": this deepcomp was built without CUDA kernels (DEEPCOMP_FORCE_CPU, or no CUDA toolkit at build "
                 "time). Move the tensors to the CPU, or rebuild deepcomp where nvcc is available.");
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  for (const char* name : kDeviceSpecificOps) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&no_cuda_kernel>());
  }
}

}  // namespace deepcomp::ops
#endif
