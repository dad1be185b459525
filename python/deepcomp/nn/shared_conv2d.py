import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .conv_padding import pad_for_op
from .dense_forward import layer_attributes
from .shared_layer import SharedLayer

class SharedConv2d(SharedLayer):
    """A 2-D convolution whose weights share a codebook of 2^bits centroids (deepcomp.ops.shared_conv2d);
    nn.Conv2d's arguments, all supported.

    codebook: Parameter (2^bits,), or (codebook_groups, 2^bits); indices: uint8 buffer (out_channels,
    in_channels / groups, kH, kW); mask: bool buffer of that shape (False = pruned, exactly 0); bias: Parameter (out_channels) or None;
    weight: the decoded dense weight. Make one with SharedConv2d.from_dense(conv, bits), or deepcomp.quantize.
    """

    dense_type = torch.nn.Conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", *, bits: int = 8,
                 codebook_groups: int = 1, device=None, dtype=None):
        super().__init__()
        # nn.Conv2d checks and normalises the arguments (on the meta device: nothing is allocated).
        conv = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                               padding_mode, device="meta")
        for name, value in layer_attributes(conv).items():
            setattr(self, name, value)
        self._register_shared(conv.weight.shape, bits, bias, device, dtype, codebook_groups=codebook_groups)
        self.reset_parameters()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        input, padding = pad_for_op(self, input)
        if standard_ops.exporting():
            weight = standard_ops.shared_weight(self.indices, self.mask, self.codebook)
            return F.conv2d(input, weight, self.bias, self.stride, padding, self.dilation, self.groups)
        return ops.shared_conv2d(input, self.indices, self.mask, self.codebook, self.bias, self.stride, padding,
                                 self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, padding_mode={self.padding_mode!r}, {super().extra_repr()}")
