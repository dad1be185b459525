"""deepcomp.distributed on 2 gloo processes: rank 0's decisions reach every rank, and a tensor that
differs between ranks is named."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepcomp
from deepcomp.distributed import RankMismatchError, broadcast_compression_state, check_identical


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _network() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3))


def _on_two_ranks(body, port: int) -> None:
    """Runs body(rank) on 2 gloo processes; fails with the first rank's error."""
    mp.start_processes(_worker, args=(body, port), nprocs=2, start_method="spawn")


def _worker(rank: int, body, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        body(rank)
    finally:
        dist.destroy_process_group()


def _broadcast_makes_ranks_identical(rank: int) -> None:
    torch.manual_seed(rank)  # each rank its own weights: its own masks and codebooks
    model = _network()
    deepcomp.prune(model, sparsity=0.5)
    deepcomp.quantize(model, bits=3)
    with pytest.raises(RankMismatchError, match=r"tensor '0\.codebook' differs between rank 0 and rank 1"):
        check_identical(model)
    broadcast_compression_state(model, src=0)
    digests = check_identical(model)
    torch.manual_seed(0)
    reference = _network()
    deepcomp.prune(reference, sparsity=0.5)
    deepcomp.quantize(reference, bits=3)
    assert digests == deepcomp.distributed.tensor_digests(reference)  # rank 0's state, bit for bit


def _different_structure_is_named_before_sending(rank: int) -> None:
    model = _network()
    deepcomp.prune(model, sparsity=0.5, layers=["0"] if rank == 0 else ["2"])
    with pytest.raises(RankMismatchError, match=r"rank 1 and rank 0 differ in the structure of '0\.mask'"):
        broadcast_compression_state(model)


@pytest.mark.parametrize("body", [_broadcast_makes_ranks_identical, _different_structure_is_named_before_sending])
def test_on_two_gloo_ranks(body):
    _on_two_ranks(body, _free_port())


def test_single_process_is_a_no_op():
    model = _network()
    deepcomp.prune(model, sparsity=0.5)
    before = deepcomp.distributed.tensor_digests(model)
    broadcast_compression_state(model)
    assert check_identical(model) == before
