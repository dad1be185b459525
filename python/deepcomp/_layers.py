"""Python's front end of the pipeline: a model described for the C++ decisions (deepcomp._C), the
layer table's Python classes, and the swapping of layers in place. Every decision — which layers,
which values, every check and message — is made in C++ (csrc/include/deepcomp/layers.h)."""
import warnings
from typing import Callable, Iterable, List, Optional, Union

import torch

from . import _C, nn
from .nn.masked_layer import MaskedLayer
from .nn.shared_layer import SharedLayer

# The layer table's kinds (C++: layer_kinds()) as Python classes: the dense ones torch's, their twins
# deepcomp.nn's of the same names. Exact types only, since a subclass of nn.Linear may compute
# something else.
_CLASSES = {row["name"]: getattr(torch.nn if row["stage"] == "dense" else nn, row["name"]) for row in _C.layer_kinds()}
KINDS = {row["name"]: row for row in _C.layer_kinds()}
KIND_OF = {_CLASSES[name]: name for name in KINDS}
# The dense layer each kind stands for (deepcomp.match_layers turns one kind into another).
DENSE_OF = {cls: _CLASSES[KINDS[name]["dense"]] for cls, name in KIND_OF.items()}
SHARED_TWIN = {cls: _CLASSES[KINDS[name]["shared"]] for cls, name in KIND_OF.items()}
MASKED_TWIN = {cls: _CLASSES[KINDS[name]["masked"]] for cls, name in KIND_OF.items() if KINDS[name]["masked"]}

Exclude = Union[None, str, Iterable[str], Callable[[str, torch.nn.Module], bool]]

_ROOT_REASON = "cannot be replaced in place; wrap it (nn.Sequential(layer)) or convert it with from_dense()"


def describe(model: torch.nn.Module, decode_shared: bool = True) -> List[_C.ModuleEntry]:
    """model's modules (named_modules() order, the model first) as the C++ pipeline sees them.
    decode_shared=False: a shared layer's weight as a meta tensor of its shape and dtype (for a caller
    that leaves shared layers alone, such as prune: decoding them would cost a weight-sized tensor each)."""
    entries = []
    with torch.no_grad():
        for name, module in model.named_modules():
            kind = KIND_OF.get(type(module), "")
            subclass_of = "" if kind else next((KIND_OF[cls] for cls in type(module).__mro__[1:] if cls in KIND_OF), "")
            weight = mask = None
            if isinstance(module, SharedLayer) and kind and not decode_shared:
                weight = torch.empty(module.indices.shape, dtype=module.codebook.dtype, device="meta")
            elif kind:
                weight = module.weight.detach()
                mask = module.mask if isinstance(module, (MaskedLayer, SharedLayer)) else None
            entries.append(_C.ModuleEntry(
                name, type(module).__name__, kind, subclass_of,
                has_weight_matrix=any(p.dim() >= 2 for p in module.parameters(recurse=False)),
                fixed_reason=_ROOT_REASON if module is model else "", weight=weight,
                mask=torch.ones_like(weight, dtype=torch.bool) if kind and mask is None else mask))
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
