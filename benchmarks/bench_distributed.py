"""Data-parallel scaling on one machine: 1 process x 2 threads against 2 MPI ranks x 1 thread.

Both configurations train PVT v2 on the same global batch with
DistributedDataParallel (a group of one for the single process), so the
difference is how the two cores are used. The all-reduce of one step's
gradients is also timed on its own, and DDP reports how much of it backward
did not hide.

Run it on a quiet machine::

    .venv/bin/python benchmarks/bench_distributed.py [--model pvt_v2_b0] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    import lucid
    import lucid.distributed as dist

    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    lucid.manual_seed(0)
    model = lucid.models.create_model(args.model, num_classes=1000)
    ddp = dist.DistributedDataParallel(model)
    opt = lucid.optim.AdamW(model.parameters(), lr=1e-4)
    batch = args.global_batch // world
    rng = np.random.default_rng(rank)
    x = lucid.tensor(rng.standard_normal((batch, 3, 224, 224), dtype=np.float32))
    y = lucid.tensor(rng.integers(0, 1000, batch))
    times = []
    for step in range(args.steps + 1):  # the first step warms up and is not counted
        dist.barrier()
        start = time.perf_counter()
        loss = lucid.nn.functional.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:
            times.append(time.perf_counter() - start)
    exposed = ddp.exposed_comm_seconds
    # The gradients' all-reduce alone: one flat buffer of every parameter.
    flat = np.zeros(sum(p.data.size for p in model.parameters()), dtype=np.float32)
    reduce_times = []
    for _ in range(args.steps):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(flat)
        reduce_times.append(time.perf_counter() - start)
    if rank == 0:
        step = statistics.median(times)
        print(
            json.dumps(
                {
                    "world_size": world,
                    "step_seconds": step,
                    "images_per_second": args.global_batch / step,
                    "allreduce_seconds": statistics.median(reduce_times),
                    "gradient_mib": flat.nbytes / 2**20,
                    "exposed_comm_seconds_per_step": exposed / (args.steps + 1),
                }
            )
        )
    dist.destroy_process_group()


def launch(args: argparse.Namespace, ranks: int, threads: int) -> dict[str, float]:
    env = {
        **os.environ,
        "LUCID_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl": "self,sm",
    }
    me = [sys.executable, __file__, "--worker", "--model", args.model]
    me += ["--steps", str(args.steps), "--global-batch", str(args.global_batch)]
    if ranks > 1:
        mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or "mpirun"
        me = [mpirun, "-n", str(ranks), "--bind-to", "core", *me]
    out = subprocess.run(me, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pvt_v2_b0")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"load average at start: {os.getloadavg()}")
    one = launch(args, ranks=1, threads=2)
    two = launch(args, ranks=2, threads=1)
    for name, r in (("1 process x 2 threads", one), ("2 ranks x 1 thread", two)):
        print(
            f"{name:24s} step {r['step_seconds']:.3f} s  {r['images_per_second']:.1f} img/s  "
            f"all-reduce {r['allreduce_seconds'] * 1e3:.1f} ms of {r['gradient_mib']:.1f} MiB  "
            f"exposed {r['exposed_comm_seconds_per_step'] * 1e3:.1f} ms/step"
        )
    print(f"speed-up of 2 ranks: {two['images_per_second'] / one['images_per_second']:.2f}x")


if __name__ == "__main__":
    main()
