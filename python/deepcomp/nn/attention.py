"""The twins of nn.MultiheadAttention: its packed input projection in_proj_weight (3·embed_dim,
embed_dim) pruned or shared, computed through torch's own attention. out_proj stays the Linear it is.

State-dict names are torch's, with the stem in_proj_: in_proj_weight and in_proj_mask (masked);
in_proj_codebook, in_proj_indices and in_proj_mask (shared); so a .dcz file records the weight as
`<layer>.in_proj_weight`, which a plain nn.MultiheadAttention loads. `weight`, `mask`, `codebook` and
`indices` read the same tensors under the names every deepcomp layer has. Attention with kdim or vdim
other than embed_dim (separate q, k, v projections) is refused."""
import torch

from .masked_layers import _MaskedByForward
from .shared_layer import SharedLayer
from .shared_layers import _SharedByForward


def _alias(name: str) -> property:
    return property(lambda self: getattr(self, name), doc=f"this layer's {name}")


def _options_text(layer) -> str:
    return f"embed_dim={layer.embed_dim}, num_heads={layer.num_heads}, batch_first={layer.batch_first}"


class MaskedMultiheadAttention(_MaskedByForward, torch.nn.MultiheadAttention):
    """nn.MultiheadAttention with a pruning mask on in_proj_weight (bool buffer in_proj_mask, True = kept).
    Pruned weights are exactly zero in every forward and after every optimizer step; their gradient is
    zero. forward takes and returns what nn.MultiheadAttention's does."""

    weight = _alias("in_proj_weight")
    mask = _alias("in_proj_mask")

    def extra_repr(self) -> str:
        return f"{_options_text(self)}, kept={self.kept()}/{self.mask.numel()}"


class SharedMultiheadAttention(_SharedByForward):
    """nn.MultiheadAttention whose in_proj_weight shares a codebook of 2^bits centroids (in_proj_codebook,
    in_proj_indices, in_proj_mask); in_proj_weight (also `weight`) is the decoded weight. Takes
    nn.MultiheadAttention's arguments and bits= (default 5, as for Linear: these are fully connected)."""

    dense_type = torch.nn.MultiheadAttention
    codebook = _alias("in_proj_codebook")
    indices = _alias("in_proj_indices")
    mask = _alias("in_proj_mask")

    def __init__(self, *args, bits: int = 5, **kwargs):
        super().__init__(*args, bits=bits, **kwargs)

    def extra_repr(self) -> str:
        return f"{_options_text(self)}, {SharedLayer.extra_repr(self)}"

    @property
    def in_proj_weight(self) -> torch.Tensor:
        """The decoded in_proj_weight (a new tensor; differentiable w.r.t. the codebook)."""
        return self.weight
