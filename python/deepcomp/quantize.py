"""Stage 2 of Deep Compression: trained quantization (weight sharing) of a model's layers, in place.

The decisions (which layers, widths, clustering, checks, the report) are made in C++
(deepcomp/quantize.h); this module finds and swaps the nn.Module layers."""
from typing import Dict, Optional, Union

import torch

from . import _C
from ._replaced import remember
from .calibrate import Calibration, InputMoments
from ._layers import SHARED_TWIN, Exclude, describe, exclude_names, modules_of, swap_children, warn_skipped

LayerBits = Union[int, Dict[str, int]]
LayerQuantizeStats = _C.LayerQuantizeStats
QuantizeReport = _C.QuantizeReport


def quantize(model: torch.nn.Module, *, bits=None, init: str = "linear", layers=None, method: str = "lloyd",
             seed: int = 0, exclude: Exclude = None,
             weights: Union[None, Calibration, Dict[str, torch.Tensor]] = None,
             group_size: Optional[int] = None) -> QuantizeReport:
    """Quantizes model's Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, Embedding, EmbeddingBag and
    MultiheadAttention layers by weight sharing, in place, and reports per layer (docs/layers.md).

    Each layer's kept weights are clustered by 1-D k-means into k = 2^bits centroids (a codebook);
    the layer becomes a SharedLinear, SharedConv1d, ... whose weights are indices into its codebook.
    Pruned weights (of masked layers) stay exactly zero. Fine-tune the codebooks afterwards with any
    optimizer built over model.parameters() (build it after quantize: the codebooks are new Parameters;
    an optimizer built before warns at its first step).

    bits: an int for every layer, or a dict {qualified layer name: bits} overriding the default for
      the layers it names; default 5 for linear layers (the paper's), 8 for the others. 1..8.
    init: the initial codebook, "linear" (evenly spaced from min to max: the paper's best),
      "density" (evenly spaced in the CDF) or "random" (Forgy, drawn with `seed`).
    layers: qualified names (as in model.named_modules()) to restrict to; default: every layer of
      those types, plain, masked or shared (a shared layer is re-clustered).
    exclude: names to leave alone, or a predicate (name, module) -> bool.
    method: "lloyd" (Lloyd's iterations from init) or "exact" (least squared error; see
      deepcomp.ops.kmeans_quantize).
    weights: importance-weighted k-means (the least sum of importance × squared error), for a model
      you do not retrain: deepcomp.calibrate(model, batches) (each weight weighs the second moment of
      the input it multiplies, so its share of the output's error), or {layer name: tensor
      broadcastable to that layer's weight, >= 0} (e.g. a diagonal Fisher estimate, the mean of
      grad² over batches); layers it does not name are clustered unweighted.
    group_size: per-group codebooks (grouped palettization): each run of group_size consecutive slices
      of a layer's weight along its first dimension (output channels of Linear and Conv, input
      channels of ConvTranspose, rows of an Embedding) gets its own 2^bits codebook; 1 is one codebook
      per channel. Where group_size does not divide the slices, the ceil(slices / group_size) groups
      are as even as possible (none longer than group_size). The codebooks are stored in the file and
      counted in its size. Default None: one codebook per layer (the paper's).

    Weighted layers it cannot quantize (LSTM, Bilinear, ...) are skipped with a warning that names
    each; report.skipped lists them. Raises ValueError / TypeError for bad arguments, unknown layers,
    NaN/Inf weights and no layer to quantize; every check and every clustering runs before any layer
    changes, so on an error the model is as it was.
    """
    clustering = clustering_options("deepcomp.quantize", init=init, method=method, seed=seed, weights=weights,
                                    group_size=group_size)
    report, chosen, clustered = _C.plan_quantize(describe(model), bits, layers, exclude_names(model, exclude),
                                                 clustering, "deepcomp.quantize")
    warn_skipped("deepcomp.quantize", report.skipped)
    modules = modules_of(model)
    replacements = {}
    for index, (codebook, indices, mask) in zip(chosen, clustered):
        module = modules[index]
        replacements[id(module)] = SHARED_TWIN[type(module)].from_codebook(module, codebook, indices, mask)
    swap_children(model, replacements)
    for index, row in zip(chosen, report.layers):
        old = modules[index]
        kept = {id(p) for p in replacements[id(old)].parameters()}
        remember(f"'{row.name}'", [p for p in old.parameters() if id(p) not in kept])
    return report


def clustering_options(caller: str, *, init: str = "linear", method: str = "lloyd", seed: int = 0,
                       weights: Union[None, Calibration, Dict[str, torch.Tensor]] = None,
                       group_size: Optional[int] = None) -> "_C.QuantizeOptions":
    """How deepcomp.quantize clusters a layer (its keywords of those names), checked, for the C++ pipeline."""
    calibration, importance = _importance(weights, caller)
    return _C.clustering(init, method, seed, importance, calibration, group_size, caller)


def _importance(weights, caller: str):
    """(calibration, {name: importance tensor}) of quantize's weights= argument."""
    if weights is None:
        return None, {}
    if not isinstance(weights, dict):
        raise TypeError(f"{caller}: weights must be deepcomp.calibrate's statistics or a dict of layer "
                        f"name -> importance tensor, got {type(weights).__name__}")
    if weights and all(isinstance(value, InputMoments) for value in weights.values()):
        return weights, {}
    for name, value in weights.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise TypeError(f"{caller}: weights maps layer names to importance tensors (or is "
                            f"deepcomp.calibrate's statistics), got {name!r}: {type(value).__name__}")
    return None, dict(weights)
