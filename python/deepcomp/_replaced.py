"""A warning, not silence, when an optimizer still holds Parameters of layers that quantize replaced:
their new codebooks are not in that optimizer, so they would never train.

Replaced Parameters are remembered weakly (by id, with a weak reference, so nothing is kept alive);
a global optimizer step pre-hook looks for them, only while there are any, and warns once per optimizer.
"""
import warnings
import weakref
from typing import Dict, Iterable, Tuple

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

_replaced: Dict[int, Tuple[weakref.ref, str]] = {}
_warned: "weakref.WeakSet[torch.optim.Optimizer]" = weakref.WeakSet()


def remember(layer: str, parameters: Iterable[torch.Tensor]) -> None:
    """`parameters` left the model when `layer` was replaced."""
    for parameter in parameters:
        key = id(parameter)
        _replaced[key] = (weakref.ref(parameter, lambda _, key=key: _replaced.pop(key, None)), layer)


def _warn_if_stale(optimizer, args, kwargs) -> None:
    if not _replaced or optimizer in _warned:
        return
    stale = []
    for group in optimizer.param_groups:
        for param in group["params"]:
            found = _replaced.get(id(param))
            if found is not None and found[0]() is param:
                stale.append(found[1])
    if stale:
        _warned.add(optimizer)
        layers = ", ".join(sorted(set(stale)))
        warnings.warn(f"{type(optimizer).__name__} steps {len(stale)} Parameter(s) of layers deepcomp.quantize replaced "
                      f"({layers}); the new layers' codebooks are not in this optimizer, so they do not train. "
                      "Build the optimizer after deepcomp.quantize (over model.parameters()).",
                      UserWarning, stacklevel=3)


register_optimizer_step_pre_hook(_warn_if_stale)
