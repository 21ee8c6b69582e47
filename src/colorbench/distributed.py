"""Several processes, one training run: PyTorch's own engine (torch.distributed, launched by torchrun),
NCCL on GPUs and gloo on CPUs. Every process holds the whole dataset as tensors and draws the same
seeded permutation and augmentation; each takes its slice of every global batch, so a run on N
processes follows the protocol of a run on one (same global batch, same order, same loss).

    torchrun --standalone --nproc_per_node 4 -m colorbench train --model unet --preset study
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import UsageError

TIMEOUT = dt.timedelta(minutes=10)  # a process that stops answering ends the run instead of hanging it


class DistributedError(RuntimeError):
    """A distributed run that cannot start or go on, explained in one line."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum of `t` over all processes (in place; the same value everywhere)."""
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def broadcast(self, t: torch.Tensor) -> torch.Tensor:
        """The main process's `t` on every process (in place)."""
        if self.active:
            dist.broadcast(t, src=0)
        return t

    def decide(self, check):
        """`check()` on the main process only (it may read and claim folders); every process returns
        its result, or raises the error it met, as one line."""
        result, error = None, None
        if self.main:
            try:
                result = check()
            except Exception as e:  # handed to every process below
                error = e
        if not self.active:
            if error is not None:
                raise error
            return result
        box = [(result, None if error is None else (type(error).__name__, str(error)))]
        dist.broadcast_object_list(box, src=0)
        result, err = box[0]
        if err is not None:
            if self.main:
                raise error
            copy = (UsageError if err[0] == "UsageError" else DistributedError)(err[1])
            copy.echo = True  # the main process reports it; the others exit with the same code, silently
            raise copy
        return result


SINGLE = World()


def _teardown() -> None:
    """Destroy the process group, if any (at exit for library use; `leave` for the command line)."""
    if not dist.is_initialized():
        return
    try:
        dist.destroy_process_group()
    except Exception:  # a peer already gone: its run has ended or failed, and the exit code says which
        pass


def leave(code: int) -> None:
    """End a process of a distributed run with `code`, once its command has finished: the group is torn
    down, the output flushed, and the process exits at once. Left to the interpreter's own exit, C++
    objects that hold gloo's threads are destroyed in no set order and now and then abort a process whose
    run had finished ("terminate called without an active exception"); nothing of a run lives past this."""
    if not dist.is_initialized():
        return
    _teardown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def world_from_env(device_type: str) -> World:
    """The process group torchrun describes in the environment, started once; a single process without it."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return SINGLE
    if not dist.is_initialized():
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT", "RANK") if not os.environ.get(v)]
        if missing:
            raise DistributedError(f"WORLD_SIZE is {size} but {', '.join(missing)} is not set: there is no rendezvous. "
                                   "Launch distributed runs with torchrun (see README: several processes)")
        backend = "nccl" if device_type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, timeout=TIMEOUT)
            # torn down before the interpreter is: left to exit, gloo's threads now and then abort the
            # process ("terminate called without an active exception") after the run has finished
            atexit.register(_teardown)
        except (RuntimeError, ValueError, OSError) as e:
            raise DistributedError(f"cannot join the distributed run at {os.environ['MASTER_ADDR']}:"
                                   f"{os.environ['MASTER_PORT']} ({str(e).splitlines()[0]}); check --rdzv-endpoint and "
                                   "that every node runs the same command") from None
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0") or 0))


def check_batch(world: World, batch_size: int) -> int:
    """Per-process batch: the global batch divided by the number of processes, which must divide it."""
    if batch_size % world.size:
        raise UsageError(f"--batch-size {batch_size} (the global batch) is not divisible by the {world.size} processes; "
                         f"use a process count that divides it, or a batch size that is a multiple of {world.size}")
    return batch_size // world.size


def lost_contact(e: BaseException) -> bool:
    """Is this the error a process meets when another process of its run stopped?"""
    names = {type(e).__name__ for e in (e, e.__cause__) if e is not None}
    text = str(e).lower()
    return bool(names & {"DistBackendError", "DistNetworkError", "DistStoreError"}) or any(
        w in text for w in ("connection closed by peer", "connection reset", "broken pipe", "timed out", "gloo"))
