// Mixed precision for the layer ops: under torch.autocast, masked_*, shared_* and compressed_linear run
// in the autocast dtype the way aten::linear and aten::conv2d do. Without this, a bfloat16 activation meets a float32
// weight (or codebook) inside the op and the GEMM fails. Floating arguments (input, weight, codebook,
// bias) are cast; mask and indices are not floating and pass through as they are. The casts are
// ordinary differentiable ops, so gradients reach the float32 weights and codebooks in float32.
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <deepcomp/ops.h>

namespace deepcomp::ops {
namespace {

using OptionalTensor = std::optional<at::Tensor>;

// Casts to the autocast dtype of `device`, and keeps this device's autocast key off below, so the op
// runs once, in that dtype (the backward ops are reached from autograd, where autocast is off).
template <c10::DeviceType device>
struct AutocastScope {
  c10::impl::ExcludeDispatchKeyGuard no_autocast{at::autocast::get_autocast_dispatch_key_from_device_type(device)};
  at::ScalarType dtype = at::autocast::get_autocast_dtype(device);

  // cached_cast casts floating tensors only: masks and indices pass as they are.
  at::Tensor cast(const at::Tensor& tensor) const { return at::autocast::cached_cast(dtype, tensor, device); }
  OptionalTensor cast(const OptionalTensor& tensor) const {
    return at::autocast::cached_cast(dtype, tensor, device);
  }
  // Sizes, strides and groups.
  template <typename T>
  const T& cast(const T& other) const {
    return other;
  }
};

// The op `op` (of type Signature) called with every floating tensor argument cast.
template <c10::DeviceType device, typename Signature, Signature* op>
struct Autocast;

template <c10::DeviceType device, typename... Args, at::Tensor (*op)(Args...)>
struct Autocast<device, at::Tensor(Args...), op> {
  static at::Tensor run(Args... args) {
    AutocastScope<device> scope;
    return op(scope.cast(args)...);
  }
};

template <c10::DeviceType device>
void register_autocast(torch::Library& m) {
  m.impl("masked_linear", &Autocast<device, decltype(masked_linear), masked_linear>::run);
  m.impl("masked_conv2d", &Autocast<device, decltype(masked_conv2d), masked_conv2d>::run);
  m.impl("shared_linear", &Autocast<device, decltype(shared_linear), shared_linear>::run);
  m.impl("shared_conv2d", &Autocast<device, decltype(shared_conv2d), shared_conv2d>::run);
  m.impl("compressed_linear", &Autocast<device, decltype(compressed_linear), compressed_linear>::run);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, AutocastCPU, m) { register_autocast<c10::DeviceType::CPU>(m); }
TORCH_LIBRARY_IMPL(deepcomp, AutocastCUDA, m) { register_autocast<c10::DeviceType::CUDA>(m); }

}  // namespace deepcomp::ops
