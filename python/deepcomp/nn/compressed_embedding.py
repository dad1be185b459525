"""deepcomp.nn.CompressedEmbedding and CompressedEmbeddingBag: inference on a pruned, quantized embedding
that decodes only the rows a lookup reads."""
from typing import Optional

import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .compressed_rows import CompressedRows
from .dense_forward import bags_of
from .shared_layers import SharedEmbedding, SharedEmbeddingBag


class CompressedEmbedding(CompressedRows):
    """An embedding kept compressed for inference: its kept weights as compressed rows of 4-byte entries
    (column << 8 | codebook index, CompressedLinear's packing) and the codebook. A lookup of n tokens
    decodes their n rows only, so a large vocabulary stays at about 4 bytes per kept weight in memory.

    row_ptr: int64 buffer (num_embeddings + 1); entries: int32 buffer (one per kept weight); codebook:
    buffer (2^bits centroids, or (groups, 2^bits) per-group codebooks). padding_idx, max_norm and norm_type as nn.Embedding's (max_norm rescales
    the looked-up rows of the output; nothing is stored). Input: indices of any shape -> (*, embedding_dim)
    in the codebook's dtype. No gradients: fine-tune a SharedEmbedding, then convert it with
    from_shared(), or load a .dcz with deepcomp.load(path, model, compressed=True).
    """

    _OPTIONS = ("padding_idx", "max_norm", "norm_type")  # the options from_parts takes from `like`
    _SHARED = SharedEmbedding  # the layer from_shared converts

    def __init__(self, num_embeddings: int, embedding_dim: int, row_ptr: torch.Tensor, entries: torch.Tensor,
                 codebook: torch.Tensor, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                 norm_type: float = 2.0):
        super().__init__()
        if row_ptr.shape != (num_embeddings + 1,):
            raise ValueError(f"CompressedEmbedding: row_ptr must have num_embeddings + 1 = {num_embeddings + 1} "
                             f"entries, got shape {tuple(row_ptr.shape)}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.register_buffer("row_ptr", row_ptr)
        self.register_buffer("entries", entries)
        self.register_buffer("codebook", codebook)

    @classmethod
    def from_parts(cls, indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor,
                   like: Optional[torch.nn.Module] = None) -> "CompressedEmbedding":
        """From a shared weight: indices (uint8) and mask (bool), both (num_embeddings, embedding_dim), and its
        codebook (copied, detached, on their device); padding_idx, max_norm and norm_type from `like` (an
        nn.Embedding or its twin) if given."""
        row_ptr, entries = ops.compressed_linear_pack(indices, mask)
        options = {name: getattr(like, name) for name in cls._OPTIONS} if like else {}
        return cls(indices.shape[0], indices.shape[1], row_ptr, entries, codebook.detach().clone(), **options)

    @classmethod
    def from_shared(cls, layer: SharedEmbedding) -> "CompressedEmbedding":
        """The same layer compressed (the same outputs): a SharedEmbedding (SharedEmbeddingBag for the bag)."""
        if not isinstance(layer, cls._SHARED):
            raise TypeError(f"{cls.__name__}.from_shared needs a deepcomp.nn.{cls._SHARED.__name__}, got "
                            f"{type(layer).__name__}")
        return cls.from_parts(layer.indices, layer.mask, layer.codebook, layer).train(layer.training)

    @property
    def weight_shape(self):
        return self.num_embeddings, self.embedding_dim

    def to_plain(self) -> torch.nn.Embedding:
        """The nn.Embedding it stands for, with the decoded weight."""
        plain = torch.nn.Embedding(self.num_embeddings, self.embedding_dim, self.padding_idx, self.max_norm,
                                   self.norm_type, device=self.codebook.device, dtype=self.codebook.dtype)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
        return plain.train(self.training)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if standard_ops.exporting():
            return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type)
        return self._rows(input).view(*input.shape, self.embedding_dim)

    def _rows(self, input: torch.Tensor) -> torch.Tensor:
        """The rows input's indices look up, decoded (and renormalised with max_norm): (input.numel(), dim)."""
        if input.is_floating_point() or input.is_complex():
            raise TypeError(f"{type(self).__name__}: the input holds indices, got {input.dtype}")
        tokens = input.reshape(-1).long()
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.num_embeddings):
            raise IndexError(f"{type(self).__name__}: an index is out of range for {self.num_embeddings} rows")
        # Each looked-up row's entries: its slice of `entries`, laid end to end.
        starts, counts = self.row_ptr[tokens], self.row_ptr[tokens + 1] - self.row_ptr[tokens]
        row = torch.repeat_interleave(torch.arange(tokens.numel(), device=tokens.device), counts)
        first = torch.cumsum(counts, 0) - counts
        position = starts[row] + torch.arange(row.numel(), device=tokens.device) - first[row]
        entries = self.entries[position].long()
        output = torch.zeros(tokens.numel(), self.embedding_dim, dtype=self.codebook.dtype, device=self.codebook.device)
        output[row, torch.div(entries, 256, rounding_mode="floor")] = standard_ops.centroids(
            self.codebook, torch.remainder(entries, 256), tokens[row], self.num_embeddings)
        if self.max_norm is not None:  # nn.Embedding's renormalisation, of the output only
            norms = output.norm(p=self.norm_type, dim=1, keepdim=True)
            output = torch.where(norms > self.max_norm, output * (self.max_norm / (norms + 1e-7)), output)
        return output

    def extra_repr(self) -> str:
        return (f"{self.num_embeddings}, {self.embedding_dim}, padding_idx={self.padding_idx}, bits={self.bits}, "
                f"kept={self.kept()}/{self.num_embeddings * self.embedding_dim}")


class CompressedEmbeddingBag(CompressedEmbedding):
    """An embedding bag kept compressed for inference, as CompressedEmbedding keeps an embedding: a forward
    decodes the rows its input looks up, once each lookup, and reduces them by bag as nn.EmbeddingBag does
    (mode, offsets, per_sample_weights, include_last_offset, padding_idx; max_norm rescales the looked-up
    rows). No gradients: fine-tune a SharedEmbeddingBag, or load a .dcz with compressed=True."""

    def __init__(self, num_embeddings: int, embedding_dim: int, row_ptr: torch.Tensor, entries: torch.Tensor,
                 codebook: torch.Tensor, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                 norm_type: float = 2.0, mode: str = "mean", include_last_offset: bool = False):
        super().__init__(num_embeddings, embedding_dim, row_ptr, entries, codebook, padding_idx, max_norm, norm_type)
        self.mode, self.include_last_offset = mode, include_last_offset

    _OPTIONS = CompressedEmbedding._OPTIONS + ("mode", "include_last_offset")
    _SHARED = SharedEmbeddingBag

    def to_plain(self) -> torch.nn.EmbeddingBag:
        """The nn.EmbeddingBag it stands for, with the decoded weight."""
        plain = torch.nn.EmbeddingBag(self.num_embeddings, self.embedding_dim, self.max_norm, self.norm_type,
                                      mode=self.mode, include_last_offset=self.include_last_offset,
                                      padding_idx=self.padding_idx, device=self.codebook.device,
                                      dtype=self.codebook.dtype)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
        return plain.train(self.training)

    def forward(self, input: torch.Tensor, offsets: Optional[torch.Tensor] = None,
                per_sample_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        if standard_ops.exporting():
            return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, mode=self.mode,
                                   per_sample_weights=per_sample_weights,
                                   include_last_offset=self.include_last_offset, padding_idx=self.padding_idx)
        return bags_of(self._rows(input), input, offsets, per_sample_weights, self.mode, self.include_last_offset,
                       self.padding_idx)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode!r}"
