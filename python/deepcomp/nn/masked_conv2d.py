import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .conv_padding import pad_for_op
from .masked_layer import MaskedLayer


class MaskedConv2d(MaskedLayer, torch.nn.Conv2d):
    """nn.Conv2d with a pruning mask (deepcomp.ops.masked_conv2d); nn.Conv2d's arguments, all supported.

    weight: Parameter (out_channels, in_channels / groups, kH, kW); bias: Parameter (out_channels)
    or None; mask: bool buffer of the weight's shape, True where the weight is kept. Pruned weights
    are exactly zero in every forward and after every optimizer step; their gradient is zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._register_mask()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        input, padding = pad_for_op(self, input)
        if standard_ops.exporting():
            return F.conv2d(input, standard_ops.masked_weight(self.weight, self.mask), self.bias, self.stride,
                            padding, self.dilation, self.groups)
        return ops.masked_conv2d(input, self.weight, self.mask, self.bias, self.stride, padding,
                                 self.dilation, self.groups)
