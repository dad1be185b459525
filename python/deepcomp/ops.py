"""deepcomp's ops, as Python calls, with the fake kernels that let torch.compile trace them.

The ops are defined and implemented in C++ (csrc/ops/registration.cpp lists every schema); this
module is the one Python facade over torch.ops.deepcomp. Shapes as in csrc/include/deepcomp/ops.h:
a linear weight is (out_features, in_features), a conv2d weight (out, in / groups, kH, kW); a mask
is a bool tensor of the weight's shape on its device (True keeps the weight).
"""
from typing import Optional, Sequence, Tuple

import torch

_ops = torch.ops.deepcomp


def apply_mask(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """weight where mask is True, exactly 0 elsewhere (a new tensor)."""
    return _ops.apply_mask.default(weight, mask)


def apply_mask_(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zeroes the pruned entries of weight in place and returns it."""
    _ops.apply_mask_.default(weight, mask)
    return weight


def masked_linear(input: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """input (*, in_features) -> (*, out_features) with weight ⊙ mask; the weight gradient is masked."""
    return _ops.masked_linear.default(input, weight, mask, bias)


def masked_conv2d(input: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor,
                  bias: Optional[torch.Tensor] = None, stride: Sequence[int] = (1, 1),
                  padding: Sequence[int] = (0, 0), dilation: Sequence[int] = (1, 1),
                  groups: int = 1) -> torch.Tensor:
    """2-D convolution (zero padding) of input (N, C, H, W) or (C, H, W) with weight ⊙ mask."""
    return _ops.masked_conv2d.default(input, weight, mask, bias, list(stride), list(padding),
                                      list(dilation), groups)


def magnitude_prune(weight: torch.Tensor, mask: torch.Tensor, *, sensitivity: Optional[float] = None,
                    sparsity: Optional[float] = None) -> torch.Tensor:
    """The mask after one magnitude-pruning step (masks only shrink); exactly one criterion.

    sensitivity s: drop |w| < s × std of the surviving weights. sparsity f: drop the smallest
    survivors until a fraction f of all the weights is pruned. Raises ValueError for a bad value or
    NaN/Inf among the surviving weights.
    """
    return _ops.magnitude_prune.default(weight, mask, sensitivity, sparsity)


def kmeans_quantize(weight: torch.Tensor, mask: Optional[torch.Tensor], bits: int, *, init: str = "linear",
                    method: str = "lloyd", seed: int = 0,
                    importance: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Clusters the weights that survive mask (None: all) with 1-D k-means into k = 2^bits centroids.

    Returns (codebook, indices): the k centroids in ascending order (weight's dtype) and a uint8
    tensor of weight's shape holding each kept weight's nearest centroid (0 where pruned).
    init: "linear" (evenly spaced from min to max, the paper's best), "density" (evenly spaced in
    the CDF) or "random" (k distinct weights drawn with seed). method: "lloyd" (iterate from init
    until no weight changes cluster; an empty cluster takes over half of the worst one) or
    "exact" (least squared error by dynamic programming; exact while distinct values × k <= 2^25,
    else over groups of neighbouring values, then Lloyd).
    importance (>= 0, broadcastable to weight; e.g. the second moment of the input each weight
    multiplies, or a diagonal Fisher estimate): weighted k-means, the least sum of importance × squared
    error (values under 1e-6 of the mean count as that much). Computed on the CPU for every device.
    Fewer distinct values than k: each gets its own centroid; the spare entries repeat the largest.
    Raises ValueError for bits outside 1..8, an unknown init or method, NaN/Inf among kept weights, or
    a negative, non-finite or non-broadcastable importance.
    """
    return _ops.kmeans_quantize.default(weight, mask, bits, init, method, seed, importance)


def codebook_decode(indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """codebook[indices] where mask, exactly 0 elsewhere: a shared layer's dense weight (differentiable
    w.r.t. codebook). indices: uint8; mask: bool of indices' shape; codebook: 1-D (k), or 2-D (groups, k)
    for per-group codebooks: the first dimension of indices splits into `groups` equal slices, slice g
    decoded by codebook[g]."""
    return _ops.codebook_decode.default(indices, mask, codebook)


def codebook_grad(grad_weight: torch.Tensor, indices: torch.Tensor, mask: torch.Tensor,
                  num_codes: int, num_groups: int = 1) -> torch.Tensor:
    """The per-cluster gradient reduction: entry c sums grad_weight over the kept weights with index c,
    (num_codes); per group of a grouped codebook (see codebook_decode) when num_groups > 1,
    (num_groups, num_codes)."""
    return _ops.codebook_grad.default(grad_weight, indices, mask, num_codes, num_groups)


def shared_linear(input: torch.Tensor, indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """input (*, in_features) -> (*, out_features) with the weight codebook[indices] ⊙ mask."""
    return _ops.shared_linear.default(input, indices, mask, codebook, bias)


def shared_conv2d(input: torch.Tensor, indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor,
                  bias: Optional[torch.Tensor] = None, stride: Sequence[int] = (1, 1),
                  padding: Sequence[int] = (0, 0), dilation: Sequence[int] = (1, 1),
                  groups: int = 1) -> torch.Tensor:
    """2-D convolution (zero padding) of input (N, C, H, W) or (C, H, W) with codebook[indices] ⊙ mask."""
    return _ops.shared_conv2d.default(input, indices, mask, codebook, bias, list(stride), list(padding),
                                      list(dilation), groups)


def compressed_linear_pack(indices: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A shared linear weight (indices, mask: (out_features, in_features)) as compressed rows:
    (row_ptr, entries), row_ptr int64 (out_features + 1), entries int32 with one entry per kept weight,
    column << 8 | index, row by row in column order. in_features < 2^23."""
    return _ops.compressed_linear_pack.default(indices, mask)


def compressed_linear(input: torch.Tensor, row_ptr: torch.Tensor, entries: torch.Tensor, codebook: torch.Tensor,
                      bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """input (*, in_features) -> (*, out_features) with the compressed weight (row_ptr, entries, codebook),
    never decoded; codebook and bias in input's dtype. For inference (no autograd)."""
    return _ops.compressed_linear.default(input, row_ptr, entries, codebook, bias)


def compressed_linear_codebook_grad(grad_output: torch.Tensor, input: torch.Tensor, row_ptr: torch.Tensor,
                                    entries: torch.Tensor, num_codes: int) -> torch.Tensor:
    """The gradient of compressed_linear's codebook (num_codes centroids) for grad_output (*, out_features)
    at input (*, in_features): each kept weight (row r, column c, index i) adds grad_output[..., r] ·
    input[..., c], summed over the leading dimensions, to entry i. Reads the kept weights only."""
    return _ops.compressed_linear_codebook_grad.default(grad_output, input, row_ptr, entries, num_codes)


def cpu_kernels_parallel() -> bool:
    """True when deepcomp's CPU kernels split their work over torch's intra-op threads
    (torch.set_num_threads); False only in a build of deepcomp that lacked OpenMP where torch uses it."""
    from . import _C

    return _C.cpu_kernels_parallel()


def compressed_linear_cpu_isa() -> str:
    """The SIMD variant of compressed_linear's CPU kernel chosen on this machine, as ATen chooses its own
    (the environment variable ATEN_CPU_CAPABILITY overrides it): "avx512", "avx2" or "portable"."""
    from . import _C

    return _C.compressed_linear_cpu_isa()


# Fake kernels: output metadata only, for torch.compile and torch.library.opcheck.

@torch.library.register_fake("deepcomp::apply_mask")
def _apply_mask_fake(weight, mask):
    return torch.empty_like(weight)


@torch.library.register_fake("deepcomp::apply_mask_")
def _apply_mask__fake(weight, mask):
    return None


@torch.library.register_fake("deepcomp::masked_linear")
def _masked_linear_fake(input, weight, mask, bias):
    return input.new_empty((*input.shape[:-1], weight.shape[0]))


@torch.library.register_fake("deepcomp::masked_linear_backward")
def _masked_linear_backward_fake(grad_output, input, weight, mask, output_mask):
    return (input.new_empty(input.shape) if output_mask[0] else None,
            weight.new_empty(weight.shape) if output_mask[1] else None,
            grad_output.new_empty((weight.shape[0],)) if output_mask[2] else None)


@torch.library.register_fake("deepcomp::masked_conv2d")
def _masked_conv2d_fake(input, weight, mask, bias, stride, padding, dilation, groups):
    return torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups)


@torch.library.register_fake("deepcomp::masked_conv2d_backward")
def _masked_conv2d_backward_fake(grad_output, input, weight, mask, stride, padding, dilation, groups,
                                 output_mask):
    return (input.new_empty(input.shape) if output_mask[0] else None,
            weight.new_empty(weight.shape) if output_mask[1] else None,
            grad_output.new_empty((weight.shape[0],)) if output_mask[2] else None)


@torch.library.register_fake("deepcomp::magnitude_prune")
def _magnitude_prune_fake(weight, mask, sensitivity, sparsity):
    return torch.empty_like(mask)


@torch.library.register_fake("deepcomp::kmeans_quantize")
def _kmeans_quantize_fake(weight, mask, bits, init="linear", method="lloyd", seed=0, importance=None):
    return weight.new_empty((2 ** bits,)), weight.new_empty(weight.shape, dtype=torch.uint8)


@torch.library.register_fake("deepcomp::codebook_decode")
def _codebook_decode_fake(indices, mask, codebook):
    return codebook.new_empty(indices.shape)


@torch.library.register_fake("deepcomp::codebook_grad")
def _codebook_grad_fake(grad_weight, indices, mask, num_codes, num_groups=1):
    return grad_weight.new_empty((num_codes,) if num_groups == 1 else (num_groups, num_codes))


@torch.library.register_fake("deepcomp::shared_linear")
def _shared_linear_fake(input, indices, mask, codebook, bias):
    return input.new_empty((*input.shape[:-1], indices.shape[0]))


@torch.library.register_fake("deepcomp::shared_linear_backward")
def _shared_linear_backward_fake(grad_output, input, indices, mask, codebook, output_mask):
    return (input.new_empty(input.shape) if output_mask[0] else None,
            codebook.new_empty(codebook.shape) if output_mask[1] else None,
            grad_output.new_empty((indices.shape[0],)) if output_mask[2] else None)


@torch.library.register_fake("deepcomp::shared_conv2d")
def _shared_conv2d_fake(input, indices, mask, codebook, bias, stride, padding, dilation, groups):
    weight = codebook.new_empty(indices.shape)
    return torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups)


@torch.library.register_fake("deepcomp::shared_conv2d_backward")
def _shared_conv2d_backward_fake(grad_output, input, indices, mask, codebook, stride, padding, dilation, groups,
                                 output_mask):
    return (input.new_empty(input.shape) if output_mask[0] else None,
            codebook.new_empty(codebook.shape) if output_mask[1] else None,
            grad_output.new_empty((indices.shape[0],)) if output_mask[2] else None)


@torch.library.register_fake("deepcomp::compressed_linear_pack")
def _compressed_linear_pack_fake(indices, mask):
    kept = torch.library.get_ctx().new_dynamic_size()
    return indices.new_empty((indices.shape[0] + 1,), dtype=torch.int64), indices.new_empty((kept,), dtype=torch.int32)


@torch.library.register_fake("deepcomp::compressed_linear")
def _compressed_linear_fake(input, row_ptr, entries, codebook, bias):
    return input.new_empty((*input.shape[:-1], row_ptr.shape[0] - 1))


@torch.library.register_fake("deepcomp::compressed_linear_codebook_grad")
def _compressed_linear_codebook_grad_fake(grad_output, input, row_ptr, entries, num_codes):
    return input.new_empty((num_codes,))
