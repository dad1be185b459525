"""Compression without retraining: what the inputs of each layer look like over a few batches, for
activation-weighted pruning (deepcomp.prune(..., criterion="activation", calibration=...)) and
importance-weighted k-means (deepcomp.quantize(..., weights=...)). This module only runs the model with
forward hooks; how each layer kind's input is counted, and what the counts mean for its weights, is
decided in C++ (deepcomp/calibration.h)."""
from typing import Any, Callable, Dict, Iterable, Optional

import torch

from . import _C
from ._layers import Exclude, describe, exclude_names, modules_of, warn_skipped
from .nn.dense_forward import dense_weight
from .nn.shared_layer import SharedLayer

InputMoments = _C.InputMoments
Calibration = Dict[str, InputMoments]


def calibrate(model: torch.nn.Module, batches: Iterable, *,
              forward: Optional[Callable[[torch.nn.Module, Any], Any]] = None, layers=None,
              exclude: Exclude = None) -> Calibration:
    """Runs model over batches and returns, per layer deepcomp changes (Linear, Conv1d/2d/3d,
    ConvTranspose1d/2d/3d, Embedding, EmbeddingBag, MultiheadAttention; plain, masked or shared), the second
    moment E[x²] of each of its input features: a Linear's input columns, a convolution's input channels,
    an embedding's rows (the fraction of lookups that hit each; an embedding bag's per-sample weights are
    not counted), an attention layer's query features. A few hundred samples are usually enough.

    batches: any iterable; a batch is called as model(batch), model(*batch) for a tuple or list, and
      model(**batch) for a dict, or as forward(model, batch) when forward is given.
    layers / exclude: as for deepcomp.prune (default: every such layer; others are skipped with a warning).
    The model runs in eval mode without gradients and gets its training mode back; nothing else changes.
    Returns {layer name: InputMoments} (.mean_square(), .samples; .merge() adds another's counts, e.g.
    gathered on another rank). A layer the batches never reached has no entry; prune and quantize name
    it when they need it. Raises what the model raises, and ValueError for an input a layer cannot take.
    """
    entries = describe(model, decode_shared=False)
    chosen, skipped = _C.calibration_layers(entries, layers, exclude_names(model, exclude), "deepcomp.calibrate")
    warn_skipped("deepcomp.calibrate", skipped)
    modules = modules_of(model)
    calibration: Calibration = {}
    handles = [modules[index].register_forward_pre_hook(_counter(entries[index], calibration)) for index in chosen]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for batch in batches:
                _run(model, batch, forward)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return calibration


def _counter(entry, calibration: Calibration):
    def count(module, args):
        if not args:
            raise ValueError(f"deepcomp.calibrate: layer '{entry.name}' was called without a positional input")
        shape = tuple((module.indices if isinstance(module, SharedLayer) else dense_weight(module)).shape)
        calibration.setdefault(entry.name, InputMoments()).add(entry.kind, list(shape), args[0])
    return count


def _run(model: torch.nn.Module, batch, forward) -> None:
    if forward is not None:
        forward(model, batch)
    elif isinstance(batch, dict):
        model(**batch)
    elif isinstance(batch, (tuple, list)):
        model(*batch)
    else:
        model(batch)
