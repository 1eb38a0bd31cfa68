"""One process or many: what torchrun's environment says, and the few collective steps training needs.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK (and the rendezvous address) in every process it
starts. Without them netc trains in one process and no process group is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import UsageError


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0 alone prints, writes metrics and checkpoints: one writer per run directory."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"environment variable {name}={text!r} is not a whole number") from None


def world_from_env() -> World:
    return World(_env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0))


def choose_device(request: str, world: World) -> torch.device:
    """auto → CUDA when present; under torchrun each process takes the GPU of its LOCAL_RANK."""
    if request == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA GPU (use --device cpu or auto)")
    if request == "cpu" or (request == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    index = world.local_rank % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def start(world: World, device: torch.device) -> None:
    """nccl between GPUs, gloo between CPU processes; the rendezvous is torchrun's (env://)."""
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def stop(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def sum_across(values: list[float], world: World, device: torch.device) -> list[float]:
    """Sums of per-process numbers (loss sums, counts), the same on every process. float64, so a
    sum of many batches loses nothing a single process would keep."""
    if not world.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast(value, world: World):
    """Rank 0's value (a run directory name) on every process."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
