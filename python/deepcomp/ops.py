"""deepcomp's ops, as Python calls, with the fake kernels that let torch.compile trace them.

The ops are defined and implemented in C++ (csrc/ops/registration.cpp lists every schema); this
module is the one Python facade over torch.ops.deepcomp. Shapes as in csrc/include/deepcomp/ops.h:
a linear weight is (out_features, in_features), a conv2d weight (out, in / groups, kH, kW); a mask
is a bool tensor of the weight's shape on its device (True keeps the weight).
"""
from typing import Optional, Sequence

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
