// Every deepcomp op schema, defined once. Kernels are registered beside their implementations:
// csrc/ops/cpu (CPU), cuda/ (CUDA), csrc/ops/composite (device-generic, built from other ops),
// csrc/ops/autograd (Autograd key). Fake kernels for torch.compile: python/deepcomp/ops.py.
#include <torch/library.h>

TORCH_LIBRARY(deepcomp, m) {
  // weight where mask, else 0 (a temporary for a GEMM or a layer's own forward; never stored in a
  // module). Its gradient is the output's, masked.
  m.def("apply_mask(Tensor weight, Tensor mask) -> Tensor");
  // Zero the pruned entries of weight in place (after an optimizer step; on weight gradients).
  m.def("apply_mask_(Tensor(a!) weight, Tensor mask) -> ()");
  // Linear layer with a pruning mask: input (*, in) -> (*, out).
  m.def("masked_linear(Tensor input, Tensor weight, Tensor mask, Tensor? bias) -> Tensor");
  // Gradients of masked_linear w.r.t. (input, weight, bias); those not asked for are undefined.
  // The weight gradient is masked.
  m.def(
      "masked_linear_backward(Tensor grad_output, Tensor input, Tensor weight, Tensor mask, "
      "bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  // Conv2d layer with a pruning mask (zero padding; padding modes are the module's job).
  m.def(
      "masked_conv2d(Tensor input, Tensor weight, Tensor mask, Tensor? bias, int[2] stride, "
      "int[2] padding, int[2] dilation, int groups) -> Tensor");
  // Gradients of masked_conv2d w.r.t. (input, weight, bias), as for masked_linear_backward.
  m.def(
      "masked_conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, Tensor mask, "
      "int[2] stride, int[2] padding, int[2] dilation, int groups, bool[3] output_mask) "
      "-> (Tensor, Tensor, Tensor)");
  // One magnitude-pruning step: the new (smaller or equal) mask. Exactly one criterion.
  m.def("magnitude_prune(Tensor weight, Tensor mask, float? sensitivity, float? sparsity) -> Tensor");

  // Stage 2, trained quantization. A shared layer's weight is codebook[indices] where mask, else 0:
  // indices (uint8, the weight's shape) pick one of the codebook's k = 2^bits centroids. A 2-D
  // codebook (groups, k) gives each of `groups` equal slices of the weight's first dimension its own.
  // Cluster a layer's unpruned weights with 1-D k-means: (codebook (k, ascending), indices), each
  // kept weight's index that of its nearest centroid, pruned ones 0. mask None: all are kept.
  // init: 'linear' | 'density' | 'random' (seeded); method: 'lloyd' | 'exact'. importance (>= 0,
  // broadcastable to weight): weighted k-means, the least sum of importance × squared error.
  m.def(
      "kmeans_quantize(Tensor weight, Tensor? mask, int bits, str init='linear', str method='lloyd', "
      "int seed=0, Tensor? importance=None) -> (Tensor, Tensor)");
  // The dense weight of a shared layer: codebook[indices] where mask, exactly 0 elsewhere.
  m.def("codebook_decode(Tensor indices, Tensor mask, Tensor codebook) -> Tensor");
  // Per-cluster gradient reduction: entry c is the sum of grad_weight over the kept weights whose
  // index is c (the gradient of codebook_decode w.r.t. the codebook); (num_groups, num_codes) per
  // group for num_groups > 1.
  m.def(
      "codebook_grad(Tensor grad_weight, Tensor indices, Tensor mask, int num_codes, int num_groups=1) -> Tensor");
  // Linear layer with a shared weight: input (*, in) -> (*, out).
  m.def("shared_linear(Tensor input, Tensor indices, Tensor mask, Tensor codebook, Tensor? bias) -> Tensor");
  // Gradients of shared_linear w.r.t. (input, codebook, bias); those not asked for are undefined.
  m.def(
      "shared_linear_backward(Tensor grad_output, Tensor input, Tensor indices, Tensor mask, Tensor codebook, "
      "bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
  // Conv2d layer with a shared weight (zero padding; padding modes are the module's job).
  m.def(
      "shared_conv2d(Tensor input, Tensor indices, Tensor mask, Tensor codebook, Tensor? bias, int[2] stride, "
      "int[2] padding, int[2] dilation, int groups) -> Tensor");
  // Gradients of shared_conv2d w.r.t. (input, codebook, bias), as for shared_linear_backward.
  m.def(
      "shared_conv2d_backward(Tensor grad_output, Tensor input, Tensor indices, Tensor mask, Tensor codebook, "
      "int[2] stride, int[2] padding, int[2] dilation, int groups, bool[3] output_mask) "
      "-> (Tensor, Tensor, Tensor)");

  // Inference on a compressed linear layer (sparse rows × codebook, never decoded): a shared weight's
  // kept entries as (row_ptr: int64 (out_features + 1), entries: int32 column << 8 | index), row-major.
  m.def("compressed_linear_pack(Tensor indices, Tensor mask) -> (Tensor, Tensor)");
  // input (*, in_features) -> (*, out_features). No autograd: for inference.
  m.def("compressed_linear(Tensor input, Tensor row_ptr, Tensor entries, Tensor codebook, Tensor? bias) -> Tensor");
  // The gradient of compressed_linear's codebook (num_codes centroids) from grad_output (*, out_features)
  // and input (*, in_features): entry (r, c, i) adds grad_output[:, r] · input[:, c] to centroid i. What
  // a pruned shared linear layer's backward needs, read from its kept weights only.
  m.def(
      "compressed_linear_codebook_grad(Tensor grad_output, Tensor input, Tensor row_ptr, Tensor entries, "
      "int num_codes) -> Tensor");
}
