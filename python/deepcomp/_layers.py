"""The layers each stage accepts, finding them by qualified name, and replacing them in place:
shared by the stages and the sensitivity analysis."""
import difflib
from typing import Callable, Iterable, List, Optional

import torch

from .nn import MaskedConv2d, MaskedLayer, MaskedLinear, SharedConv2d, SharedLinear

Accepts = Callable[[torch.nn.Module], bool]

# Exact types (a subclass of nn.Linear may compute something else) and the layer each becomes.
MASKED_TWIN = {torch.nn.Linear: MaskedLinear, torch.nn.Conv2d: MaskedConv2d}
SHARED_TWIN = {torch.nn.Linear: SharedLinear, torch.nn.Conv2d: SharedConv2d, MaskedLinear: SharedLinear,
               MaskedConv2d: SharedConv2d, SharedLinear: SharedLinear, SharedConv2d: SharedConv2d}
# The dense layer each of those stands for (deepcomp.match_layers turns one kind into another).
DENSE_OF = {torch.nn.Linear: torch.nn.Linear, MaskedLinear: torch.nn.Linear, SharedLinear: torch.nn.Linear,
            torch.nn.Conv2d: torch.nn.Conv2d, MaskedConv2d: torch.nn.Conv2d, SharedConv2d: torch.nn.Conv2d}


def prunable(module: torch.nn.Module) -> bool:
    """A layer pruning changes: a masked one, or exactly an nn.Linear / nn.Conv2d."""
    return isinstance(module, MaskedLayer) or type(module) in MASKED_TWIN


def quantizable(module: torch.nn.Module) -> bool:
    """A layer quantization changes: exactly an nn.Linear / nn.Conv2d, or a masked or shared twin."""
    return type(module) in SHARED_TWIN


def check_layer(model: torch.nn.Module, modules: dict, name: str, *, caller: str, accepts: Accepts, kinds: str,
                in_place: Accepts = lambda module: False) -> None:
    """Raises unless modules[name] is a layer `caller` accepts; `kinds` names those layers in the message.
    in_place: whether `caller` changes the layer itself (else it replaces it in its parent, which the
    model itself does not have)."""
    if not isinstance(name, str):
        raise TypeError(f"{caller}: layer names are strings, got {name!r}")
    if name not in modules:
        known = [n for n, m in modules.items() if accepts(m)]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f"; its layers {caller} accepts: {known}"
        raise ValueError(f"{caller}: no layer named {name!r} in the model{hint}")
    module = modules[name]
    if not accepts(module):
        raise TypeError(f"{caller}: layer {name!r} is a {type(module).__name__}; {caller} accepts {kinds}")
    if module is model and not in_place(module):
        raise TypeError(f"{caller}: the model itself is a {type(module).__name__}, which cannot be replaced in "
                        "place; wrap it (nn.Sequential(layer)) or convert it with from_dense()")


def select_layers(model: torch.nn.Module, modules: dict, layers: Optional[Iterable[str]], **check) -> List[str]:
    """The qualified names in `layers` (one name or several), or of every accepted layer; each checked
    with check_layer(**check)."""
    if isinstance(layers, str):
        layers = [layers]
    selected = ([name for name, module in modules.items() if check["accepts"](module)] if layers is None
                else list(dict.fromkeys(layers)))
    for name in selected:
        check_layer(model, modules, name, **check)
    return selected


def swap_children(model: torch.nn.Module, replacements: dict) -> None:
    """Puts replacements[id(old)] wherever `old` was a child in model (a layer may be shared)."""
    if not replacements:
        return
    for module in model.modules():
        for key, child in list(module._modules.items()):
            if child is not None and id(child) in replacements:
                module._modules[key] = replacements[id(child)]
