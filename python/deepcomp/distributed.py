"""Compression under torch.distributed: decide on one rank, broadcast, and prove every rank agrees.

deepcomp.prune and deepcomp.quantize are deterministic, so ranks holding the same weights make the same
decisions; but a mask that silently differs between ranks (another seed, a nondeterministic kernel)
trains a different network on each. So each rank calls prune/quantize (the layers must change type
everywhere), then::

    deepcomp.distributed.broadcast_compression_state(model, src=0)   # rank 0's decisions everywhere
    deepcomp.distributed.check_identical(model)                       # raises if any tensor differs

and wraps the model in DistributedDataParallel again (quantize makes new Parameters). Both are no-ops
when torch.distributed is not initialized (a single process).
"""
import hashlib
from typing import Dict, List, Optional

import torch
import torch.distributed as dist


class RankMismatchError(RuntimeError):
    """The ranks of a process group hold models that differ in structure or in some tensor."""


def _active(group) -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def _gather(obj, group) -> list:
    gathered = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, obj, group=group)
    return gathered


def _first_difference(reference: Dict[str, str], other: Dict[str, str]) -> Optional[str]:
    """The first name (in reference's order) whose entry differs or is missing, then any extra name."""
    for name, value in reference.items():
        if other.get(name) != value:
            return name
    return next((name for name in other if name not in reference), None)


def _structure(model: torch.nn.Module) -> Dict[str, str]:
    return {name: f"{tuple(tensor.shape)} {tensor.dtype}" for name, tensor in model.state_dict().items()}


def tensor_digests(model: torch.nn.Module) -> Dict[str, str]:
    """{state_dict name: SHA-256 of the tensor's dtype, shape and bytes} for every tensor of model:
    weights, biases, masks, indices, codebooks and any other buffer."""
    digests = {}
    for name, tensor in model.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest = hashlib.sha256(f"{data.dtype} {tuple(data.shape)}".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
        digests[name] = digest.hexdigest()
    return digests


def broadcast_compression_state(model: torch.nn.Module, src: int = 0, group=None) -> None:
    """Overwrites every rank's model state with rank src's, in place: masks, indices and codebooks, and
    the weights and biases they act on (a mask without the weights it zeroed would not match them).

    Call it on every rank of `group` (default: the world) after the same prune/quantize calls, so the
    models have the same structure. Raises RankMismatchError, on every rank and before any tensor is
    sent, if some rank's state dict differs in names, shapes or dtypes (naming the first such tensor).
    """
    if not _active(group):
        return
    structures = _gather(_structure(model), group)
    for rank, structure in enumerate(structures):
        name = _first_difference(structures[src], structure)
        if name is not None:
            raise RankMismatchError(
                f"deepcomp.distributed.broadcast_compression_state: rank {rank} and rank {src} differ in the "
                f"structure of {name!r} (rank {src}: {structures[src].get(name, 'missing')}, rank {rank}: "
                f"{structure.get(name, 'missing')}); prune and quantize the same way on every rank first")
    with torch.no_grad():
        for tensor in model.state_dict().values():
            # Collective backends differ in which dtypes they send; every tensor's bytes travel as uint8.
            dist.broadcast(tensor.view(torch.uint8) if tensor.dtype == torch.bool else tensor, src, group=group)


def check_identical(model: torch.nn.Module, group=None) -> Dict[str, str]:
    """Checks, by hashing, that every rank of `group` holds bit-identical state: masks, indices,
    codebooks, weights, biases and buffers. Call it on every rank. Returns this rank's digests
    ({name: SHA-256 hex}, see tensor_digests); raises RankMismatchError on every rank, naming the
    first differing tensor and the ranks, if any rank differs from rank 0.
    """
    digests = tensor_digests(model)
    if not _active(group):
        return digests
    everyone: List[Dict[str, str]] = _gather(digests, group)
    for rank, other in enumerate(everyone[1:], start=1):
        name = _first_difference(everyone[0], other)
        if name is not None:
            raise RankMismatchError(f"deepcomp.distributed.check_identical: tensor {name!r} differs between rank 0 "
                                    f"and rank {rank} (or is missing on one of them)")
    return digests
