import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .masked_layer import MaskedLayer


class MaskedLinear(MaskedLayer, torch.nn.Linear):
    """nn.Linear with a pruning mask (deepcomp.ops.masked_linear).

    weight: Parameter (out_features, in_features); bias: Parameter (out_features) or None;
    mask: bool buffer of the weight's shape, True where the weight is kept. Pruned weights are
    exactly zero in every forward and after every optimizer step; their gradient is zero.
    Input (*, in_features) -> output (*, out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self._register_mask()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if standard_ops.exporting():
            return F.linear(input, standard_ops.masked_weight(self.weight, self.mask), self.bias)
        return ops.masked_linear(input, self.weight, self.mask, self.bias)
