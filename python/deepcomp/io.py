"""Stage 3 of Deep Compression: the compressed model file (.dcz; docs/format.md).

save() writes every tensor of a model's state dict. Compressed layers are recognised by their
tensors: a shared layer's `codebook`, `indices` and `mask` become one Huffman-coded weight (the
kept positions as relative gaps, and a codebook index per kept weight), a masked layer's `weight`
and `mask` become coded gaps and the kept values; everything else is stored raw. The file is the
compression: its size on disk is what the report's rate divides by. Files are written atomically
(temporary file, fsync, rename) and read back with every size checked before anything is
allocated; a malformed file raises FormatError. Nothing is unpickled, no code runs on load.
"""
import os
from collections.abc import Mapping
from typing import Dict, Iterable, Optional, Union

import torch

from . import _C, nn
from ._layers import swap_children
from .match_layers import matched_layers

FormatError = _C.FormatError
FileReport = _C.FileReport
TensorFileStats = _C.TensorFileStats

PathLike = Union[str, os.PathLike]

# The layers load(compressed=True) replaces by an inference twin (a masked twin is a subclass of its layer).
_EMBEDDINGS = {torch.nn.Embedding: nn.CompressedEmbedding, nn.SharedEmbedding: nn.CompressedEmbedding,
               torch.nn.EmbeddingBag: nn.CompressedEmbeddingBag, nn.SharedEmbeddingBag: nn.CompressedEmbeddingBag}
_COMPRESSIBLE = (torch.nn.Linear, nn.SharedLinear, *_EMBEDDINGS)


def save(model: Union[torch.nn.Module, Mapping], path: PathLike, *, gap_bits: Optional[int] = None,
         max_code_length: int = 12) -> FileReport:
    """Writes model (an nn.Module, or a state dict of name -> Tensor) to path as a .dcz file.

    gap_bits: bits per relative index of sparse weights, 1..8 (default: 8 for conv weights, 5 for
    linear ones, the paper's widths). max_code_length: the longest Huffman code, 1..15 bits.
    Returns the file's FileReport: per tensor, the weights kept, bits per index and per gap before
    and after Huffman coding, bytes and compression rate; in total, fp32 bytes over the file's size.
    Raises TypeError for a model that is neither, ValueError for bad options or tensors a .dcz
    cannot hold (complex dtypes), OSError when the file cannot be written (nothing at path changes).
    """
    if isinstance(model, torch.nn.Module):
        state = model.state_dict()
    elif isinstance(model, Mapping):
        state = model
    else:
        raise TypeError(f"save needs an nn.Module or a state dict, got {type(model).__name__}")
    for name, tensor in state.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise TypeError(f"save: a state dict maps str to Tensor, got {name!r}: {type(tensor).__name__}")
    return _C.save_state(list(state.items()), os.fspath(path), gap_bits, max_code_length)


def load(path: PathLike, model: Optional[torch.nn.Module] = None, *, compressed: bool = False,
         match_layers: bool = False, max_bytes: Optional[int] = None):
    """The tensors of a .dcz file.

    Without model: a dense state dict (name -> Tensor on the CPU; compressed weights decoded, 0 where
    pruned). With model: loads the file into it (strictly: every tensor of the model must come from
    the file and every tensor of the file must be used) and returns it. Plain layers get the decoded
    weight; masked layers their weight and mask; shared layers their codebook, indices and mask
    exactly, so fine-tuning can go on. Tensors move to the model's devices and dtypes.
    compressed=True (inference): each linear layer (plain, masked or shared) whose weight the file
    holds quantized is replaced by a deepcomp.nn.CompressedLinear, which computes with the kept weights
    and the codebook without decoding them, and each such embedding (bag) by a deepcomp.nn.CompressedEmbedding
    (CompressedEmbeddingBag), which decodes only the rows a lookup reads; the other layers load as above.
    match_layers=True: first gives each of the model's Linear / Conv2d layers the type the file stores
    it as (shared with the file's bits, masked, or plain; deepcomp.match_layers), so a freshly built
    dense model gets the compressed model back, ready to fine-tune, without pruning or k-means.
    max_bytes: the most bytes the file's decoded tensors may take (default: 256 × the file's size,
    at least 1 GiB); a file declaring more is refused before it is decoded.
    All or nothing: every check (names, shapes, layer kinds) runs before the model changes, so on an
    error the model is as it was.
    Raises FormatError for a malformed file (or one over max_bytes), ValueError when file and model do
    not match, OSError when the file cannot be read.
    """
    if model is None and compressed:
        raise ValueError("load: compressed=True needs a model whose linear layers it can replace")
    if model is not None and not isinstance(model, torch.nn.Module):
        raise TypeError(f"load needs an nn.Module to load into, got {type(model).__name__}")
    if model is None and match_layers:
        raise ValueError("load: match_layers=True needs a model whose layers it can change")
    file = _open(path, max_bytes)  # read and checked once, whatever is asked of it below
    if model is None:
        return dict(file.dense())
    matched = matched_layers(model, _stored_layout(file.report())) if match_layers else []
    swap_children(model, {id(old): new for old, new in matched})
    try:
        state, compressed_layers = _state_for(file, model, compressed)
        _check_fits(model, state)
    except BaseException:
        swap_children(model, {id(new): old for old, new in matched})  # as it was
        raise
    model.load_state_dict(state, strict=not compressed)  # cannot fail now: every name and shape is checked
    swap_children(model, compressed_layers)
    return model


def _open(path: PathLike, max_bytes: Optional[int]):
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0):
        raise ValueError(f"max_bytes must be an int >= 0 (bytes), got {max_bytes!r}")
    return _C.DczFile(os.fspath(path), max_bytes)


def _state_for(file, model: torch.nn.Module, compressed: bool):
    """The state dict to load into model and, with compressed, the replacements {id(layer): CompressedLinear
    or CompressedEmbedding(Bag)} of its linear layers and embeddings the file holds quantized. Changes nothing."""
    names = list(model.state_dict().keys())
    if not compressed:
        return dict(file.state(names)), {}
    layers = _compressible_layers(file.report(), model)
    parts = [f"{prefix}{leaf}" for prefix in layers for leaf in ("codebook", "indices", "mask")]
    # The model's own tensors of these layers (weight, or codebook/indices/mask, and a mask) give way to the parts.
    own = {f"{prefix}{leaf}" for prefix in layers for leaf in ("weight", "codebook", "indices", "mask")}
    state = dict(file.state([name for name in names if name not in own] + parts))
    replacements = {}
    for prefix, layer in layers.items():
        shared = isinstance(layer, nn.SharedLayer)
        like = layer.codebook if shared else layer.weight  # device and dtype to keep
        shape, expected = tuple(state[prefix + "indices"].shape), tuple((layer.indices if shared else like).shape)
        if shape != expected:
            raise ValueError(f"load: {prefix}weight in the file has shape {shape}, the model's layer {expected}")
        parts = (state.pop(prefix + "indices").to(like.device), state.pop(prefix + "mask").to(like.device),
                 state.pop(prefix + "codebook").to(like.device, like.dtype))
        embedding = next((compressed for kind, compressed in _EMBEDDINGS.items() if isinstance(layer, kind)), None)
        if embedding is not None:
            replacements[id(layer)] = embedding.from_parts(*parts, like=layer)
        else:
            bias = state.pop(prefix + "bias", None)
            replacements[id(layer)] = nn.CompressedLinear.from_parts(
                *parts, None if bias is None else bias.to(like.device, like.dtype))
    return state, replacements


def _check_fits(model: torch.nn.Module, state: Dict[str, torch.Tensor]) -> None:
    """Raises ValueError naming every tensor of state whose shape is not the model's (load_state_dict
    would copy the others first and leave the model half-loaded)."""
    own = model.state_dict(keep_vars=True)
    wrong = [f"{name}: the file's {tuple(tensor.shape)}, the model's {tuple(own[name].shape)}"
             for name, tensor in state.items() if name in own and own[name].shape != tensor.shape]
    if wrong:
        raise ValueError("load: the file does not fit the model (nothing was loaded): " + "; ".join(wrong))


def _stored_layout(report: FileReport) -> Dict[str, torch.Tensor]:
    """The state-dict names and shapes of the model the file was saved from, as empty (meta) tensors:
    a quantized `<layer>.weight` was its layer's codebook, indices and mask, a sparse one its weight and mask."""
    layout = {}
    for stats in report.tensors:
        shape, prefix = tuple(stats.shape), stats.name[:-len("weight")]
        if stats.kind.endswith("codebook"):
            k, groups = 2 ** stats.index_bits, stats.codebook_groups
            layout.update({prefix + "codebook": (k,) if groups == 1 else (groups, k), prefix + "indices": shape,
                           prefix + "mask": shape})
        elif stats.kind == "sparse_raw":
            layout.update({stats.name: shape, prefix + "mask": shape})
        else:
            layout[stats.name] = shape
    return {name: torch.empty(shape, device="meta") for name, shape in layout.items()}


def _compressible_layers(report: FileReport, model: torch.nn.Module) -> dict:
    """Prefix ("fc." ...) -> layer, for the model's linear layers and embeddings whose weight the file
    holds quantized."""
    quantized = {stats.name for stats in report.tensors if stats.kind.endswith("codebook")}
    if isinstance(model, _COMPRESSIBLE) and "weight" in quantized:
        raise TypeError(f"load(compressed=True): the model itself is a {type(model).__name__}, which cannot be "
                        "replaced in place; wrap it (nn.Sequential(layer))")
    return {f"{name}.": module for name, module in model.named_modules()
            if name and isinstance(module, _COMPRESSIBLE) and f"{name}.weight" in quantized}


def inspect(path: PathLike, *, max_bytes: Optional[int] = None) -> FileReport:
    """The FileReport of an existing .dcz file (str() of it is the per-tensor table); max_bytes as for load."""
    return _open(path, max_bytes).report()


def load_state(path: PathLike, names: Iterable[str], *, max_bytes: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """The tensors of a .dcz file by a model's state-dict names, without the model (what
    load(path, model) loads): `<layer>.codebook`, `.indices` and `.mask` come from a compressed
    `<layer>.weight` as stored, anything else by its own name, decoded to dense; CPU tensors.
    Raises ValueError naming the names the file cannot give and the file's tensors no name uses,
    FormatError for a malformed file (or one over max_bytes, as for load), OSError when the file cannot be
    read; TypeError for a single str."""
    if isinstance(names, str):
        raise TypeError(f"load_state needs a list of tensor names, got the str {names!r}")
    return dict(_open(path, max_bytes).state(list(names)))
