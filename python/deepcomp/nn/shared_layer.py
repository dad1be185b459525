"""What the shared (trained-quantization) layers have in common.

A shared layer stores no dense weight: its weight is codebook[indices] where mask, else exactly 0.
`codebook` (2^bits centroids) is the only weight Parameter, so an ordinary optimizer over
model.parameters() fine-tunes the centroids: the gradient of centroid c is the sum of the gradients
of the weights in cluster c (Deep Compression, section 3.3). Indices and mask are fixed buffers.
Per-group codebooks: with codebook_groups=G the codebook is (G, 2^bits); slice r of the weight's R
along its first dimension reads row r·G // R (G runs of slices as even as possible; deepcomp.quantize(...,
group_size=)).
"""
from numbers import Integral
from typing import Optional

import torch

from .. import _C, ops
from .dense_forward import dense_options, dense_weight, weight_stem
from .masked_layer import MaskedLayer
from .scripting import NotScriptable

MIN_BITS, MAX_BITS = _C.constants.MIN_BITS, _C.constants.MAX_BITS
INITS = _C.constants.CODEBOOK_INITS


def check_bits(bits, where: str = "bits") -> int:
    """bits as an int in 1..8, or a clear error."""
    if isinstance(bits, bool) or not isinstance(bits, Integral):
        raise TypeError(f"{where} must be an int in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"{where} must be in {MIN_BITS}..{MAX_BITS} (a codebook of 2^bits centroids), got {bits}")
    return int(bits)


class SharedLayer(NotScriptable, torch.nn.Module):
    """Base of the shared layers. Subclasses set `dense_type` (the torch layer they stand for), take its
    constructor's arguments (and bits=, codebook_groups=, device=, dtype=) and implement `forward`."""

    dense_type: type
    codebook: torch.nn.Parameter
    indices: torch.Tensor
    mask: torch.Tensor
    bias: Optional[torch.nn.Parameter]

    def _register_shared(self, weight_shape, bits: int, bias: bool, device, dtype, codebook_groups: int = 1) -> None:
        """Registers the codebook, indices and mask (`<stem>codebook`, ...: dense_forward.WEIGHT_STEMS) and a
        bias of the weight's first dimension if bias; the constructor calls reset_parameters once all is there."""
        factory = {"device": device, "dtype": dtype}
        k = 2 ** check_bits(bits)
        groups = _check_groups(codebook_groups, weight_shape)
        stem = weight_stem(self)
        self.register_parameter(stem + "codebook",
                                torch.nn.Parameter(torch.empty((k,) if groups == 1 else (groups, k), **factory)))
        self.register_buffer(stem + "indices", torch.zeros(weight_shape, dtype=torch.uint8, device=device))
        self.register_buffer(stem + "mask", torch.ones(weight_shape, dtype=torch.bool, device=device))
        if bias:
            self.register_parameter("bias", torch.nn.Parameter(torch.empty(weight_shape[0], **factory)))
        elif "bias" not in self._parameters:
            self.register_parameter("bias", None)

    @property
    def bits(self) -> int:
        return self.codebook.shape[-1].bit_length() - 1

    @property
    def codebook_groups(self) -> int:
        """How many codebooks: 1, or one per equal slice of the weight's first dimension."""
        return self.codebook.shape[0] if self.codebook.dim() == 2 else 1

    @property
    def weight(self) -> torch.Tensor:
        """The decoded dense weight (a new tensor; differentiable w.r.t. the codebook)."""
        return ops.codebook_decode(self.indices, self.mask, self.codebook)

    def reset_parameters(self) -> None:
        """torch's initialisation of a fresh dense layer: its weight clustered (all kept), its other
        Parameters (bias, attention's out_proj, ...) copied."""
        if self.codebook.is_meta:
            return
        dense = self.dense_type(**self._options(), device=self.codebook.device, dtype=self.codebook.dtype)
        self.cluster(dense_weight(dense), None)
        mine = dict(self.named_parameters())
        with torch.no_grad():
            for name, parameter in dense.named_parameters():
                if name in mine:
                    mine[name].copy_(parameter)

    def cluster(self, weight: torch.Tensor, mask: Optional[torch.Tensor], *, init: str = "linear",
                method: str = "lloyd", seed: int = 0) -> None:
        """Sets codebook, indices and mask from a dense weight: k-means over the weights that survive
        mask (None: all of them), each codebook group on its own slice; see deepcomp.ops.kmeans_quantize
        (which checks the arguments)."""
        if mask is None:
            mask = torch.ones_like(weight, dtype=torch.bool)
        with torch.no_grad():
            codebook, indices = _C.cluster_weight(weight.detach(), mask, self.bits, init, method, seed,
                                                  self.codebook_groups)
            self.codebook.copy_(codebook)
            self.indices.copy_(indices)
            self.mask.copy_(mask)

    @classmethod
    def from_dense(cls, module: torch.nn.Module, bits: int, init: str = "linear", *, method: str = "lloyd",
                   seed: int = 0) -> "SharedLayer":
        """A shared layer clustered from module's weight: a plain or masked torch layer (pruned weights
        stay pruned) or a shared one (re-clustered). Shares module's bias Parameter; module is unchanged."""
        if not isinstance(module, (cls.dense_type, cls)):
            raise TypeError(f"{cls.__name__}.from_dense needs an nn.{cls.dense_type.__name__} (plain, masked or "
                            f"shared), got {type(module).__name__}")
        weight = dense_weight(module).detach()
        mask = (module.mask if isinstance(module, (MaskedLayer, SharedLayer))
                else torch.ones_like(weight, dtype=torch.bool))
        codebook, indices = ops.kmeans_quantize(weight, mask, bits, init=init, method=method, seed=seed)
        return cls.from_codebook(module, codebook, indices, mask)

    @classmethod
    def from_codebook(cls, module: torch.nn.Module, codebook: torch.Tensor, indices: torch.Tensor,
                      mask: torch.Tensor) -> "SharedLayer":
        """A shared layer standing for module (plain, masked or shared; unchanged) with a clustering made
        already: codebook (2^bits), uint8 indices and bool mask of module's weight shape (deepcomp.quantize
        computes these; a (groups, 2^bits) codebook gives per-group codebooks). Shares module's other
        Parameters (bias, ...) and children (attention's out_proj)."""
        bits = codebook.shape[-1].bit_length() - 1
        options = cls._options_of(module)
        if "bias" in options:
            options["bias"] = False  # module's own is shared below
        groups = codebook.shape[0] if codebook.dim() == 2 else 1
        layer = cls(**options, bits=bits, codebook_groups=groups, device="meta", dtype=codebook.dtype)
        layer = layer.to_empty(device=codebook.device)
        with torch.no_grad():
            layer.codebook.copy_(codebook.reshape(layer.codebook.shape))  # a (1, k) codebook is stored (k)
            layer.indices.copy_(indices)
            layer.mask.copy_(mask)
        weight_parts = {weight_stem(module) + part for part in ("weight", "codebook")}
        for name, parameter in module._parameters.items():
            if name not in weight_parts:
                setattr(layer, name, parameter)
        for name, child in module._modules.items():
            setattr(layer, name, child)
        layer.train(module.training)
        return layer

    def _options(self) -> dict:
        return self._options_of(self)

    @classmethod
    def _options_of(cls, module: torch.nn.Module) -> dict:
        """The constructor's arguments (but bits, device and dtype) that module, of this kind or of one
        standing for the same torch layer, has."""
        return dense_options(cls.dense_type, module)

    def kept(self) -> int:
        """How many weights survive the mask."""
        return int(self.mask.sum())

    def clusters_used(self) -> int:
        """How many centroids some kept weight points to."""
        return int(torch.bincount(self.indices[self.mask].long(), minlength=self.codebook.shape[-1]).count_nonzero())

    def extra_repr(self) -> str:
        groups = f", codebook_groups={self.codebook_groups}" if self.codebook_groups > 1 else ""
        return f"bits={self.bits}{groups}, kept={self.kept()}/{self.mask.numel()}"


def _check_groups(groups, weight_shape) -> int:
    """codebook_groups as an int, at most one per slice of the weight's first dimension, or a clear error."""
    if isinstance(groups, bool) or not isinstance(groups, Integral) or groups < 1:
        raise ValueError(f"codebook_groups must be an int >= 1, got {groups!r}")
    if groups > 1 and (len(weight_shape) == 0 or groups > weight_shape[0]):
        raise ValueError(f"codebook_groups={groups} is more than the {weight_shape[0] if weight_shape else 0} "
                         f"slices of the weight's first dimension (weight shape {tuple(weight_shape)})")
    return int(groups)
