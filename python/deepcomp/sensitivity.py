"""Sensitivity analysis: how much a metric suffers when one layer at a time is pruned or quantized.

The data of the paper's Figures 5 and 6, and the way to pick a pruning threshold per layer: prune
each layer alone to a range of sparsities (or quantize it to a range of widths) on a copy of the
model, measure with the user's `evaluate`, and keep, per layer, the largest change within a
tolerated drop of the metric.
"""
import copy
import math
import warnings
from dataclasses import dataclass, field
from numbers import Real
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from . import ops
from ._layers import check_layer, prunable, quantizable, select_layers
from .nn import MaskedLayer, SharedLayer
from .nn.shared_layer import MAX_BITS, check_bits
from .report import format_table

DEFAULT_SPARSITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
KINDS = ("prune", "quantize")

_PRUNE_CHECK = dict(caller="deepcomp.sensitivity", accepts=prunable, in_place=lambda module: True,
                    kinds="nn.Linear and nn.Conv2d (and their masked twins) for the pruning sweep; shared "
                          "layers only in the bits sweep, with sparsities=None")
_QUANTIZE_CHECK = dict(caller="deepcomp.sensitivity", accepts=quantizable,
                       in_place=lambda module: True,
                       kinds="nn.Linear and nn.Conv2d (plain, masked or shared) for the bits sweep")


@dataclass(frozen=True)
class SensitivityPoint:
    """One measurement: `metric` with only `layer` pruned to sparsity `value` (kind "prune") or
    quantized to `value` bits (kind "quantize")."""

    layer: str
    kind: str
    value: float
    metric: float


@dataclass
class SensitivityReport:
    """What deepcomp.sensitivity measured: the unmodified model's metric and one point per (layer, value),
    in measured order. `interrupted`: the sweep was stopped (Ctrl-C) before it finished."""

    baseline: float
    points: List[SensitivityPoint] = field(default_factory=list)
    interrupted: bool = False

    @property
    def layers(self) -> List[str]:
        """The measured layers' names, in measured order."""
        return list(dict.fromkeys(point.layer for point in self.points))

    def __getitem__(self, layer: str) -> List[SensitivityPoint]:
        found = [point for point in self.points if point.layer == layer]
        if not found:
            raise KeyError(f"no layer {layer!r} in this report")
        return found

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self):
        return iter(self.points)

    def kinds(self) -> List[str]:
        """The sweeps present, "prune" before "quantize"."""
        present = {point.kind for point in self.points}
        return [kind for kind in KINDS if kind in present]

    def curves(self, kind: str = "prune") -> Dict[str, List[Tuple[float, float]]]:
        """layer -> [(value, metric), ...] in measured order: sparsity or bits against the metric."""
        _check_kind(kind)
        curves: Dict[str, List[Tuple[float, float]]] = {}
        for point in self.points:
            if point.kind == kind:
                curves.setdefault(point.layer, []).append((point.value, point.metric))
        return curves

    def table(self, kind: str = "prune") -> str:
        """Rows: layers; columns: the sparsities (or bits) measured; cells: the metric ("" if not measured)."""
        curves = self.curves(kind)
        values = sorted({value for curve in curves.values() for value, _ in curve})
        header = ["layer"] + [_value_text(kind, value) for value in values]
        rows = []
        for layer, curve in curves.items():
            measured = dict(curve)
            rows.append([layer] + [f"{measured[value]:.4g}" if value in measured else "" for value in values])
        return format_table(header, rows)

    def __str__(self) -> str:
        title = {"prune": "pruned alone to sparsity", "quantize": "quantized alone to bits"}
        parts = [f"baseline (nothing changed): {self.baseline:.4g}"]
        parts += [f"metric with one layer {title[kind]}:\n{self.table(kind)}" for kind in self.kinds()]
        if self.interrupted:
            parts.append("(interrupted: the sweep is incomplete)")
        return "\n\n".join(parts)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "interrupted": self.interrupted,
                "points": [vars(point).copy() for point in self.points]}

    def tolerated(self, max_drop: float, kind: str = "prune", higher_is_better: bool = True) -> Dict[str, float]:
        """Per layer, the largest sparsity (kind "prune") or the smallest bits (kind "quantize") measured
        whose metric stays within max_drop (>= 0, in the metric's units) of the baseline: at least
        baseline - max_drop, or at most baseline + max_drop when higher_is_better is False. A NaN metric
        never passes. A layer with no such point gets sparsity 0.0 / 8 bits."""
        _check_kind(kind)
        _check_drop(max_drop)
        tolerated = {}
        for layer, curve in self.curves(kind).items():
            passing = [value for value, metric in curve
                       if (metric >= self.baseline - max_drop if higher_is_better
                           else metric <= self.baseline + max_drop)]
            if kind == "prune":
                tolerated[layer] = max(passing, default=0.0)
            else:
                tolerated[layer] = int(min(passing, default=MAX_BITS))
        return tolerated

    def sensitivities(self, model: torch.nn.Module, max_drop: float,
                      higher_is_better: bool = True) -> Dict[str, float]:
        """Per layer of the pruning sweep, the `sensitivity` for deepcomp.prune(model, sensitivity=...)
        that prunes it to its tolerated sparsity (see tolerated) given model's current weights and masks.

        The paper's rule drops |w| < sensitivity × std of the layer's surviving weights, so the value is
        a threshold between the sorted |w| of the survivors, divided by their std. Exact up to ties
        in |w| (then a weight or so); 0.0 for a layer that should lose nothing more, or whose survivors
        have no spread. Raises ValueError / TypeError for a layer model does not have or cannot prune."""
        modules = dict(model.named_modules())
        values = {}
        for layer, sparsity in self.tolerated(max_drop, "prune", higher_is_better).items():
            check_layer(model, modules, layer, **_PRUNE_CHECK)
            module = modules[layer]
            mask = module.mask if isinstance(module, MaskedLayer) else torch.ones_like(module.weight, dtype=torch.bool)
            values[layer] = _sensitivity_for(module.weight.detach(), mask, sparsity)
        return values


def sensitivity(model: torch.nn.Module, evaluate: Callable[[torch.nn.Module], float], *,
                sparsities: Optional[Sequence[float]] = DEFAULT_SPARSITIES, bits: Optional[Sequence[int]] = None,
                layers: Optional[Iterable[str]] = None, progress: bool = True) -> SensitivityReport:
    """Measures evaluate(model) with one layer at a time pruned (or quantized), on a copy of model.

    evaluate: called with the copy; returns a real number (a float, an int, or a one-element tensor),
      e.g. validation accuracy. Called once on the unchanged copy (the report's baseline), then once per
      (layer, value).
    sparsities: fractions in [0, 1) to prune each layer to alone, by deepcomp's magnitude rule (the
      weights deepcomp.prune(sparsity=...) would drop, on top of a masked layer's mask); None skips the
      pruning sweep. Default 0.1, 0.2, ..., 0.9.
    bits: widths in 1..8 to quantize each layer to alone (its kept weights replaced by their k-means
      centroids, as deepcomp.quantize(bits=..., init="linear") would); None (default) skips this sweep.
    layers: qualified names (as in model.named_modules()) to measure; default every nn.Linear,
      nn.Conv2d and masked twin (and, in the bits sweep, shared layer).
    progress: show a tqdm progress bar over the (layer, value) evaluations.

    model is never changed: the sweep runs on one deep copy, and each layer's weights are restored
    exactly before the next evaluation. Ctrl-C (KeyboardInterrupt) during the sweep stops it and returns
    the points measured so far with interrupted=True (and a warning); during the baseline it propagates.

    Raises ValueError / TypeError, before evaluate is first called, for values out of range, neither sweep,
    unknown layers and layers a sweep cannot change; TypeError when evaluate returns something else than a
    real number; ValueError (naming the layer) for NaN/Inf weights.
    """
    if not callable(evaluate):
        raise TypeError(f"deepcomp.sensitivity: evaluate must be callable (model -> float), got {evaluate!r}")
    sparsities = _check_values(sparsities, "sparsities", _check_sparsity)
    bits = _check_values(bits, "bits", lambda value: check_bits(value, "deepcomp.sensitivity: bits"))
    if not sparsities and not bits:
        raise ValueError("deepcomp.sensitivity: nothing to measure; pass sparsities= or bits=")
    modules = dict(model.named_modules())
    sweeps = []
    for kind, values, check in (("prune", sparsities, _PRUNE_CHECK), ("quantize", bits, _QUANTIZE_CHECK)):
        if values:
            sweeps.append((kind, values, select_layers(model, modules, layers, **check)))

    work = copy.deepcopy(model)
    work_modules = dict(work.named_modules())
    report = SensitivityReport(_metric(evaluate, work))
    total = sum(len(values) * len(names) for _, values, names in sweeps)
    bar = _progress_bar(total, progress)
    try:
        for kind, values, names in sweeps:
            for name in names:
                for value in values:
                    bar.set_postfix_str(f"{name} {_value_text(kind, value)}", refresh=False)
                    with _changed(work_modules[name], name, kind, value):
                        metric = _metric(evaluate, work)
                    report.points.append(SensitivityPoint(name, kind, float(value), metric))
                    bar.update()
    except KeyboardInterrupt:
        report.interrupted = True
        warnings.warn(f"deepcomp.sensitivity: interrupted; returning the {len(report.points)} of {total} "
                      "points measured so far", RuntimeWarning, stacklevel=2)
    finally:
        bar.close()
    return report


class _changed:
    """Context manager: the layer pruned to `value` sparsity or quantized to `value` bits inside,
    exactly as it was after (also when the body raises)."""

    def __init__(self, module: torch.nn.Module, name: str, kind: str, value):
        self.module, self.name, self.kind, self.value = module, name, kind, value

    def __enter__(self):
        module = self.module
        with torch.no_grad():
            try:
                if isinstance(module, SharedLayer):  # no dense weight to write: swap codebook and indices
                    self.saved = (module.codebook, module.indices)
                    codebook, indices = ops.kmeans_quantize(module.weight, module.mask, self.value)
                    module.codebook = torch.nn.Parameter(codebook, requires_grad=module.codebook.requires_grad)
                    module.indices = indices
                    return self
                weight = module.weight
                mask = module.mask if isinstance(module, MaskedLayer) else torch.ones_like(weight, dtype=torch.bool)
                if self.kind == "prune":
                    changed = ops.apply_mask(weight, ops.magnitude_prune(weight, mask, sparsity=self.value))
                else:
                    codebook, indices = ops.kmeans_quantize(weight, mask, self.value)
                    changed = ops.codebook_decode(indices, mask, codebook)
                self.saved = weight.detach().clone()
                weight.copy_(changed)
            except (ValueError, RuntimeError) as error:
                raise type(error)(f"deepcomp.sensitivity: layer {self.name!r}: {error}") from None
        return self

    def __exit__(self, *exc_info):
        if isinstance(self.module, SharedLayer):
            self.module.codebook, self.module.indices = self.saved
        else:
            with torch.no_grad():
                self.module.weight.copy_(self.saved)
        return False


def _metric(evaluate, model) -> float:
    result = evaluate(model)
    if isinstance(result, torch.Tensor) and result.numel() == 1 and not result.is_complex():
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, Real):
        raise TypeError(f"deepcomp.sensitivity: evaluate must return a real number (the metric), "
                        f"got {type(result).__name__} {result!r}")
    return float(result)


def _check_values(values, what: str, check) -> tuple:
    if values is None:
        return ()
    if isinstance(values, (Real, torch.Tensor)) or not isinstance(values, Iterable):
        raise TypeError(f"deepcomp.sensitivity: {what} must be a sequence of values (or None), got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"deepcomp.sensitivity: {what} is empty; pass None to skip that sweep")
    return tuple(check(value) for value in values)


def _check_sparsity(value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"deepcomp.sensitivity: sparsities must be numbers in [0, 1), got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"deepcomp.sensitivity: sparsities must be in [0, 1), got {value}")
    return float(value)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown sweep kind {kind!r}; use one of {', '.join(map(repr, KINDS))}")


def _check_drop(max_drop) -> None:
    if isinstance(max_drop, bool) or not isinstance(max_drop, Real) or not max_drop >= 0:
        raise ValueError(f"max_drop must be a number >= 0 (in the metric's units), got {max_drop!r}")


def _value_text(kind: str, value: float) -> str:
    return f"{100 * value:g}%" if kind == "prune" else f"{int(value)} bits"


def _sensitivity_for(weight: torch.Tensor, mask: torch.Tensor, sparsity: float) -> float:
    # magnitude_prune(sparsity=f) prunes floor(f × numel) weights in all; find the threshold on |w| of
    # the survivors that drops just the missing ones, halfway between the last dropped and the first kept.
    survivors = weight.masked_select(mask).double()
    extra = math.floor(sparsity * weight.numel()) - (weight.numel() - survivors.numel())
    if extra <= 0 or survivors.numel() < 2:
        return 0.0
    spread = float(survivors.std())
    if not spread > 0:
        return 0.0
    magnitudes = survivors.abs().sort().values
    threshold = (float(magnitudes[extra - 1]) + float(magnitudes[extra])) / 2
    return threshold / spread


class _NoBar:
    def set_postfix_str(self, *args, **kwargs):
        pass

    def update(self, *args):
        pass

    def close(self):
        pass


def _progress_bar(total: int, progress: bool):
    if not progress:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn("deepcomp.sensitivity: install tqdm for a progress bar (or pass progress=False)",
                      RuntimeWarning, stacklevel=3)
        return _NoBar()
    return tqdm(total=total, desc="deepcomp.sensitivity", unit="eval")
