"""Stage 1 of Deep Compression: magnitude pruning of a model's layers (docs/layers.md), in place.

The decisions (which layers, thresholds, checks, the report) are made in C++ (deepcomp/prune.h);
this module finds and swaps the nn.Module layers."""
from typing import Dict, Optional, Union

import torch

from . import _C, ops
from .calibrate import Calibration
from ._layers import (MASKED_TWIN, Exclude, add_twins_of_attention_with_masked_out_proj, describe, exclude_names,
                      modules_of, swap_children, warn_skipped)
from .nn import MaskedLayer

LayerValues = Union[float, Dict[str, float]]
LayerPruneStats = _C.LayerPruneStats
PruneReport = _C.PruneReport


def prune(model: torch.nn.Module, *, sensitivity: Optional[LayerValues] = None,
          sparsity: Optional[LayerValues] = None, layers=None, exclude: Exclude = None,
          criterion: str = "magnitude", calibration: Optional[Calibration] = None) -> PruneReport:
    """Prunes model's Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, Embedding, EmbeddingBag and
    MultiheadAttention layers (docs/layers.md) by weight magnitude, in place, and reports per layer.

    Exactly one criterion, a float for every selected layer or a dict {qualified layer name: value}
    (then only the layers it names are pruned):
      sensitivity: drop |w| < sensitivity × std of the layer's surviving weights (the paper's rule);
      sparsity: drop the smallest |w| until this fraction of the layer's weights, in [0, 1), is pruned.
    layers: qualified names (as in model.named_modules()) to restrict pruning to; default: every
    layer of those types, plain or masked.
    exclude: names to leave alone, or a predicate (name, module) -> bool.
    criterion: what is compared, "magnitude" (|w|, the paper's: for a model you retrain afterwards) or
      "activation" (|w| × the RMS of the input it multiplies, from calibration = deepcomp.calibrate(model,
      batches): loses much less when the model is not retrained; every pruned layer needs statistics).

    nn.Linear, nn.Conv1d, ... become MaskedLinear, MaskedConv1d, ... sharing their Parameters
    (optimizers built before keep working); masked layers are pruned further (masks only shrink).
    Pruned weights are set to exactly zero and stay zero through training. Weighted layers it cannot
    prune (LSTM, Bilinear, shared layers, ...) are skipped with a warning that names each,
    and report.skipped lists them.

    Raises ValueError (both or neither criterion, a value out of range, an unknown layer name,
    NaN/Inf in a weight, no layer to prune) or TypeError (a layer deepcomp cannot prune); every
    check runs before any layer changes, so on an error the model is as it was.
    """
    if (sensitivity is None) == (sparsity is None):
        raise ValueError("deepcomp.prune: pass exactly one of sensitivity= or sparsity=")
    rule, values = ("sensitivity", sensitivity) if sparsity is None else ("sparsity", sparsity)
    report, chosen, masks = _C.plan_prune(describe(model, decode_shared=False), rule, values, layers,
                                          exclude_names(model, exclude), "deepcomp.prune", criterion, calibration)
    warn_skipped("deepcomp.prune", report.skipped)
    modules = modules_of(model)
    swapped = {}
    with torch.no_grad():
        for index, mask in zip(chosen, masks):
            layer = modules[index]
            if not isinstance(layer, MaskedLayer):
                dense, layer = layer, MASKED_TWIN[type(layer)].from_dense(layer)
                swapped[id(dense)] = layer
            layer.mask.copy_(mask)
            ops.apply_mask_(layer.weight, layer.mask)
    add_twins_of_attention_with_masked_out_proj(model, swapped)
    swap_children(model, swapped)
    return report
