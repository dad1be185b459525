// The C++ API of deepcomp's ops: typed calls through the dispatcher (see include/deepcomp/ops.h).
#include <deepcomp/ops.h>

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>

namespace deepcomp::ops {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using OptionalTensor = std::optional<at::Tensor>;

}  // namespace

at::Tensor apply_mask(const at::Tensor& weight, const at::Tensor& mask) {
  static const auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&)>("deepcomp::apply_mask");
  return handle.call(weight, mask);
}

void apply_mask_(at::Tensor& weight, const at::Tensor& mask) {
  static const auto handle = op<void(at::Tensor&, const at::Tensor&)>("deepcomp::apply_mask_");
  handle.call(weight, mask);
}

at::Tensor masked_linear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                         const OptionalTensor& bias) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const OptionalTensor&)>(
          "deepcomp::masked_linear");
  return handle.call(input, weight, mask, bias);
}

Grads masked_linear_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                             const at::Tensor& mask, std::array<bool, 3> output_mask) {
  static const auto handle =
      op<Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, std::array<bool, 3>)>(
          "deepcomp::masked_linear_backward");
  return handle.call(grad_output, input, weight, mask, output_mask);
}

at::Tensor masked_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& mask,
                         const OptionalTensor& bias, at::IntArrayRef stride, at::IntArrayRef padding,
                         at::IntArrayRef dilation, int64_t groups) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const OptionalTensor&, at::IntArrayRef,
                    at::IntArrayRef, at::IntArrayRef, int64_t)>("deepcomp::masked_conv2d");
  return handle.call(input, weight, mask, bias, stride, padding, dilation, groups);
}

Grads masked_conv2d_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                             const at::Tensor& mask, at::IntArrayRef stride, at::IntArrayRef padding,
                             at::IntArrayRef dilation, int64_t groups, std::array<bool, 3> output_mask) {
  static const auto handle =
      op<Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, at::IntArrayRef,
               at::IntArrayRef, at::IntArrayRef, int64_t, std::array<bool, 3>)>("deepcomp::masked_conv2d_backward");
  return handle.call(grad_output, input, weight, mask, stride, padding, dilation, groups, output_mask);
}

at::Tensor magnitude_prune(const at::Tensor& weight, const at::Tensor& mask, std::optional<double> sensitivity,
                           std::optional<double> sparsity) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, std::optional<double>, std::optional<double>)>(
          "deepcomp::magnitude_prune");
  return handle.call(weight, mask, sensitivity, sparsity);
}

std::tuple<at::Tensor, at::Tensor> kmeans_quantize(const at::Tensor& weight, const OptionalTensor& mask, int64_t bits,
                                                   const std::string& init, const std::string& method, int64_t seed,
                                                   const OptionalTensor& importance) {
  static const auto handle =
      op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const OptionalTensor&, int64_t, c10::string_view,
                                            c10::string_view, int64_t, const OptionalTensor&)>(
          "deepcomp::kmeans_quantize");
  return handle.call(weight, mask, bits, init, method, seed, importance);
}

at::Tensor codebook_decode(const at::Tensor& indices, const at::Tensor& mask, const at::Tensor& codebook) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)>("deepcomp::codebook_decode");
  return handle.call(indices, mask, codebook);
}

at::Tensor codebook_grad(const at::Tensor& grad_weight, const at::Tensor& indices, const at::Tensor& mask,
                         int64_t num_codes, int64_t num_groups) {
  static const auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, int64_t)>(
      "deepcomp::codebook_grad");
  return handle.call(grad_weight, indices, mask, num_codes, num_groups);
}

at::Tensor shared_linear(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                         const at::Tensor& codebook, const OptionalTensor& bias) {
  static const auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const at::Tensor&, const OptionalTensor&)>("deepcomp::shared_linear");
  return handle.call(input, indices, mask, codebook, bias);
}

Grads shared_linear_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                             const at::Tensor& mask, const at::Tensor& codebook, std::array<bool, 3> output_mask) {
  static const auto handle = op<Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                      const at::Tensor&, std::array<bool, 3>)>("deepcomp::shared_linear_backward");
  return handle.call(grad_output, input, indices, mask, codebook, output_mask);
}

at::Tensor shared_conv2d(const at::Tensor& input, const at::Tensor& indices, const at::Tensor& mask,
                         const at::Tensor& codebook, const OptionalTensor& bias, at::IntArrayRef stride,
                         at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const OptionalTensor&,
                    at::IntArrayRef, at::IntArrayRef, at::IntArrayRef, int64_t)>("deepcomp::shared_conv2d");
  return handle.call(input, indices, mask, codebook, bias, stride, padding, dilation, groups);
}

Grads shared_conv2d_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                             const at::Tensor& mask, const at::Tensor& codebook, at::IntArrayRef stride,
                             at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                             std::array<bool, 3> output_mask) {
  static const auto handle =
      op<Grads(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
               at::IntArrayRef, at::IntArrayRef, at::IntArrayRef, int64_t, std::array<bool, 3>)>(
          "deepcomp::shared_conv2d_backward");
  return handle.call(grad_output, input, indices, mask, codebook, stride, padding, dilation, groups, output_mask);
}

std::tuple<at::Tensor, at::Tensor> compressed_linear_pack(const at::Tensor& indices, const at::Tensor& mask) {
  static const auto handle = op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&)>(
      "deepcomp::compressed_linear_pack");
  return handle.call(indices, mask);
}

at::Tensor compressed_linear(const at::Tensor& input, const at::Tensor& row_ptr, const at::Tensor& entries,
                             const at::Tensor& codebook, const OptionalTensor& bias) {
  static const auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const at::Tensor&, const OptionalTensor&)>("deepcomp::compressed_linear");
  return handle.call(input, row_ptr, entries, codebook, bias);
}

at::Tensor compressed_linear_codebook_grad(const at::Tensor& grad_output, const at::Tensor& input,
                                           const at::Tensor& row_ptr, const at::Tensor& entries, int64_t num_codes) {
  static const auto handle =
      op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t)>(
          "deepcomp::compressed_linear_codebook_grad");
  return handle.call(grad_output, input, row_ptr, entries, num_codes);
}

bool built_with_cuda() {
#ifdef DEEPCOMP_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool cpu_kernels_parallel() {
#ifdef INTRA_OP_PARALLEL
  return true;
#else
  return false;
#endif
}

}  // namespace deepcomp::ops
