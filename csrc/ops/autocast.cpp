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

  at::Tensor cast(const at::Tensor& tensor) const { return at::autocast::cached_cast(dtype, tensor, device); }
  OptionalTensor cast(const OptionalTensor& tensor) const {
    return at::autocast::cached_cast(dtype, tensor, device);
  }
};

template <c10::DeviceType device>
at::Tensor masked_linear_autocast(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                                  const OptionalTensor& bias) {
  AutocastScope<device> scope;
  return masked_linear(scope.cast(input), scope.cast(weight), mask, scope.cast(bias));
}

template <c10::DeviceType device>
at::Tensor masked_conv2d_autocast(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                                  const OptionalTensor& bias, at::IntArrayRef stride, at::IntArrayRef padding,
                                  at::IntArrayRef dilation, int64_t groups) {
  AutocastScope<device> scope;
  return masked_conv2d(scope.cast(input), scope.cast(weight), mask, scope.cast(bias), stride, padding, dilation,
                       groups);
}

template <c10::DeviceType device>
at::Tensor shared_linear_autocast(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                  const at::Tensor& codebook, const OptionalTensor& bias) {
  AutocastScope<device> scope;
  return shared_linear(scope.cast(input), indices, mask, scope.cast(codebook), scope.cast(bias));
}

template <c10::DeviceType device>
at::Tensor shared_conv2d_autocast(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                                  const at::Tensor& codebook, const OptionalTensor& bias, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  AutocastScope<device> scope;
  return shared_conv2d(scope.cast(input), indices, mask, scope.cast(codebook), scope.cast(bias), stride, padding,
                       dilation, groups);
}

template <c10::DeviceType device>
at::Tensor compressed_linear_autocast(const at::Tensor& input, const at::Tensor& row_ptr, const at::Tensor& entries,
                                      const at::Tensor& codebook, const OptionalTensor& bias) {
  AutocastScope<device> scope;
  return compressed_linear(scope.cast(input), row_ptr, entries, scope.cast(codebook), scope.cast(bias));
}

template <c10::DeviceType device>
void register_autocast(torch::Library& m) {
  m.impl("masked_linear", &masked_linear_autocast<device>);
  m.impl("masked_conv2d", &masked_conv2d_autocast<device>);
  m.impl("shared_linear", &shared_linear_autocast<device>);
  m.impl("shared_conv2d", &shared_conv2d_autocast<device>);
  m.impl("compressed_linear", &compressed_linear_autocast<device>);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, AutocastCPU, m) { register_autocast<c10::DeviceType::CPU>(m); }
TORCH_LIBRARY_IMPL(deepcomp, AutocastCUDA, m) { register_autocast<c10::DeviceType::CUDA>(m); }

}  // namespace deepcomp::ops
