"""Data-parallel training under ``torchrun``: one process per GPU (or per CPU worker, gloo).

Every training loop in freqlib calls these helpers; outside a process group they are no-ops, so
the same code runs in a notebook, in a script, and under ``torchrun --nproc_per_node N ...``.

- :func:`init_from_env` joins the process group that ``torchrun`` describes in the environment
  (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``) and returns this process's
  device. ``freqlib experiment`` calls it before anything else; :func:`freqlib.train.train_classifier`
  calls it lazily (it is idempotent), so a plain script under ``torchrun`` works too;
- :func:`wrap` puts a model in :class:`~torch.nn.parallel.DistributedDataParallel` (FR layers
  included: their trainable parameters are the spectra ``parametrizations.weight.original``, which
  DDP averages like any parameter; the kept count ``k`` is a Python attribute, not a buffer, and
  stays identical on every rank because every rank takes the same number of steps);
- :func:`shard` gives each rank its share of a data set's indices, reshuffled every epoch, and
  :func:`local_batch_size` its share of a global batch;
- :func:`all_sum` adds a tensor over ranks (metrics), :func:`broadcast_buffers` copies rank 0's
  buffers (BatchNorm statistics) to every rank, :func:`check_same` asserts a number agrees on every
  rank, :func:`sync_rng` makes the global RNGs agree again, :func:`is_main` says who prints and
  writes, :func:`shutdown` leaves the group.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher) with ``WORLD_SIZE`` > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """Whether a process group is initialized (this process is one of several)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process is rank 0: the one that prints summaries and writes files."""
    return rank() == 0


def local_device(device: torch.device | str) -> torch.device:
    """``device`` with an explicit index: a bare ``"cuda"`` becomes the current CUDA device
    (``cuda:LOCAL_RANK`` after :func:`init_from_env`); other devices are returned unchanged."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def init_from_env(device: torch.device | str | None = None, backend: str | None = None) -> torch.device:
    """Join the process group ``torchrun`` set up and return the device this process trains on.

    Outside ``torchrun`` (``WORLD_SIZE`` unset or 1) nothing is initialized and ``device`` (default:
    CUDA when present, else CPU) is returned. Under ``torchrun``, when CUDA is wanted (``device``
    None or a CUDA device) each process takes ``cuda:LOCAL_RANK`` (so a bare ``"cuda"`` elsewhere
    means this process's GPU) and the group gets ``nccl`` for CUDA tensors and ``gloo`` for CPU
    tensors; with ``device="cpu"`` (or no GPU) the group is ``gloo`` only. Calling it again is a no-op
    apart from returning the device.
    """
    cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
    if not launched():
        return torch.device(device) if device is not None else torch.device("cuda" if cuda else "cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        if local >= torch.cuda.device_count():
            raise RuntimeError(
                f"init_from_env: LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) are visible; "
                "start at most one process per GPU (torchrun --nproc_per_node) or train on device='cpu'"
            )
        torch.cuda.set_device(local)
        here = torch.device("cuda", local)
    else:
        here = torch.device("cpu")
    if not active():
        kwargs = {"device_id": here} if cuda else {}
        dist.init_process_group(backend or ("cpu:gloo,cuda:nccl" if cuda else "gloo"), **kwargs)
    return here


def shutdown() -> None:
    """Leave the process group (no-op outside one)."""
    if active():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device | str, **ddp_kwargs) -> nn.Module:
    """``model`` on ``device``, inside DistributedDataParallel when a process group is active.

    DDP broadcasts rank 0's parameters and buffers when it wraps (so every rank starts from the
    same model), averages gradients over ranks in ``backward`` and, by default
    (``broadcast_buffers=True``), copies rank 0's buffers to every rank before each forward.
    ``ddp_kwargs`` go to DDP (e.g. ``find_unused_parameters=True``). The optimizer may be built
    from the unwrapped model's parameters: they are the same tensors.
    """
    device = local_device(device)
    model = model.to(device)
    if not active():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, **ddp_kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel wrappers (``model`` itself otherwise)."""
    while isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
        model = model.module
    return model


def local_batch_size(batch_size: int, world: int | None = None) -> int:
    """Each rank's share of a global batch of ``batch_size`` examples over ``world`` ranks (default:
    the current world size). Raises ValueError when ``batch_size`` does not divide evenly."""
    world = world_size() if world is None else world
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} (the global batch) must be divisible by the number of processes {world}"
        )
    return batch_size // world


def shard(dataset, *, shuffle: bool, seed: int = 0) -> DistributedSampler | None:
    """Each rank's share of ``dataset`` (same size on every rank; padded by repeating a few
    examples when the size does not divide), or None outside a process group. Call
    ``.set_epoch(epoch)`` before each epoch to reshuffle (the order is drawn from ``seed + epoch``)."""
    if not active():
        return None
    return DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=shuffle, seed=seed)


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over every rank (a copy; ``value`` itself outside a process group)."""
    if not active():
        return value
    out = value.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


@torch.no_grad()
def broadcast_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics, ...) into ``model`` on every rank, in
    place. Under DDP each rank updates its buffers from its own shard in the last forward, so call
    this before evaluating or saving. No-op outside a process group."""
    if not active():
        return
    for buf in unwrap(model).buffers():
        dist.broadcast(buf, src=0)


def _comm_device() -> torch.device:
    """Where small metadata tensors go for a collective: the CPU unless the group is CUDA-only (nccl)."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def check_same(value: int, what: str) -> None:
    """Raise RuntimeError unless the integer ``value`` is the same on every rank (no-op outside a
    process group); ``what`` names it in the message."""
    if not active():
        return
    lo = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    hi = lo.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if int(lo) != int(hi):
        raise RuntimeError(f"{what} differs between ranks: {int(lo)} to {int(hi)} (rank {rank()} has {value})")


def sync_rng() -> None:
    """Reseed the global RNGs (CPU and CUDA) of every rank from one number drawn on rank 0, so that
    code after a per-rank seeded phase (training with ``seed + rank``) draws the same random numbers
    on every rank. No-op outside a process group."""
    if not active():
        return
    seed = torch.randint(0, 2**62, (1,), dtype=torch.int64).to(_comm_device())
    dist.broadcast(seed, src=0)
    torch.manual_seed(int(seed))
