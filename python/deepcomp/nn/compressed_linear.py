"""deepcomp.nn.CompressedLinear: inference on a pruned, quantized linear layer, never decoded."""
from typing import Optional

import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .compressed_rows import CompressedRows
from .shared_linear import SharedLinear


class CompressedLinear(CompressedRows):
    """A linear layer kept compressed for inference (deepcomp.ops.compressed_linear): only its kept
    weights, as compressed rows of 4-byte entries (column << 8 | codebook index), and the codebook.
    The EIE idea: a batch-1 forward reads 4 bytes per kept weight where a dense layer reads 4 per weight.

    row_ptr: int64 buffer (out_features + 1); entries: int32 buffer (one per kept weight); codebook:
    buffer (2^bits centroids, or (groups, 2^bits) per-group codebooks); bias: buffer (out_features) or None. Input (*, in_features) ->
    (*, out_features) in the codebook's dtype. No gradients: fine-tune a SharedLinear, then convert it
    with from_shared(), or load a .dcz with deepcomp.load(path, model, compressed=True).
    """

    bias: Optional[torch.Tensor]

    def __init__(self, in_features: int, out_features: int, row_ptr: torch.Tensor, entries: torch.Tensor,
                 codebook: torch.Tensor, bias: Optional[torch.Tensor] = None):
        super().__init__()
        if row_ptr.shape != (out_features + 1,):
            raise ValueError(f"CompressedLinear: row_ptr must have out_features + 1 = {out_features + 1} entries, "
                             f"got shape {tuple(row_ptr.shape)}")
        if bias is not None and bias.shape != (out_features,):
            raise ValueError(f"CompressedLinear: bias must be (out_features) = ({out_features},), got shape "
                             f"{tuple(bias.shape)}")
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("row_ptr", row_ptr)
        self.register_buffer("entries", entries)
        self.register_buffer("codebook", codebook)
        self.register_buffer("bias", bias)

    @classmethod
    def from_parts(cls, indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> "CompressedLinear":
        """From a shared weight: indices (uint8) and mask (bool), both (out_features, in_features), and its
        codebook; tensors are copied (detached), on their device."""
        row_ptr, entries = ops.compressed_linear_pack(indices, mask)
        return cls(indices.shape[1], indices.shape[0], row_ptr, entries, codebook.detach().clone(),
                   None if bias is None else bias.detach().clone())

    @classmethod
    def from_shared(cls, layer: SharedLinear) -> "CompressedLinear":
        """The same layer as a CompressedLinear (same outputs, up to the order of the additions)."""
        if not isinstance(layer, SharedLinear):
            raise TypeError(f"CompressedLinear.from_shared needs a deepcomp.nn.SharedLinear, got {type(layer).__name__}")
        compressed = cls.from_parts(layer.indices, layer.mask, layer.codebook, layer.bias)
        return compressed.train(layer.training)

    @property
    def weight_shape(self):
        return self.out_features, self.in_features

    def to_plain(self) -> torch.nn.Linear:
        """The nn.Linear it stands for, with the decoded weight and the bias."""
        plain = torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                                device=self.codebook.device, dtype=self.codebook.dtype)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
            if self.bias is not None:
                plain.bias.copy_(self.bias)
        return plain.train(self.training)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if standard_ops.exporting():
            return F.linear(input, self.weight, self.bias)
        return ops.compressed_linear(input, self.row_ptr, self.entries, self.codebook, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"bits={self.bits}, kept={self.kept()}/{self.in_features * self.out_features}")
