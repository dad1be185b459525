// Device-specific ops without a CUDA kernel in this build get one that says so clearly, instead
// of the dispatcher's generic "could not run with the CUDA backend": in a build without CUDA,
// every such op; in a CUDA build, those whose CUDA twin is not written yet.
#include <torch/library.h>

namespace deepcomp::ops {
namespace {

#ifdef DEEPCOMP_WITH_CUDA
constexpr const char* kWithoutCudaKernel[] = {"codebook_decode", "codebook_grad"};
constexpr const char* kWhy = ": this op has no CUDA kernel yet (only its CPU kernel). Move the tensors to the CPU.";
#else
constexpr const char* kWithoutCudaKernel[] = {"apply_mask", "apply_mask_", "codebook_decode", "codebook_grad"};
constexpr const char* kWhy =
    ": this deepcomp was built without CUDA kernels (DEEPCOMP_FORCE_CPU, or no CUDA toolkit at build time). "
    "Move the tensors to the CPU, or rebuild deepcomp where nvcc is available.";
#endif

void no_cuda_kernel(const c10::OperatorHandle& op, torch::jit::Stack*) {
  TORCH_CHECK(false, op.schema().name(), kWhy);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CUDA, m) {
  for (const char* name : kWithoutCudaKernel) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&no_cuda_kernel>());
  }
}

}  // namespace deepcomp::ops
