"""deepcomp's layers: thin torch.nn modules over the deepcomp ops."""
from .masked_conv2d import MaskedConv2d
from .masked_layer import MaskedLayer, enforce_masks
from .masked_linear import MaskedLinear

__all__ = ["MaskedConv2d", "MaskedLayer", "MaskedLinear", "enforce_masks"]
