"""One process or many under torchrun: rank, device, collectives, and output from rank 0 only."""
import os
from dataclasses import dataclass
from typing import List

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm


@dataclass(frozen=True)
class Runtime:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def log(self, message: str) -> None:
        if self.main:
            tqdm.write(message)  # above any progress bar, not through it

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """model under DDP when there are several ranks. Masks and indices never change while training
        and are kept identical by broadcast_compression_state, so DDP need not broadcast buffers every
        step (VGG-16's fc6 mask alone is 100 MB)."""
        if self.world == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)

    def sum(self, values: List[float]) -> List[float]:
        """Elementwise sums over the ranks (in float64, so counts stay exact)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj) -> list:
        """obj from every rank, in rank order, on every rank."""
        if self.world == 1:
            return [obj]
        gathered = [None] * self.world
        dist.all_gather_object(gathered, obj)
        return gathered

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def start(device: str) -> Runtime:
    """Joins the process group when launched by torchrun (NCCL on GPUs, gloo on CPU); device 'auto'
    is this rank's GPU if there is one, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but torch sees no CUDA device")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    chosen = torch.device("cuda", local_rank) if device == "cuda" else torch.device("cpu")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
        return Runtime(dist.get_rank(), dist.get_world_size(), chosen)
    return Runtime(0, 1, chosen)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
