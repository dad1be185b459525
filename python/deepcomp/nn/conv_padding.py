"""The padding of deepcomp's conv layers: the ops pad symmetrically with zeros; other padding modes
and the asymmetric 'same' of an even kernel are padded before the op, as nn.Conv2d does."""
from typing import Tuple

import torch
import torch.nn.functional as F


def pad_for_op(layer: torch.nn.Module, input: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """(input, padding) to hand to a deepcomp conv op for `layer` (which has nn.Conv2d's padding attributes)."""
    left, right, top, bottom = layer._reversed_padding_repeated_twice
    if layer.padding_mode == "zeros" and left == right and top == bottom:
        return input, (top, left)
    mode = "constant" if layer.padding_mode == "zeros" else layer.padding_mode
    return F.pad(input, layer._reversed_padding_repeated_twice, mode=mode), (0, 0)
