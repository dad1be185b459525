"""Python's front end of the pipeline: a model described for the C++ decisions (deepcomp._C), the
layer table's Python classes, and the swapping of layers in place. Every decision — which layers,
which values, every check and message — is made in C++ (csrc/include/deepcomp/layers.h)."""
import warnings
from typing import Callable, Iterable, List, Optional, Union

import torch
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from . import _C, nn
from .nn.dense_forward import dense_weight
from .nn.masked_layer import MaskedLayer
from .nn.shared_layer import SharedLayer

# The layer table's kinds (C++: layer_kinds()) as Python classes: the dense ones torch's, their twins
# deepcomp.nn's of the same names. Exact types only, since a subclass of nn.Linear may compute
# something else; but for attention's out_proj, a Linear by another name (for torch's quantization tools).
_CLASSES = {row["name"]: getattr(torch.nn if row["stage"] == "dense" else nn, row["name"]) for row in _C.layer_kinds()}
KINDS = {row["name"]: row for row in _C.layer_kinds()}
KIND_OF = {_CLASSES[name]: name for name in KINDS} | {NonDynamicallyQuantizableLinear: "Linear"}
# The dense layer each kind stands for (deepcomp.match_layers turns one kind into another).
DENSE_OF = {cls: _CLASSES[KINDS[name]["dense"]] for cls, name in KIND_OF.items()}
SHARED_TWIN = {cls: _CLASSES[KINDS[name]["shared"]] for cls, name in KIND_OF.items()}
MASKED_TWIN = {cls: _CLASSES[KINDS[name]["masked"]] for cls, name in KIND_OF.items() if KINDS[name]["masked"]}

Exclude = Union[None, str, Iterable[str], Callable[[str, torch.nn.Module], bool]]

_SEPARATE_PROJECTIONS = ("attention with kdim or vdim other than embed_dim has separate q, k and v projections; "
                         "deepcomp handles the packed in_proj_weight only")
_ROOT_REASON = "cannot be replaced in place; wrap it (nn.Sequential(layer)) or convert it with from_dense()"


def describe(model: torch.nn.Module, decode_shared: bool = True) -> List[_C.ModuleEntry]:
    """model's modules (named_modules() order, the model first) as the C++ pipeline sees them.
    decode_shared=False: a shared layer's weight as a meta tensor of its shape and dtype (for a caller
    that leaves shared layers alone, such as prune: decoding them would cost a weight-sized tensor each)."""
    entries = []
    separate_projections = set()  # the out_proj of attention deepcomp leaves alone
    with torch.no_grad():
        for name, module in model.named_modules():
            kind = KIND_OF.get(type(module), "")
            leave_reason = ""
            if not getattr(module, "_qkv_same_embed_dim", True):  # no packed in_proj_weight
                kind, leave_reason = "", _SEPARATE_PROJECTIONS
                separate_projections.add(id(module.out_proj))
            elif id(module) in separate_projections:  # torch's attention computes with it, never a twin
                kind, leave_reason = "", f"the out_proj of {_SEPARATE_PROJECTIONS}"
            subclass_of = "" if kind else next((KIND_OF[cls] for cls in type(module).__mro__[1:] if cls in KIND_OF), "")
            weight = mask = None
            if isinstance(module, SharedLayer) and kind and not decode_shared:
                weight = torch.empty(module.indices.shape, dtype=module.codebook.dtype, device="meta")
            elif kind:
                weight = dense_weight(module).detach()
                mask = module.mask if isinstance(module, (MaskedLayer, SharedLayer)) else None
            entries.append(_C.ModuleEntry(
                name, type(module).__name__, kind, subclass_of,
                has_weight_matrix=any(p.dim() >= 2 for p in module.parameters(recurse=False)),
                fixed_reason=_ROOT_REASON if module is model else "", weight=weight,
                mask=torch.ones_like(weight, dtype=torch.bool) if kind and mask is None else mask,
                leave_reason=leave_reason))
    return entries


def exclude_names(model: torch.nn.Module, exclude: Exclude) -> Optional[List[str]]:
    """exclude= as names: names as they are; a predicate (name, module) -> bool applied to every module."""
    if callable(exclude) and not isinstance(exclude, str):
        return [name for name, module in model.named_modules() if exclude(name, module)]
    return exclude


def warn_skipped(caller: str, skipped, stacklevel: int = 3) -> None:
    """One warning naming each weighted layer a call left alone and why (exclude= silences it)."""
    if skipped:
        warnings.warn(f"{caller} skipped {_C.skipped_text(skipped)}", UserWarning, stacklevel=stacklevel)


def modules_of(model: torch.nn.Module) -> List[torch.nn.Module]:
    """The modules in the order describe() lists them."""
    return [module for _, module in model.named_modules()]


def swap_children(model: torch.nn.Module, replacements: dict) -> None:
    """Puts replacements[id(old)] wherever `old` was a child in model (a layer may be shared)."""
    if not replacements:
        return
    for module in model.modules():
        for key, child in list(module._modules.items()):
            if child is not None and id(child) in replacements:
                module._modules[key] = replacements[id(child)]


def add_twins_of_attention_with_masked_out_proj(model: torch.nn.Module, replacements: dict) -> None:
    """Adds to replacements (id(old) -> new) a masked twin, all kept, of each plain nn.MultiheadAttention
    whose out_proj becomes masked: torch's attention reads out_proj's weight Parameter itself, so only
    deepcomp's computes with it masked (a masked gradient)."""
    for module in model.modules():
        out_proj = replacements.get(id(getattr(module, "out_proj", None)))
        if type(module) is torch.nn.MultiheadAttention and id(module) not in replacements and \
                isinstance(out_proj, MaskedLayer):
            twin = nn.MaskedMultiheadAttention.from_dense(module)
            twin.out_proj = out_proj
            replacements[id(module)] = twin
