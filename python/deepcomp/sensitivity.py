"""Sensitivity analysis: how much a metric suffers when one layer at a time is pruned or quantized.

The data of the paper's Figures 5 and 6, and the way to pick a pruning threshold per layer: prune
each layer alone to a range of sparsities (or quantize it to a range of widths) on a copy of the
model, measure with the user's `evaluate`, and keep, per layer, the largest change within a
tolerated drop of the metric.
"""
import copy
import warnings
from collections.abc import Mapping
from numbers import Real
from typing import Callable, Iterable, Optional, Sequence, Union

import torch

from . import _C
from ._layers import Exclude, describe, exclude_names, modules_of, warn_skipped
from .nn import SharedLayer
from .nn.dense_forward import dense_weight, weight_stem
from .quantize import clustering_options

_CLUSTERING_KEYWORDS = ("init", "method", "seed", "weights", "group_size")

DEFAULT_SPARSITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SensitivityPoint = _C.SensitivityPoint


class SensitivityReport(_C.SensitivityReport):
    """What deepcomp.sensitivity measured: the unmodified model's metric and one point per (layer, value),
    in measured order. `interrupted`: the sweep was stopped (Ctrl-C) before it finished.

    tolerated(max_drop, kind="prune", higher_is_better=True): per layer, the largest sparsity (or the
    smallest bits) measured whose metric stays within max_drop of the baseline (0.0 / 8 bits if none).
    sensitivities(model, max_drop, higher_is_better=True): per layer, the `sensitivity` for
    deepcomp.prune that reaches its tolerated sparsity given model's current weights and masks.
    bits_for_budget(model, max_bytes, higher_is_better=True): mixed precision for a file size.
    The arithmetic of all three is C++'s (deepcomp/sensitivity.h)."""

    def sensitivities(self, model: torch.nn.Module, max_drop: float, higher_is_better: bool = True):
        return self._sensitivities(describe(model), max_drop, higher_is_better)

    def bits_for_budget(self, model: Union[torch.nn.Module, Mapping], max_bytes: float,
                        higher_is_better: bool = True) -> "_C.BitBudget":
        """Per-layer widths (from those the bits sweep measured) for a .dcz file of at most max_bytes
        that lose the least metric in all, each layer's drop as measured alone (a multiple-choice
        knapsack, solved by dynamic programming over the file's bytes; deepcomp/sensitivity.h).

        model: the model the report measured (or its state dict), as it is before deepcomp.quantize.
        Returns a BitBudget: .bits ({layer: bits}, for deepcomp.quantize(bits=...) with the keywords the
        sweep clustered with, quantize_options), .file_bytes (the file's size deepcomp.save will write,
        exact when quantize clusters as the sweep did) and .metric (the baseline less the sum of each
        chosen width's drop measured alone: an estimate, since layers interact).
        Raises ValueError for max_bytes < 1, a report without a bits sweep, a model without a measured
        layer, or a budget that even the narrowest widths do not fit (naming the smallest file)."""
        state = model.state_dict() if isinstance(model, torch.nn.Module) else model
        if not isinstance(state, Mapping):
            raise TypeError(f"bits_for_budget needs an nn.Module or a state dict, got {type(model).__name__}")
        return self._bits_for_budget(list(state.items()), max_bytes, higher_is_better)


def sensitivity(model: torch.nn.Module, evaluate: Callable[[torch.nn.Module], float], *,
                sparsities: Optional[Sequence[float]] = DEFAULT_SPARSITIES, bits: Optional[Sequence[int]] = None,
                layers: Optional[Iterable[str]] = None, progress: bool = True,
                exclude: Exclude = None, quantize_options: Optional[Mapping] = None) -> SensitivityReport:
    """Measures evaluate(model) with one layer at a time pruned (or quantized), on a copy of model.

    evaluate: called with the copy; returns a real number (a float, an int, or a one-element tensor),
      e.g. validation accuracy. Called once on the unchanged copy (the report's baseline), then once per
      (layer, value).
    sparsities: fractions in [0, 1) to prune each layer to alone, by deepcomp's magnitude rule (the
      weights deepcomp.prune(sparsity=...) would drop, on top of a masked layer's mask); None skips the
      pruning sweep. Default 0.1, 0.2, ..., 0.9.
    bits: widths in 1..8 to quantize each layer to alone (its kept weights replaced by their k-means
      centroids, as deepcomp.quantize(bits=..., **quantize_options) would); None (default) skips this
      sweep. Each of its points also records the bytes the layer's weight takes in a .dcz file at that
      width (point.bytes), for report.bits_for_budget.
    quantize_options: how the bits sweep clusters, as deepcomp.quantize's keywords of these names:
      init, method, seed, weights, group_size (default: linear init, Lloyd, one codebook).
    layers: qualified names (as in model.named_modules()) to measure; default every layer of the types
      deepcomp.prune takes, plain or masked (and, in the bits sweep, shared).
    exclude: names to leave alone, or a predicate (name, module) -> bool.
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
    clustering = _clustering(quantize_options)
    sweeps, skipped = _C.plan_sensitivity(describe(model), sparsities, bits, layers, exclude_names(model, exclude),
                                          clustering, "deepcomp.sensitivity")
    warn_skipped("deepcomp.sensitivity", skipped)

    work = copy.deepcopy(model)
    entries, work_modules = describe(work), modules_of(work)
    baseline = _metric(evaluate, work)
    points, interrupted = [], False
    total = sum(len(values) * len(indices) for _, values, indices in sweeps)
    bar = _progress_bar(total, progress)
    try:
        for kind, values, indices in sweeps:
            for index in indices:
                for value in values:
                    bar.set_postfix_str(f"{entries[index].name} {value}", refresh=False)
                    with _changed(work_modules[index], entries[index], kind, value, clustering) as change:
                        metric = _metric(evaluate, work)
                    points.append(SensitivityPoint(entries[index].name, kind, float(value), metric, change.bytes,
                                                   change.codebooks))
                    bar.update()
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(f"deepcomp.sensitivity: interrupted; returning the {len(points)} of {total} "
                      "points measured so far", RuntimeWarning, stacklevel=2)
    finally:
        bar.close()
    return SensitivityReport(baseline, points, interrupted)


class _changed:
    """Context manager: the layer as one sweep point sets it (_C.sweep_change) inside, exactly as it
    was after (also when the body raises)."""

    def __init__(self, module: torch.nn.Module, entry, kind: str, value, clustering):
        self.module, self.entry, self.kind, self.value, self.clustering = module, entry, kind, value, clustering

    def __enter__(self):
        module = self.module
        weight, codebook, indices, self.bytes, self.codebooks = _C.sweep_change(
            self.entry, self.kind, self.value, self.clustering, "deepcomp.sensitivity")
        with torch.no_grad():
            if isinstance(module, SharedLayer):  # no dense weight to write: swap codebook and indices
                self.saved = (module.codebook, module.indices)
                self._set_shared(torch.nn.Parameter(codebook, requires_grad=module.codebook.requires_grad), indices)
            else:
                self.saved = dense_weight(module).detach().clone()
                dense_weight(module).copy_(weight)
        return self

    def __exit__(self, *exc_info):
        if isinstance(self.module, SharedLayer):
            self._set_shared(*self.saved)
        else:
            with torch.no_grad():
                dense_weight(self.module).copy_(self.saved)
        return False

    def _set_shared(self, codebook: torch.nn.Parameter, indices: torch.Tensor) -> None:
        stem = weight_stem(self.module)  # attention's are in_proj_codebook and in_proj_indices
        setattr(self.module, stem + "codebook", codebook)
        setattr(self.module, stem + "indices", indices)


def _clustering(quantize_options: Optional[Mapping]):
    options = {} if quantize_options is None else quantize_options
    if not isinstance(options, Mapping):
        raise TypeError(f"deepcomp.sensitivity: quantize_options must be a dict of deepcomp.quantize keywords, "
                        f"got {type(options).__name__}")
    unknown = sorted(set(options) - set(_CLUSTERING_KEYWORDS))
    if unknown:
        raise TypeError(f"deepcomp.sensitivity: quantize_options takes {', '.join(_CLUSTERING_KEYWORDS)}; "
                        f"got {', '.join(map(str, unknown))}")
    return clustering_options("deepcomp.sensitivity", **options)


def _metric(evaluate, model) -> float:
    result = evaluate(model)
    if isinstance(result, torch.Tensor) and result.numel() == 1 and not result.is_complex():
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, Real):
        raise TypeError(f"deepcomp.sensitivity: evaluate must return a real number (the metric), "
                        f"got {type(result).__name__} {result!r}")
    return float(result)


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
