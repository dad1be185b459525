"""Compressing a checkpoint without the model's code: the floating-point `<layer>.weight` tensors of rank
2 to 5 of a state dict are taken for Linear (or Embedding: the same decisions), Conv1d, Conv2d and
Conv3d weights (a transposed convolution's too), and `<layer>.in_proj_weight` for attention's packed
projection; they go through the same C++ decisions as deepcomp.prune and deepcomp.quantize; the result
is a state dict deepcomp.save stores compressed."""
from collections.abc import Mapping
from typing import Dict, Optional, Sequence, Tuple

import torch

from . import _C, ops
from .quantize import clustering_options
from .sensitivity import SensitivityReport

_KIND_OF_RANK = {2: "Linear", 3: "Conv1d", 4: "Conv2d", 5: "Conv3d"}
# The weights by the last part of their names: `<stem>weight` (the layer table's stems) and the kind a
# weight of that stem and rank is taken for (a stemmed weight is a packed projection matrix).
_KINDS_OF_STEM = {"": _KIND_OF_RANK, **{row["weight_stem"]: {2: row["name"]} for row in _C.layer_kinds()
                                       if row["stage"] == "dense" and row["weight_stem"]}}


# The widths a file-size budget chooses from, by default.
BUDGET_WIDTHS = (8, 6, 5, 4, 3, 2)


def compress_state(state: Mapping, *, sparsity=None, sensitivity=None, bits=None, init: str = "linear",
                   method: str = "lloyd", layers=None, exclude=None, quantize: bool = True,
                   group_size: Optional[int] = None, max_bytes: Optional[float] = None,
                   widths: Sequence[int] = BUDGET_WIDTHS
                   ) -> Tuple[Dict[str, torch.Tensor], Optional["_C.PruneReport"], Optional["_C.QuantizeReport"]]:
    """(compressed state, prune report or None, quantize report or None) of a state dict.

    The layers are the names `<layer>` of the state's floating-point `<layer>.weight` tensors of rank 2
    (Linear, 5 bits by default), 3, 4 or 5 (Conv1d/2d/3d, 8 bits), and of `<layer>.in_proj_weight`
    (attention, 5 bits; its parts are `<layer>.in_proj_codebook`, ...); layers= / exclude= name them as
    deepcomp.prune does. With sparsity= or
    sensitivity= (as for deepcomp.prune) each is pruned once; with quantize (the default) each is then
    clustered (bits, init, method, group_size as for deepcomp.quantize). A quantized layer's weight becomes
    `<layer>.codebook`, `.indices` and `.mask`, a pruned one's `<layer>.weight` (0 where pruned) and
    `.mask`: what deepcomp.save stores compressed and deepcomp.load(..., match_layers=True) loads back.
    Other tensors are kept as they are.

    max_bytes (instead of bits): each layer gets one of `widths` so that deepcomp.save writes a file of at
    most max_bytes, without data: each layer's cost at a width is its relative squared weight error
    ‖W − Ŵ‖² / ‖W‖² (clustered as it will be), and SensitivityReport.bits_for_budget picks the widths of
    the least summed error within the budget. With calibration data, measure the
    model's own output instead (deepcomp.sensitivity, docs/post_training.md).

    Raises what deepcomp.prune / quantize raise, ValueError for both bits= and max_bytes= or a budget
    the narrowest widths miss, and TypeError for a state that is not a mapping of str to Tensor.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"compress_state needs a state dict (a Mapping), got {type(state).__name__}")
    for name, tensor in state.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise TypeError(f"compress_state: a state dict maps str to Tensor, got {name!r}: {type(tensor).__name__}")
    out = {name: tensor.detach() for name, tensor in state.items()}
    entries, prefixes = _entries(out)
    prune_report = quantize_report = None
    if sparsity is not None or sensitivity is not None:
        if (sparsity is None) == (sensitivity is None):
            raise ValueError("compress_state: pass at most one of sparsity= or sensitivity=")
        criterion, values = ("sparsity", sparsity) if sensitivity is None else ("sensitivity", sensitivity)
        prune_report, chosen, masks = _C.plan_prune(entries, criterion, values, layers, exclude, "deepcomp compress")
        for index, mask in zip(chosen, masks):
            prefix = prefixes[index]
            out[prefix + "weight"] = ops.apply_mask(out[prefix + "weight"], mask)
            out[prefix + "mask"] = mask
        entries, prefixes = _entries(out)
    if quantize:
        caller = "deepcomp compress"
        clustering = clustering_options(caller, init=init, method=method, group_size=group_size)
        if max_bytes is not None:
            if bits is not None:
                raise ValueError("compress_state: pass bits= or max_bytes=, not both")
            bits = _bits_for_budget(out, entries, prefixes, max_bytes, widths, layers, exclude, clustering, caller)
        quantize_report, chosen, weights = _C.plan_quantize(entries, bits, layers, exclude, clustering, caller)
        for index, (codebook, indices, mask) in zip(chosen, weights):
            prefix = prefixes[index]
            del out[prefix + "weight"]
            out.update({prefix + "codebook": codebook, prefix + "indices": indices, prefix + "mask": mask})
    return out, prune_report, quantize_report


def _bits_for_budget(state, entries, prefixes, max_bytes, widths, layers, exclude, clustering,
                     caller) -> Dict[str, int]:
    """{layer: bits} for a file of at most max_bytes, each layer's cost its relative squared weight error."""
    (_, values, chosen), = _C.plan_sensitivity(entries, None, list(widths), layers, exclude, clustering, caller)[0]
    points = []
    for index in chosen:
        weight = state[prefixes[index] + "weight"].double()
        scale = float(weight.pow(2).sum()) or 1.0
        for value in values:
            decoded, _, _, size, codebooks = _C.sweep_change(entries[index], "quantize", value, clustering, caller)
            error = float((decoded.double() - weight).pow(2).sum()) / scale
            points.append(_C.SensitivityPoint(entries[index].name, "quantize", value, -error, size, codebooks))
    return SensitivityReport(0.0, points).bits_for_budget(state, max_bytes).bits


def _entries(state: Dict[str, torch.Tensor]) -> Tuple[list, list]:
    """The state's weight tensors as the C++ pipeline's model description, one layer per `<layer>.<stem>weight`,
    and each entry's `<layer>.<stem>` (the prefix of its weight's parts)."""
    entries, prefixes = [_C.ModuleEntry("", "state dict", fixed_reason="")], [""]
    for name, tensor in state.items():
        layer, _, leaf = name.rpartition(".")
        stem = leaf[:-len("weight")]
        if not layer or not leaf.endswith("weight") or stem not in _KINDS_OF_STEM:
            continue
        kind = _KINDS_OF_STEM[stem].get(tensor.dim()) if tensor.is_floating_point() else None
        prefix = f"{layer}.{stem}"
        mask = state.get(prefix + "mask")
        entries.append(_C.ModuleEntry(
            layer, f"{tensor.dim()}-D {str(tensor.dtype).replace('torch.', '')} tensor", kind or "",
            has_weight_matrix=tensor.dim() >= 2, weight=tensor if kind else None,
            mask=(mask if mask is not None else torch.ones_like(tensor, dtype=torch.bool)) if kind else None))
        prefixes.append(prefix)
    return entries, prefixes
