"""Plots of the three stages (matplotlib, imported only when a plot is made).

plot_weights: a layer's weight distribution before and after pruning, with the codebooks k-means finds
from each initialisation (in the style of the paper's figure 4). plot_sensitivity: metric against sparsity or
bits, one line per layer. plot_bytes: where a .dcz file's bytes go, per tensor, before and after
Huffman coding. Each returns a matplotlib Figure (no pyplot, so no backend or display is needed) and,
given path, also writes it there (the format from the extension: .png, .svg, .pdf, ...; atomically).
"""
import io
import os
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Union

import torch

from . import ops
from ._C import constants
from ._files import write_atomically
from .nn import MaskedLayer, SharedLayer
from .nn.shared_layer import INITS, check_bits

PathLike = Union[str, os.PathLike]

# The parts of a record, in stacking order, and how the plots and `deepcomp report` name them.
PARTS = ("index", "gap", "codebook", "values", "names", "framing")
PART_LABELS = {"index": "weight indices", "gap": "gaps (relative indices)", "codebook": "codebooks",
               "values": "raw values", "names": "tensor names",
               "framing": "framing (kind, dtype, shape, bits, checksums)"}
_SENSITIVITY_AXES = {"prune": "sparsity (fraction of weights pruned)", "quantize": "bits per weight"}
_INIT_MARKERS = {"linear": ("x", "C1"), "density": ("+", "C2"), "random": ("^", "C4")}


def plot_weights(layer_or_weight, *, mask: Optional[torch.Tensor] = None, bits: Optional[int] = None,
                 inits: Optional[Sequence[str]] = None, codebook: Optional[torch.Tensor] = None, seed: int = 0,
                 name: Optional[str] = None, path: Optional[PathLike] = None):
    """A layer's weight distribution: all weights (before pruning), the kept ones (after pruning), and
    the centroids of 2^bits-entry codebooks marked on the kept ones.

    layer_or_weight: an nn.Linear / nn.Conv2d, a deepcomp masked or shared layer, or a floating Tensor.
    mask: bool, of the weight's shape, True where kept; only for a plain layer or a Tensor (a masked or
    shared layer brings its own). Without one every weight is kept.
    bits: codebook size 2^bits, 1..8; default the shared layer's, else the paper's (8 conv, 5 linear).
    inits: for each ("linear", "density", "random"), the codebook deepcomp.ops.kmeans_quantize reaches
    from that initialisation (the k-means result, not the initial centroids); default all three, or none
    when a codebook is marked (a shared layer's weights are already its codebook's values).
    codebook: a trained codebook to mark (1-D); default a shared layer's own.
    seed: of the random init. name: what the title calls the weights (default: the layer's class).
    Returns the Figure. Raises TypeError for other inputs, ValueError for a mask of the wrong shape,
    bits out of range, an unknown init, or non-finite kept weights; ImportError without matplotlib.
    """
    weight, mask, codebook, default_bits, what = _weights_of(layer_or_weight, mask, codebook)
    bits = check_bits(default_bits if bits is None else bits, "plot_weights: bits")
    if inits is None:
        inits = () if codebook is not None else INITS
    inits = (inits,) if isinstance(inits, str) else tuple(inits)
    for init in inits:
        if init not in INITS:
            raise ValueError(f"plot_weights: unknown init {init!r}; use some of {', '.join(map(repr, INITS))}")
    kept = weight[mask]
    if not bool(torch.isfinite(kept).all()):
        raise ValueError(f"plot_weights: the kept weights of {what} hold NaN or Inf")

    pruned = not bool(mask.all())
    # A pruned layer (or file) keeps its pruned weights as 0: a "before pruning" panel of them would be a
    # spike at 0, so it is drawn only when the pruned weights still hold their values.
    before = pruned and not bool((weight[~mask] == 0).all())
    figure = _figure(figsize=(13, 4.5) if before else (8.5, 4.5))
    axes = figure.subplots(1, 2 if before else 1, squeeze=False)[0]
    if before:
        _histogram(axes[0], weight.flatten(), "C0")
        axes[0].set_title(f"before pruning: all {weight.numel()} weights")
    ax = axes[-1]
    _histogram(ax, kept, "C0")
    ax.set_title(f"after pruning: {kept.numel()} of {weight.numel()} kept ({100 * kept.numel() / weight.numel():.1f}%)"
                 if pruned else f"all {weight.numel()} weights")
    rows = [(f"{init} init → k-means", *_INIT_MARKERS[init], _kmeans(weight, mask, bits, init, seed))
            for init in inits if kept.numel()]
    if codebook is not None:
        rows.append(("trained codebook", "o", "C3", codebook.detach().double().cpu().flatten()))
    on_axis = ax.get_xaxis_transform()  # x in data units, y as a fraction of the axes' height
    for row, (label, marker, color, centroids) in enumerate(rows):
        ax.plot(centroids.tolist(), [0.95 - 0.07 * row] * centroids.numel(), marker, color=color,
                linestyle="none", transform=on_axis, label=f"{label} ({centroids.numel()})")
    if rows:
        ax.set_ylim(top=ax.get_ylim()[1] * (1.1 + 0.1 * len(rows)))  # room for the centroid rows above the bars
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    figure.suptitle(f"{what if name is None else name}: weight distribution, {bits}-bit codebooks "
                    "(marked: centroids after k-means)")
    return _finish(figure, path)


def plot_sensitivity(report, *, kind: str = "prune", path: Optional[PathLike] = None):
    """The metric against sparsity (kind="prune") or bits per weight (kind="quantize"), one line per
    layer, with the unpruned model's metric (report.baseline) dashed.

    report: a sensitivity report: `baseline` (float), `curves(kind)` (layer -> [(value, metric)]) and
    `interrupted` (True: a partial scan, said in the title).
    Returns the Figure. Raises ValueError for another kind or a report without curves of that kind,
    TypeError for an object without that interface; ImportError without matplotlib.
    """
    if kind not in _SENSITIVITY_AXES:
        raise ValueError(f"plot_sensitivity: kind must be 'prune' or 'quantize', got {kind!r}")
    if not callable(getattr(report, "curves", None)) or not hasattr(report, "baseline"):
        raise TypeError("plot_sensitivity needs a sensitivity report (with .baseline and .curves(kind)), got "
                        f"{type(report).__name__}")
    curves = report.curves(kind)
    if not any(curves.values()):
        raise ValueError(f"plot_sensitivity: the report has no {kind!r} curves to plot")
    figure = _figure(figsize=(8, 4.5))
    ax = figure.add_subplot()
    for layer, points in curves.items():
        points = sorted(points)
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3, label=layer)
    ax.axhline(float(report.baseline), color="gray", linestyle="--", label=f"baseline ({float(report.baseline):.4g})")
    ax.set_xlabel(_SENSITIVITY_AXES[kind])
    if kind == "quantize":  # widths are whole bits: no 1.5-bit ticks
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("metric")
    ax.grid(alpha=0.3)
    title = "sensitivity to " + ("pruning" if kind == "prune" else "quantization") + ", per layer"
    ax.set_title(title + (" (interrupted: partial curves)" if getattr(report, "interrupted", False) else ""))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", ncol=1 + len(curves) // 20)
    return _finish(figure, path)


@dataclass(frozen=True)
class BytesRow:
    """One bar pair of plot_bytes: a compressed tensor, or every raw tensor summed (`tensors` > 1).
    before: bytes per part at fixed width (index and gap: the FileReport's index_bytes_before_huffman and
    gap_bytes_before_huffman); after: the file's bytes per part. Parts: PARTS."""
    name: str
    tensors: int
    before: Dict[str, int]
    after: Dict[str, int]


def bytes_by_part(file_report) -> List[BytesRow]:
    """The rows of plot_bytes (and of `deepcomp report`) for a deepcomp.FileReport: one per compressed
    tensor, in file order, then one for all raw tensors (if any). Raises TypeError for another object."""
    tensors = getattr(file_report, "tensors", None)
    if tensors is None or not hasattr(file_report, "file_bytes"):
        raise TypeError(f"bytes_by_part needs a deepcomp.FileReport (from save or inspect), got "
                        f"{type(file_report).__name__}")
    rows, raw = [], None
    for t in tensors:
        after = {"index": t.index_bytes, "gap": t.gap_bytes, "codebook": t.codebook_bytes, "values": t.value_bytes,
                 "names": t.name_bytes}
        after["framing"] = t.bytes - sum(after.values())
        before = {**after, "index": t.index_bytes_before_huffman, "gap": t.gap_bytes_before_huffman}
        if t.kind != "raw":
            rows.append(BytesRow(t.name, 1, before, after))
        elif raw is None:
            raw = BytesRow(t.name, 1, before, after)
        else:
            raw = BytesRow("", raw.tensors + 1, {p: raw.before[p] + before[p] for p in PARTS},
                           {p: raw.after[p] + after[p] for p in PARTS})
    if raw is not None:
        rows.append(raw if raw.tensors == 1 else replace(raw, name=f"({raw.tensors} raw tensors)"))
    return rows


def plot_bytes(file_report, *, log: bool = False, path: Optional[PathLike] = None):
    """Where a .dcz file's bytes go: per compressed tensor (and all raw ones together) two stacked bars,
    before Huffman coding (fixed-width indices and gaps) and after (the bytes in the file), split into
    weight indices, gaps, codebook, raw values and the record's framing. log: a logarithmic byte axis.
    Returns the Figure. Raises TypeError for something other than a FileReport, ValueError for an empty
    one; ImportError without matplotlib."""
    rows = bytes_by_part(file_report)
    if not rows:
        raise ValueError("plot_bytes: the file holds no tensors")
    figure = _figure(figsize=(max(7.5, 1.1 * len(rows) + 3), 5))
    ax = figure.add_subplot()
    width = 0.38
    for side, offset, hatch in (("before", -width / 2 - 0.01, "//"), ("after", width / 2 + 0.01, None)):
        bottom = [0] * len(rows)
        x = [i + offset for i in range(len(rows))]
        for index, part in enumerate(PARTS):
            heights = [getattr(row, side)[part] for row in rows]
            ax.bar(x, heights, width, bottom=bottom, color=f"C{index}", hatch=hatch, edgecolor="white",
                   label=PART_LABELS[part] if side == "after" else None)
            bottom = [b + h for b, h in zip(bottom, heights)]
        for xi, total in zip(x, bottom):
            ax.text(xi, total, str(total), ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(range(len(rows)), [row.name for row in rows], rotation=30 if len(rows) > 4 else 0, ha="right"
                  if len(rows) > 4 else "center")
    ax.set_ylabel("bytes")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.set_title(f"where the bytes go: hatched before Huffman coding, solid after\n"
                 f"(file: {file_report.file_bytes} bytes, {file_report.rate:.1f}x smaller than dense fp32)")
    return _finish(figure, path)


def _weights_of(source, mask, codebook):
    """(weight, mask, codebook, default bits, description) of plot_weights' input, on the CPU in float64."""
    own_mask = None
    if isinstance(source, torch.Tensor):
        weight, what = source, "tensor"
    elif isinstance(source, SharedLayer):
        weight, own_mask, what = source.weight, source.mask, type(source).__name__
        codebook = source.codebook if codebook is None else codebook
    elif isinstance(source, (torch.nn.Linear, torch.nn.Conv2d)):
        weight, what = source.weight, type(source).__name__
        own_mask = source.mask if isinstance(source, MaskedLayer) else None
    else:
        raise TypeError("plot_weights needs an nn.Linear or nn.Conv2d (plain, masked or shared) or a Tensor, got "
                        f"{type(source).__name__}")
    if not weight.is_floating_point():
        raise TypeError(f"plot_weights: the weights must be floating point, got {weight.dtype}")
    if weight.numel() == 0:
        raise ValueError("plot_weights: no weights to plot (an empty tensor)")
    if mask is not None and own_mask is not None:
        raise ValueError(f"plot_weights: a {what} has its own mask; mask= is for plain layers and tensors")
    mask = own_mask if mask is None else mask
    if mask is None:
        mask = torch.ones(weight.shape, dtype=torch.bool)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != weight.shape:
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"plot_weights: mask must be a bool tensor of the weights' shape {tuple(weight.shape)}, "
                         f"got {got}")
    if codebook is not None and (not isinstance(codebook, torch.Tensor) or not codebook.is_floating_point()):
        raise TypeError(f"plot_weights: codebook must be a floating-point Tensor, got {type(codebook).__name__}")
    if codebook is not None:  # a trained codebook's own width (a 4-bit layer is not "5-bit")
        bits = max(1, codebook.numel().bit_length() - 1)
    else:
        bits = constants.DEFAULT_CONV_BITS if weight.dim() > 2 else constants.DEFAULT_LINEAR_BITS
    return weight.detach().double().cpu(), mask.detach().cpu(), codebook, bits, what


def _kmeans(weight: torch.Tensor, mask: torch.Tensor, bits: int, init: str, seed: int) -> torch.Tensor:
    codebook, _ = ops.kmeans_quantize(weight, mask, bits, init=init, seed=seed)
    return codebook.unique()  # fewer distinct weights than 2^bits repeat the largest


def _histogram(ax, values: torch.Tensor, color: str) -> None:
    ax.hist(values.numpy(), bins=min(100, max(10, values.numel() // 10)), color=color, alpha=0.7)
    ax.set_xlabel("weight value")
    ax.set_ylabel("weights")


def _figure(**options):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("deepcomp.plots needs matplotlib: pip install matplotlib") from error
    return Figure(layout="constrained", **options)


def _finish(figure, path: Optional[PathLike]):
    if path is not None:
        path = os.fspath(path)
        extension = os.path.splitext(path)[1][1:].lower()
        formats = figure.canvas.get_supported_filetypes()
        if extension not in formats:
            raise ValueError(f"cannot write a plot to {path!r}: the extension names no image format; use one of "
                             f"{', '.join('.' + f for f in sorted(formats))}")
        image = io.BytesIO()
        figure.savefig(image, format=extension)
        write_atomically(path, image.getbuffer())
    return figure
