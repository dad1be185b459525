"""Masked twins of the torch layers that deepcomp handles through their own forward (convolutions of
1 and 3 dimensions, transposed convolutions, embeddings and embedding bags, attention): the torch layer
computes with its weight masked by deepcomp.ops.apply_mask, whose gradient is masked too. MaskedLinear
and MaskedConv2d have fused ops of their own."""
from typing import Optional

import torch

from . import standard_ops
from .dense_forward import bags_of, check_supported, forward_with
from .masked_layer import MaskedLayer


class _MaskedByForward(MaskedLayer):
    """A masked layer that runs its torch layer's forward with the masked weight. Takes the torch
    layer's arguments. Pruned weights are exactly zero in every forward and after every optimizer
    step; their gradient is zero."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_supported(self, type(self).__name__)
        self._register_mask()

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return forward_with(self.dense_type, self, self.masked_weight(), *args, **kwargs)


class MaskedConv1d(_MaskedByForward, torch.nn.Conv1d):
    """nn.Conv1d with a pruning mask (bool buffer `mask` of the weight's shape, True = kept)."""


class MaskedConv3d(_MaskedByForward, torch.nn.Conv3d):
    """nn.Conv3d with a pruning mask (bool buffer `mask` of the weight's shape, True = kept)."""


class MaskedConvTranspose1d(_MaskedByForward, torch.nn.ConvTranspose1d):
    """nn.ConvTranspose1d with a pruning mask (bool buffer `mask` of the weight's shape, True = kept)."""


class MaskedConvTranspose2d(_MaskedByForward, torch.nn.ConvTranspose2d):
    """nn.ConvTranspose2d with a pruning mask (bool buffer `mask` of the weight's shape, True = kept)."""


class MaskedConvTranspose3d(_MaskedByForward, torch.nn.ConvTranspose3d):
    """nn.ConvTranspose3d with a pruning mask (bool buffer `mask` of the weight's shape, True = kept)."""


def _masked_rows(layer, indices: torch.Tensor, padding_idx) -> torch.Tensor:
    """The rows an embedding (bag) looks up, masked: the same output as the masked table's, a gradient
    that is 0 wherever pruned, for the cost of a lookup instead of a table-sized copy. max_norm
    renormalises the stored rows looked up, as torch's embeddings do."""
    rows = torch.nn.functional.embedding(indices, layer.weight, padding_idx, layer.max_norm, layer.norm_type,
                                         layer.scale_grad_by_freq, layer.sparse)
    return torch.where(layer.mask[indices], rows, torch.zeros((), dtype=rows.dtype, device=rows.device))


class MaskedEmbedding(_MaskedByForward, torch.nn.Embedding):
    """nn.Embedding with a pruning mask (bool buffer `mask` of the weight's shape, True = kept).
    sparse=True is refused: the gradient reaches `weight` masked, dense."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if standard_ops.exporting():
            return super().forward(input)
        return _masked_rows(self, input, self.padding_idx)


class MaskedEmbeddingBag(_MaskedByForward, torch.nn.EmbeddingBag):
    """nn.EmbeddingBag with a pruning mask (bool buffer `mask` of the weight's shape, True = kept).
    sparse=True is refused: the gradient reaches `weight` masked, dense."""

    def forward(self, input: torch.Tensor, offsets: Optional[torch.Tensor] = None,
                per_sample_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        if standard_ops.exporting():
            return super().forward(input, offsets, per_sample_weights)
        rows = _masked_rows(self, input.reshape(-1), None)  # bags_of leaves padding_idx out
        return bags_of(rows, input, offsets, per_sample_weights, self.mode, self.include_last_offset,
                       self.padding_idx)
