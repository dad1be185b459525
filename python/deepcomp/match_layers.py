"""Giving a model's layers the types a state dict was saved from, so that load_state_dict finds its names
(resuming from a checkpoint of a compressed model without pruning or clustering again), and the way back:
every deepcomp layer to the plain torch layer it stands for."""
from collections.abc import Mapping
from typing import List, Optional, Tuple

import torch

from ._layers import DENSE_OF, MASKED_TWIN, SHARED_TWIN, swap_children
from .nn import SharedLayer
from .nn.compressed_rows import CompressedRows  # the inference layers, with to_plain() of their own
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
        prefix = f"{name}." if name else ""
        _check_shapes(name, module, state_dict, prefix)
        kind, bits, groups = _saved_kind(name, module, state_dict, prefix)
        if kind is None or (type(module) is kind and (bits is None or (module.bits, module.codebook_groups) ==
                                                      (bits, groups))):
            continue
        if module is model:
            raise TypeError(f"deepcomp.match_layers: the model itself is a {type(module).__name__} and the state "
                            f"dict holds a {kind.__name__}; a model cannot replace itself, wrap it "
                            "(nn.Sequential(layer))")
        replacements.append((module, _fresh(kind, module, bits, groups)))
    return replacements


def _saved_kind(name: str, module, state: Mapping,
                prefix: str) -> Tuple[Optional[type], Optional[int], Optional[int]]:
    """(the layer type state was saved from, its bits and codebook groups if shared); (None, None, None) if
    state has no weight of it."""
    dense = DENSE_OF[type(module)]
    if prefix + "codebook" in state:
        shape = tuple(state[prefix + "codebook"].shape)
        entries = shape[-1] if len(shape) in (1, 2) else 0
        groups = shape[0] if len(shape) == 2 else 1
        rows = (module.indices if isinstance(module, SharedLayer) else module.weight).shape[0]
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
    weight_shape = (module.indices if isinstance(module, SharedLayer) else module.weight).shape
    expected = {"weight": weight_shape, "mask": weight_shape, "indices": weight_shape}
    if getattr(module, "bias", None) is not None:
        expected["bias"] = module.bias.shape
    for leaf, shape in expected.items():
        tensor = state.get(prefix + leaf)
        if tensor is not None and tuple(tensor.shape) != tuple(shape):
            raise ValueError(f"deepcomp.match_layers: layer {name!r}: the saved {leaf} has shape "
                             f"{tuple(tensor.shape)}, the layer needs {tuple(shape)}")


def _fresh(kind: type, module: torch.nn.Module, bits: Optional[int],
           codebook_groups: Optional[int] = None) -> torch.nn.Module:
    """A `kind` layer with module's options, device, dtype and training mode, all tensors zero."""
    like = module.codebook if isinstance(module, SharedLayer) else module.weight
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
        if not isinstance(module, CompressedRows) and DENSE_OF.get(type(module), type(module)) is type(module):
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
        layer.weight.copy_(module.weight)
        if getattr(module, "bias", None) is not None:
            layer.bias.copy_(module.bias)
    return layer
