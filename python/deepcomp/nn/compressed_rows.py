"""What the compressed inference layers (CompressedLinear, CompressedEmbedding) share: a weight kept as
compressed rows (row_ptr, and entries of column << 8 | codebook index) and its codebook, as buffers."""
from typing import Tuple

import torch

from . import standard_ops
from .scripting import NotScriptable


class CompressedRows(NotScriptable, torch.nn.Module):
    """Base of the compressed layers; subclasses give `weight_shape` (rows, columns)."""

    row_ptr: torch.Tensor
    entries: torch.Tensor
    codebook: torch.Tensor

    @property
    def weight_shape(self) -> Tuple[int, int]:
        raise NotImplementedError

    @property
    def bits(self) -> int:
        return self.codebook.shape[-1].bit_length() - 1

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight: codebook entries where kept, 0 elsewhere (a new tensor)."""
        return standard_ops.compressed_weight(self.row_ptr, self.entries, self.codebook, *self.weight_shape)

    def kept(self) -> int:
        """How many weights the layer keeps."""
        return self.entries.numel()
