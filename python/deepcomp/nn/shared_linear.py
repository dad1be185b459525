import torch
import torch.nn.functional as F

from .. import ops
from . import standard_ops
from .shared_layer import SharedLayer


class SharedLinear(SharedLayer):
    """A linear layer whose weights share a codebook of 2^bits centroids (deepcomp.ops.shared_linear).

    codebook: Parameter (2^bits,), or (codebook_groups, 2^bits); indices: uint8 buffer (out_features,
    in_features); mask: bool buffer of that shape (False = pruned, exactly 0); bias: Parameter (out_features) or None; weight: the
    decoded dense weight. Input (*, in_features) -> output (*, out_features).
    Make one from a trained layer with SharedLinear.from_dense(linear, bits), or deepcomp.quantize.
    """

    dense_type = torch.nn.Linear

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, bits: int = 5,
                 codebook_groups: int = 1, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._register_shared((out_features, in_features), bits, bias, device, dtype,
                              codebook_groups=codebook_groups)
        self.reset_parameters()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if standard_ops.exporting():
            return F.linear(input, standard_ops.shared_weight(self.indices, self.mask, self.codebook), self.bias)
        return ops.shared_linear(input, self.indices, self.mask, self.codebook, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {super().extra_repr()}")
