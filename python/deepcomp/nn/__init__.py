"""deepcomp's layers: thin torch.nn modules over the deepcomp ops."""
from .compressed_linear import CompressedLinear
from .masked_conv2d import MaskedConv2d
from .masked_layer import MaskedLayer, enforce_masks
from .masked_linear import MaskedLinear
from .shared_conv2d import SharedConv2d
from .shared_layer import SharedLayer
from .shared_linear import SharedLinear

__all__ = ["CompressedLinear", "MaskedConv2d", "MaskedLayer", "MaskedLinear", "SharedConv2d", "SharedLayer",
           "SharedLinear", "enforce_masks"]
