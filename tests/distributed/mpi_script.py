"""Scenarios the MPI tests run under ``mpirun -n 2`` (and alone, as the reference).

Usage: ``python mpi_script.py SCENARIO OUT_DIR``. Each scenario writes what the
test checks into OUT_DIR, one file per rank.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import lucid
import lucid.distributed as dist
from lucid import nn


def _convnet() -> nn.Module:
    # No batch norm: per-rank batch statistics would differ from the full batch's.
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
    )


def _pvt() -> nn.Module:
    return lucid.models.create_model("pvt_v2_b0", num_classes=5, img_size=32)


def _data(steps: int, batch: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((steps, batch, 3, size, size), dtype=np.float32)
    y = rng.integers(0, 5, (steps, batch))
    return x, y


def _flat(model: nn.Module) -> np.ndarray:
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def train(out: Path, kind: str) -> None:
    """``kind`` is convnet or pvt; alone, the process trains on the full batch."""
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    steps, full_batch = 3, 8
    lucid.manual_seed(0)
    model = _convnet() if kind == "convnet" else _pvt()
    if world > 1:
        # Different initial weights on purpose: wrapping must copy rank 0's.
        for p in model.parameters():
            p.data += rank
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.01)
    opt = lucid.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = _data(steps, full_batch, 8 if kind == "convnet" else 32)
    share = full_batch // world
    identical = []
    for step in range(steps):
        rows = slice(rank * share, (rank + 1) * share)
        loss = nn.functional.cross_entropy(
            ddp(lucid.tensor(x[step, rows])), lucid.tensor(y[step, rows])
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        # Every rank must hold bit-identical parameters after every step.
        mine = _flat(model)
        gathered = [np.empty_like(mine) for _ in range(world)]
        dist.all_gather(gathered, mine)
        identical.append(
            all(np.array_equal(g.view(np.uint32), mine.view(np.uint32)) for g in gathered)
        )
    np.savez(
        out / f"{kind}-world{world}-rank{rank}.npz",
        params=_flat(model),
        identical=np.array(identical),
        exposed=np.array(ddp.exposed_comm_seconds),
    )
    dist.destroy_process_group()


def fail(out: Path) -> None:
    """Rank 1 raises in its second step; rank 0 keeps saving checkpoints."""
    dist.init_process_group()
    rank = dist.get_rank()
    model = dist.DistributedDataParallel(_convnet())
    x, y = _data(4, 2, 8)
    for step in range(4):
        if rank == 1 and step == 1:
            raise RuntimeError("injected failure on rank 1")
        loss = nn.functional.cross_entropy(model(lucid.tensor(x[step])), lucid.tensor(y[step]))
        loss.backward()
        if rank == 0:
            lucid.save({"step": step, "model": model.module.state_dict()}, out / "ckpt.safetensors")
    (out / f"finished-rank{rank}").touch()


def die_while_saving(out: Path) -> None:
    """Rank 0 dies in the middle of overwriting a good checkpoint."""
    dist.init_process_group()
    if dist.get_rank() == 0:
        path = out / "ckpt.safetensors"
        lucid.save({"step": 1, "w": lucid.ones(1000)}, path)

        def die(fd: int) -> None:  # the temporary file is written, not yet renamed
            os._exit(9)

        os.fsync = die
        lucid.save({"step": 2, "w": lucid.zeros(1000)}, path)
    dist.barrier()


def collectives(out: Path) -> None:
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {}
    x = lucid.tensor([1.0, 2.0]) * (rank + 1)
    dist.all_reduce(x)
    results["sum"] = x.numpy()
    a = np.array([float(rank + 1)] * 3)
    dist.all_reduce(a, op=dist.ReduceOp.AVG)
    results["avg"] = a
    m = lucid.tensor([rank, -rank])
    dist.all_reduce(m, op=dist.ReduceOp.MAX)
    results["max"] = m.numpy()
    b = lucid.full((2, 2), float(rank + 7))
    work = dist.broadcast(b, src=1, async_op=True)
    work.wait()
    results["broadcast"] = b.numpy()
    parts = [lucid.zeros(3) for _ in range(world)]
    dist.all_gather(parts, lucid.full((3,), float(rank)))
    results["gather"] = np.stack([p.numpy() for p in parts])
    rows = np.arange(rank + 1, dtype=np.int64).reshape(-1, 1) + 10 * rank
    results["rows"] = dist._group.gather_rows(rows)
    dist.barrier()
    np.savez(out / f"collectives-rank{rank}.npz", **results)


if __name__ == "__main__":
    scenario, out_dir = sys.argv[1], Path(sys.argv[2])
    if scenario in ("convnet", "pvt"):
        train(out_dir, scenario)
    else:
        {"fail": fail, "die_while_saving": die_while_saving, "collectives": collectives}[scenario](
            out_dir
        )
