"""Stage 2 of Deep Compression: trained quantization (weight sharing) of a model's layers, in place."""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple, Union

import torch

from ._layers import SHARED_TWIN, check_layer, quantizable, select_layers, swap_children
from .nn import SharedConv2d, SharedLayer, SharedLinear
from .nn.shared_layer import check_bits, check_clustering
from .report import LayerRows, format_table

LayerBits = Union[int, Dict[str, int]]

# The paper's widths: 8 bits for conv layers, 5 for fully connected ones.
DEFAULT_BITS = {SharedConv2d: 8, SharedLinear: 5}


@dataclass(frozen=True)
class LayerQuantizeStats:
    name: str
    kind: str
    shape: Tuple[int, ...]
    bits: int
    weights: int
    kept: int
    clusters_used: int
    squared_error: float  # Σ (w - its centroid)² over the kept weights, before fine-tuning
    index_entropy: float  # bits per kept weight an ideal entropy coder needs for the indices

    @property
    def k(self) -> int:
        return 2 ** self.bits


@dataclass
class QuantizeReport(LayerRows):
    """One row per quantized layer; prints as a table."""

    init: str
    method: str
    layers: List[LayerQuantizeStats] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"init": self.init, "method": self.method,
                "layers": [{**vars(layer), "shape": list(layer.shape), "k": layer.k} for layer in self.layers]}

    def __str__(self) -> str:
        rows = [(l.name, l.kind, "x".join(map(str, l.shape)), l.bits, l.k, l.clusters_used, l.kept,
                 f"{l.squared_error:.4g}", f"{l.index_entropy:.2f}") for l in self.layers]
        return format_table(("layer", "type", "shape", "bits", "k", "used", "kept", "sq. error", "entropy"), rows)


def quantize(model: torch.nn.Module, *, bits: Optional[LayerBits] = None, init: str = "linear",
             layers: Optional[Iterable[str]] = None, method: str = "lloyd", seed: int = 0) -> QuantizeReport:
    """Quantizes model's Linear and Conv2d layers by weight sharing, in place, and reports per layer.

    Each layer's kept weights are clustered by 1-D k-means into k = 2^bits centroids (a codebook);
    the layer becomes a SharedLinear / SharedConv2d whose weights are indices into its codebook.
    Pruned weights (of masked layers) stay exactly zero. Fine-tune the codebooks afterwards with any
    optimizer built over model.parameters() (build it after quantize: the codebooks are new Parameters).

    bits: an int for every layer, or a dict {qualified layer name: bits} overriding the default for
      the layers it names; default 8 for conv layers and 5 for linear ones (the paper's). 1..8.
    init: the initial codebook, "linear" (evenly spaced from min to max: the paper's best),
      "density" (evenly spaced in the CDF) or "random" (Forgy, drawn with `seed`).
    layers: qualified names (as in model.named_modules()) to restrict to; default: every nn.Linear,
      nn.Conv2d and their masked and shared twins (a shared layer is re-clustered).
    method: "lloyd" (Lloyd's iterations from init) or "exact" (least squared error; see
      deepcomp.ops.kmeans_quantize).

    Raises ValueError / TypeError for bad arguments, unknown layers and NaN/Inf weights; every check
    and every clustering runs before any layer changes, so on an error the model is as it was.
    """
    check_clustering(init, method)
    modules = dict(model.named_modules())
    check = dict(caller="deepcomp.quantize", accepts=quantizable,
                 kinds="nn.Linear and nn.Conv2d (plain, masked or shared)")
    selected = select_layers(model, modules, layers, **check)
    per_layer = _bits_per_layer(model, modules, selected, bits, check)

    report = QuantizeReport(init, method)
    replacements = {}
    for name in selected:
        module = modules[name]
        try:
            shared = SHARED_TWIN[type(module)].from_dense(module, per_layer[name], init, method=method, seed=seed)
        except (ValueError, RuntimeError) as error:
            raise type(error)(f"layer {name!r}: {error}") from None
        replacements[id(module)] = shared
        report.layers.append(_stats(name, module.weight, shared))
    swap_children(model, replacements)
    return report


def _bits_per_layer(model, modules: dict, selected: List[str], bits, check: dict) -> Dict[str, int]:
    defaults = {name: DEFAULT_BITS[SHARED_TWIN[type(modules[name])]] for name in selected}
    if bits is None:
        return defaults
    if not isinstance(bits, dict):
        value = check_bits(bits, "deepcomp.quantize: bits")
        return {name: value for name in selected}
    for name, value in bits.items():
        check_layer(model, modules, name, **check)
        if name not in defaults:
            raise ValueError(f"deepcomp.quantize: bits names layer {name!r}, which layers= leaves out")
        check_bits(value, f"deepcomp.quantize: bits for {name!r}")
    return {**defaults, **{name: int(value) for name, value in bits.items()}}


@torch.no_grad()
def _stats(name: str, weight: torch.Tensor, layer: SharedLayer) -> LayerQuantizeStats:
    kept_weights = weight.detach()[layer.mask].double()
    kept_indices = layer.indices[layer.mask].long()
    error = float(((kept_weights - layer.codebook.detach().double()[kept_indices]) ** 2).sum())
    counts = torch.bincount(kept_indices, minlength=layer.codebook.numel())
    p = counts[counts > 0].double() / max(1, kept_indices.numel())
    entropy = float(-(p * p.log2()).sum()) if p.numel() > 1 else 0.0
    kind = "Conv2d" if isinstance(layer, SharedConv2d) else "Linear"
    return LayerQuantizeStats(name, kind, tuple(layer.mask.shape), layer.bits, layer.mask.numel(),
                              kept_indices.numel(), int(counts.count_nonzero()), error, entropy)
