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
from typing import Optional, Union

import torch

from . import _C

FormatError = _C.FormatError
FileReport = _C.FileReport
TensorFileStats = _C.TensorFileStats

PathLike = Union[str, os.PathLike]


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


def load(path: PathLike, model: Optional[torch.nn.Module] = None):
    """The tensors of a .dcz file.

    Without model: a dense state dict (name -> Tensor on the CPU; compressed weights decoded, 0 where
    pruned). With model: loads the file into it (strictly: every tensor of the model must come from
    the file and every tensor of the file must be used) and returns it. Plain layers get the decoded
    weight; masked layers their weight and mask; shared layers their codebook, indices and mask
    exactly, so fine-tuning can go on. Tensors move to the model's devices and dtypes.
    Raises FormatError for a malformed file, ValueError when file and model do not match, OSError
    when the file cannot be read.
    """
    path = os.fspath(path)
    if model is None:
        return dict(_C.load_state(path, None))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"load needs an nn.Module to load into, got {type(model).__name__}")
    model.load_state_dict(dict(_C.load_state(path, list(model.state_dict().keys()))))
    return model


def inspect(path: PathLike) -> FileReport:
    """The FileReport of an existing .dcz file (str() of it is the per-tensor table)."""
    return _C.inspect(os.fspath(path))
