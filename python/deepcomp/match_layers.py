"""Giving a model's layers the types a state dict was saved from, so that load_state_dict finds its names
(resuming from a checkpoint of a compressed model without pruning or clustering again), and the way back:
every deepcomp layer to the plain torch layer it stands for."""
from collections.abc import Mapping
from typing import List, Optional, Tuple

import torch

from ._layers import DENSE_OF, MASKED_TWIN, SHARED_TWIN, swap_children
from .nn import MaskedLayer, SharedLayer
from .nn.compressed_rows import CompressedRows  # the inference layers, with to_plain() of their own
from .nn.dense_forward import dense_weight, weight_stem
from .nn.shared_layer import MAX_BITS, MIN_BITS


def match_layers(model: torch.nn.Module, state_dict: Mapping) -> torch.nn.Module:
    """Gives each of model's nn.Linear / nn.Conv2d layers (plain, masked or shared) the type its tensors
    in state_dict were saved from, in place, and returns model: deepcomp.match_layers(model,
    state).load_state_dict(state) loads a checkpoint of a pruned or quantized model into a fresh one.

    A layer named `<layer>` becomes, by the names under `<layer>.` in state_dict: a SharedLinear /
    SharedConv2d if `<layer>.codebook` is there (bits = log2 of its length, 2..256 entries; a 2-D
    codebook (groups, 2^bits) gives per-group codebooks), a
    MaskedLinear / MaskedConv2d if `<layer>.mask` is, else the plain nn.Linear / nn.Conv2d; a layer
    the state dict names nothing of stays as it is. A replaced layer is a new module with the old
    one's shape, options (stride, padding, groups, bias or not, ...), device, dtype and training
    mode, and new Parameters holding zeros (no pruning, no k-means): load the state next, and build
    the optimizer after. A layer already of the right type (and bits) is left as it is.

    Raises ValueError naming the layer for a codebook whose length is not a power of two in 2..256, or
    a weight, mask, indices or bias whose shape is not the layer's (both shapes named); TypeError when
    the model itself is a layer that must change (wrap it: nn.Sequential(layer)). Everything is
    checked before any layer changes, so on an error the model is as it was.
    """
    swap_children(model, {id(old): new for old, new in matched_layers(model, state_dict)})
    return model


def matched_layers(model: torch.nn.Module, state_dict: Mapping) -> List[Tuple[torch.nn.Module, torch.nn.Module]]:
    """(layer, its replacement) for each layer match_layers would replace, with every check made;
    model is not changed (swapping them back undoes match_layers exactly)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"deepcomp.match_layers needs a state dict (a Mapping), got {type(state_dict).__name__}")
    replacements = []
    for name, module in model.named_modules():
        if type(module) not in DENSE_OF:
            continue
        prefix = (f"{name}." if name else "") + weight_stem(module)  # `<layer>.<stem>weight`, ...
        _check_shapes(name, module, state_dict, prefix)
        kind, bits, groups = _saved_kind(name, module, state_dict, prefix)
        if kind is None or _is_already(module, kind, bits, groups):
            continue
        if module is model:
            raise TypeError(f"deepcomp.match_layers: the model itself is a {type(module).__name__} and the state "
                            f"dict holds a {kind.__name__}; a model cannot replace itself, wrap it "
                            "(nn.Sequential(layer))")
        replacements.append((module, _fresh(kind, module, bits, groups)))
    return replacements


def _is_already(module: torch.nn.Module, kind: type, bits: Optional[int], groups: Optional[int]) -> bool:
    """module is what the state was saved from: a plain layer of that dense kind (attention's out_proj is
    one by another name), or that twin with those bits and codebook groups."""
    if not isinstance(module, (MaskedLayer, SharedLayer)) and kind is DENSE_OF[type(module)]:
        return True
    return type(module) is kind and (bits is None or (module.bits, module.codebook_groups) == (bits, groups))


def _saved_kind(name: str, module, state: Mapping,
                prefix: str) -> Tuple[Optional[type], Optional[int], Optional[int]]:
    """(the layer type state was saved from, its bits and codebook groups if shared); (None, None, None) if
    state has no weight of it."""
    dense = DENSE_OF[type(module)]
    if prefix + "codebook" in state:
        shape = tuple(state[prefix + "codebook"].shape)
        entries = shape[-1] if len(shape) in (1, 2) else 0
        groups = shape[0] if len(shape) == 2 else 1
        rows = (module.indices if isinstance(module, SharedLayer) else dense_weight(module)).shape[0]
        if not (2 ** MIN_BITS <= entries <= 2 ** MAX_BITS and entries & (entries - 1) == 0) or \
                not 1 <= groups <= max(rows, 1):
            raise ValueError(f"deepcomp.match_layers: layer {name!r}: the saved codebook has shape {shape}; "
                             f"a shared layer's is (2^bits,) or (groups, 2^bits), 2^bits a power of two in "
                             f"{2 ** MIN_BITS}..{2 ** MAX_BITS} and groups at most the layer's {rows} rows")
        return SHARED_TWIN[dense], entries.bit_length() - 1, groups
    if prefix + "mask" in state:
        return MASKED_TWIN[dense], None, None
    if prefix + "weight" in state:
        return dense, None, None
    return None, None, None


def _check_shapes(name: str, module, state: Mapping, prefix: str) -> None:
    """prefix: `<layer>.<stem>`, the weight's `<stem>weight`, `<stem>mask`, ... are under it."""
    weight_shape = (module.indices if isinstance(module, SharedLayer) else dense_weight(module)).shape
    expected = {prefix + leaf: weight_shape for leaf in ("weight", "mask", "indices")}
    layer_prefix = f"{name}." if name else ""
    weight_parts = {weight_stem(module) + part for part in ("weight", "codebook")}  # the codebook's size may change
    for leaf, parameter in module.named_parameters(recurse=False):  # bias, attention's in_proj_bias, ...
        if leaf not in weight_parts:
            expected.setdefault(layer_prefix + leaf, parameter.shape)
    for key, shape in expected.items():
        tensor = state.get(key)
        if tensor is not None and tuple(tensor.shape) != tuple(shape):
            raise ValueError(f"deepcomp.match_layers: layer {name!r}: the saved {key[len(layer_prefix):]} has shape "
                             f"{tuple(tensor.shape)}, the layer needs {tuple(shape)}")


def _fresh(kind: type, module: torch.nn.Module, bits: Optional[int],
           codebook_groups: Optional[int] = None) -> torch.nn.Module:
    """A `kind` layer with module's options, device, dtype and training mode, all its own tensors zero, and
    module's children (attention's out_proj, which match_layers and to_plain may replace in turn)."""
    like = module.codebook if isinstance(module, SharedLayer) else dense_weight(module)
    options = SHARED_TWIN[DENSE_OF[type(module)]]._options_of(module)  # the constructor's arguments
    if bits is not None:
        options["bits"] = bits
    if codebook_groups is not None:
        options["codebook_groups"] = codebook_groups
    # Built on the meta device: a shared layer's constructor would otherwise cluster a random weight.
    layer = kind(**options, device="meta", dtype=like.dtype)
    layer = layer.to_empty(device=like.device)
    with torch.no_grad():
        for tensor in (*layer.parameters(), *layer.buffers()):
            tensor.zero_()  # to_empty's memory is uninitialised: it could hold NaN until the state loads
    for name, child in module._modules.items():
        setattr(layer, name, child)
    return layer.train(module.training)


def to_plain(model: torch.nn.Module) -> torch.nn.Module:
    """Every deepcomp layer of model back to the torch layer it stands for, in place, and returns model:
    MaskedLinear / SharedLinear / CompressedLinear become nn.Linear, MaskedConv2d / SharedConv2d become
    nn.Conv2d, SharedEmbedding / CompressedEmbedding nn.Embedding (and so on for every layer type),
    each with its dense weight (decoded; exactly 0 where pruned), its bias, options, device, dtype and
    training mode. The result is an ordinary PyTorch model (for export, or code that knows
    only torch layers); the inverse of match_layers. Raises TypeError when the model itself is a
    deepcomp layer (wrap it: nn.Sequential(layer)); nothing changes then."""
    replacements = {}
    for module in model.modules():
        if not isinstance(module, (MaskedLayer, SharedLayer, CompressedRows)):
            continue  # a plain layer, or no layer of deepcomp's
        if module is model:
            raise TypeError(f"deepcomp.to_plain: the model itself is a {type(module).__name__}, which cannot "
                            "replace itself; wrap it (nn.Sequential(layer))")
        replacements[id(module)] = _plain(module)
    swap_children(model, replacements)
    return model


def _plain(module: torch.nn.Module) -> torch.nn.Module:
    if isinstance(module, CompressedRows):
        return module.to_plain()
    layer = _fresh(DENSE_OF[type(module)], module, None)
    with torch.no_grad():
        dense_weight(layer).copy_(dense_weight(module))
        theirs = dict(module.named_parameters())
        for name, parameter in layer.named_parameters():  # bias, attention's out_proj, ...
            if name in theirs:
                parameter.copy_(theirs[name])
    return layer
