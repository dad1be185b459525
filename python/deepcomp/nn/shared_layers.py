"""Shared twins of the torch layers that deepcomp handles through their own forward (convolutions of 1
and 3 dimensions, transposed convolutions, embeddings and embedding bags, attention): the torch layer's
forward runs with the weight decoded by deepcomp.ops.codebook_decode, whose gradient is the per-cluster sum of the weight's.
SharedLinear and SharedConv2d have fused ops of their own."""
import torch

from .. import ops
from . import standard_ops
from .dense_forward import check_supported, dense_weight, forward_with, layer_attributes, weight_stem
from .shared_layer import SharedLayer


class _SharedByForward(SharedLayer):
    """A shared layer taking its torch layer's arguments (and bits=, default 8; codebook_groups=) and
    computing what it computes with the decoded weight. codebook: Parameter (2^bits,), or
    (codebook_groups, 2^bits); indices: uint8 buffer and mask: bool buffer of the torch layer's weight
    shape; the torch layer's other Parameters and children (bias, None where it has none)."""

    def __init__(self, *args, bits: int = 8, codebook_groups: int = 1, device=None, dtype=None, **kwargs):
        super().__init__()
        # The torch layer checks and normalises the arguments (on the meta device: nothing is allocated).
        dense = self.dense_type(*args, **kwargs, device="meta")
        check_supported(dense, type(self).__name__)
        for name, value in layer_attributes(dense).items():
            setattr(self, name, value)
        self._register_shared(dense_weight(dense).shape, bits, False, device, dtype, codebook_groups=codebook_groups)
        # The torch layer's other Parameters (bias; attention's in_proj_bias, bias_k, bias_v) and children
        # (attention's out_proj), allocated here and initialised by reset_parameters.
        weight_name = weight_stem(self) + "weight"
        for name, parameter in dense._parameters.items():
            if name != weight_name:
                self.register_parameter(name, None if parameter is None else torch.nn.Parameter(
                    torch.empty(parameter.shape, device=device, dtype=dtype)))
        for name, child in dense._modules.items():
            child = child.to_empty(device=torch.get_default_device() if device is None else device)
            self.add_module(name, child if dtype is None else child.to(dtype))
        self.reset_parameters()

    def forward(self, *args, **kwargs) -> torch.Tensor:
        decode = standard_ops.shared_weight if standard_ops.exporting() else ops.codebook_decode
        return forward_with(self.dense_type, self, decode(self.indices, self.mask, self.codebook), *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self.dense_type.extra_repr(self)}, {super().extra_repr()}"


class SharedConv1d(_SharedByForward):
    """nn.Conv1d whose weights share a codebook of 2^bits centroids."""
    dense_type = torch.nn.Conv1d


class SharedConv3d(_SharedByForward):
    """nn.Conv3d whose weights share a codebook of 2^bits centroids."""
    dense_type = torch.nn.Conv3d


class SharedConvTranspose1d(_SharedByForward):
    """nn.ConvTranspose1d whose weights share a codebook of 2^bits centroids."""
    dense_type = torch.nn.ConvTranspose1d


class SharedConvTranspose2d(_SharedByForward):
    """nn.ConvTranspose2d whose weights share a codebook of 2^bits centroids."""
    dense_type = torch.nn.ConvTranspose2d


class SharedConvTranspose3d(_SharedByForward):
    """nn.ConvTranspose3d whose weights share a codebook of 2^bits centroids."""
    dense_type = torch.nn.ConvTranspose3d


class SharedEmbedding(_SharedByForward):
    """nn.Embedding whose weights share a codebook of 2^bits centroids. max_norm renormalises the
    looked-up rows of the decoded weight for the output only; sparse=True is refused."""
    dense_type = torch.nn.Embedding


class SharedEmbeddingBag(_SharedByForward):
    """nn.EmbeddingBag whose weights share a codebook of 2^bits centroids. max_norm renormalises the
    looked-up rows of the decoded weight for the output only; sparse=True is refused."""
    dense_type = torch.nn.EmbeddingBag
