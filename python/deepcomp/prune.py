"""Stage 1 of Deep Compression: magnitude pruning of a model's Linear and Conv2d layers, in place."""
from dataclasses import dataclass, field
from numbers import Real
from typing import Dict, Iterable, List, Optional, Tuple, Union

import torch

from . import ops
from ._layers import MASKED_TWIN, check_layer, prunable, select_layers, swap_children
from .nn import MaskedConv2d, MaskedLayer
from .report import LayerRows, format_table

LayerValues = Union[float, Dict[str, float]]


@dataclass(frozen=True)
class LayerPruneStats:
    name: str
    kind: str
    shape: Tuple[int, ...]
    weights: int
    kept: int

    @property
    def kept_fraction(self) -> float:
        return self.kept / self.weights if self.weights else 1.0


@dataclass
class PruneReport(LayerRows):
    """One row per pruned layer; prints as a table (layer, type, shape, weights, kept, kept %)."""

    criterion: str
    layers: List[LayerPruneStats] = field(default_factory=list)

    @property
    def total_weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def total_kept(self) -> int:
        return sum(layer.kept for layer in self.layers)

    @property
    def kept_fraction(self) -> float:
        return self.total_kept / self.total_weights if self.total_weights else 1.0

    def to_dict(self) -> dict:
        return {"criterion": self.criterion,
                "layers": [{**vars(layer), "shape": list(layer.shape), "kept_fraction": layer.kept_fraction}
                           for layer in self.layers],
                "total_weights": self.total_weights, "total_kept": self.total_kept,
                "kept_fraction": self.kept_fraction}

    def __str__(self) -> str:
        rows = [(l.name, l.kind, "x".join(map(str, l.shape)), l.weights, l.kept, f"{100 * l.kept_fraction:.2f}%")
                for l in self.layers]
        footer = ("total", "", "", self.total_weights, self.total_kept, f"{100 * self.kept_fraction:.2f}%")
        return format_table(("layer", "type", "shape", "weights", "kept", "kept %"), rows, footer)


def prune(model: torch.nn.Module, *, sensitivity: Optional[LayerValues] = None,
          sparsity: Optional[LayerValues] = None, layers: Optional[Iterable[str]] = None) -> PruneReport:
    """Prunes model's Linear and Conv2d layers by weight magnitude, in place, and reports per layer.

    Exactly one criterion, a float for every selected layer or a dict {qualified layer name: value}
    (then only the layers it names are pruned):
      sensitivity: drop |w| < sensitivity × std of the layer's surviving weights (the paper's rule);
      sparsity: drop the smallest |w| until this fraction of the layer's weights, in [0, 1), is pruned.
    layers: qualified names (as in model.named_modules()) to restrict pruning to; default: every
    nn.Linear, nn.Conv2d, MaskedLinear and MaskedConv2d.

    nn.Linear / nn.Conv2d become MaskedLinear / MaskedConv2d sharing their Parameters (optimizers
    built before keep working); masked layers are pruned further (masks only shrink). Pruned
    weights are set to exactly zero and stay zero through training.

    Raises ValueError (both or neither criterion, a value out of range, an unknown layer name,
    NaN/Inf in a weight) or TypeError (a layer deepcomp cannot prune); every check runs before any
    layer changes, so on an error the model is as it was.
    """
    criterion, values = _criterion(sensitivity, sparsity)
    modules = dict(model.named_modules())
    selected = _select_layers(model, modules, layers, values)

    new_masks = {}
    with torch.no_grad():
        for name in selected:
            module = modules[name]
            mask = module.mask if isinstance(module, MaskedLayer) else torch.ones_like(module.weight, dtype=torch.bool)
            value = values[name] if isinstance(values, dict) else values
            try:
                new_masks[name] = ops.magnitude_prune(module.weight, mask, **{criterion: value})
            except (ValueError, RuntimeError) as error:
                raise type(error)(f"layer {name!r}: {error}") from None

        report = PruneReport(criterion)
        swapped = {}
        for name in selected:
            layer = modules[name]
            if not isinstance(layer, MaskedLayer):
                dense, layer = layer, MASKED_TWIN[type(layer)].from_dense(layer)
                swapped[id(dense)] = layer
            layer.mask.copy_(new_masks[name])
            ops.apply_mask_(layer.weight, layer.mask)
            kind = "Conv2d" if isinstance(layer, MaskedConv2d) else "Linear"
            report.layers.append(LayerPruneStats(name, kind, tuple(layer.weight.shape), layer.weight.numel(),
                                                 layer.kept()))
    swap_children(model, swapped)
    return report


def _criterion(sensitivity, sparsity) -> Tuple[str, LayerValues]:
    if (sensitivity is None) == (sparsity is None):
        raise ValueError("deepcomp.prune: pass exactly one of sensitivity= or sparsity=")
    criterion, values = ("sensitivity", sensitivity) if sparsity is None else ("sparsity", sparsity)
    for name, value in (values.items() if isinstance(values, dict) else [("every layer", values)]):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"deepcomp.prune: {criterion} for {name} must be a number, got {value!r}")
    return criterion, values


_CHECK = dict(caller="deepcomp.prune", accepts=prunable,
              kinds="nn.Linear and nn.Conv2d (and their masked twins)",
              in_place=lambda module: isinstance(module, MaskedLayer))


def _select_layers(model, modules: dict, layers, values) -> List[str]:
    selected = select_layers(model, modules, layers, **_CHECK)
    if isinstance(values, dict):
        for name in values:
            check_layer(model, modules, name, **_CHECK)
        selected = [name for name in selected if name in values]
    return selected
