"""Engine benchmark: lucid against PyTorch (CPU, 2 threads) on the same work, in one run.

Measures a 2048x2048 float32 matmul, a layer-norm-sized elementwise chain on
an (8, 3136, 64) tensor (forward alone and forward + backward), the overhead
of 10,000 tiny ops with and without autograd, a backward into 500 small
leaves (gradient accumulation, which takes a lock), and checks that no graph is
kept under ``lucid.no_grad()``. Prints medians, min-max and lucid/PyTorch
ratios, and writes them to ``benchmarks/results/engine.json``.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (``--quick`` for fewer repeats).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
import tracemalloc
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lucid

RESULTS = Path(__file__).resolve().parent / "results" / "engine.json"
THREADS = 2
SHAPE = (8, 3136, 64)
TINY_OPS = 10_000
LEAVES = 500
SETTLE = 0.5  # seconds of quiet before each measurement


def measure(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Wall-clock seconds of ``fn``: median, min and max over ``repeats`` after ``warmup``.

    Each library runs as a block, after a pause: both keep worker threads
    spinning for a while after parallel work (OpenBLAS for NumPy, OpenMP for
    PyTorch), and on two cores those would slow the other library's run.
    """
    time.sleep(SETTLE)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


# ----------------------------------------------------------------- cases ---


def matmul_case(repeats: int) -> tuple[Callable[[], Any], Callable[[], Any], int]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2048, 2048), dtype=np.float32) for _ in range(2))
    la, lb = lucid.from_numpy(a), lucid.from_numpy(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return (lambda: la @ lb), (lambda: ta @ tb), repeats


def _chain(lib: Any, x: Any, w: Any, b: Any) -> Any:
    """x -> (x - mean) / sqrt(var + eps) * w + b -> gelu -> sum, over the last axis."""
    if lib is torch:
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, correction=0, keepdim=True)
        return torch.nn.functional.gelu((x - mean) / torch.sqrt(var + 1e-5) * w + b).sum()
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, correction=0, keepdims=True)
    return lucid.gelu((x - mean) / lucid.sqrt(var + 1e-5) * w + b).sum()


def _chain_inputs(lib: Any, requires_grad: bool) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal(SHAPE, dtype=np.float32),
        rng.standard_normal(SHAPE[-1], dtype=np.float32),
        rng.standard_normal(SHAPE[-1], dtype=np.float32),
    ]
    if lib is torch:
        return tuple(torch.tensor(a, requires_grad=requires_grad) for a in arrays)
    return tuple(lucid.tensor(a, requires_grad=requires_grad) for a in arrays)


def chain_forward_case(repeats: int):
    lx, lw, lb = _chain_inputs(lucid, False)
    tx, tw, tb = _chain_inputs(torch, False)

    def run_lucid() -> None:
        with lucid.no_grad():
            _chain(lucid, lx, lw, lb)

    def run_torch() -> None:
        with torch.no_grad():
            _chain(torch, tx, tw, tb)

    return run_lucid, run_torch, repeats


def chain_backward_case(repeats: int):
    lucid_inputs = _chain_inputs(lucid, True)
    torch_inputs = _chain_inputs(torch, True)

    def step(lib: Any, inputs: tuple[Any, ...]) -> Callable[[], None]:
        def run() -> None:
            for t in inputs:
                t.grad = None
            _chain(lib, *inputs).backward()

        return run

    return step(lucid, lucid_inputs), step(torch, torch_inputs), repeats


def tiny_ops_case(repeats: int, requires_grad: bool):
    la, lb = lucid.ones(4, requires_grad=requires_grad), lucid.ones(4)
    ta, tb = torch.ones(4, requires_grad=requires_grad), torch.ones(4)

    def loop(a: Any, b: Any) -> Callable[[], None]:
        def run() -> None:
            for _ in range(TINY_OPS):
                a + b

        return run

    return loop(la, lb), loop(ta, tb), repeats


def many_leaves_case(repeats: int):
    """Forward and backward over many small leaves: the cost of accumulating into .grad.

    Every leaf takes the lock that makes accumulation thread-safe once per
    backward; this case shows that cost on the single-threaded path.
    """
    shapes = [(64,)] * LEAVES

    def step(lib: Any) -> Callable[[], None]:
        leaves = [lib.ones(*s, requires_grad=True) for s in shapes]

        def run() -> None:
            for leaf in leaves:
                leaf.grad = None
            lib.stack([leaf.sum() for leaf in leaves]).sum().backward()

        return run

    return step(lucid), step(torch), repeats


def graph_memory_check() -> dict[str, Any]:
    """Bytes still held after the chain's forward, with and without grad mode."""
    x, w, b = _chain_inputs(lucid, True)

    def retained(grad: bool) -> tuple[int, Any]:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        with lucid.set_grad_enabled(grad):
            h = x * 1.0
            probe = weakref.ref(h.data)
            out = _chain(lucid, h, w, b)
            del h
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return held, (out, probe() is not None)

    held_grad, (out_grad, alive_grad) = retained(True)
    held_none, (out_none, alive_none) = retained(False)
    ok = out_none._ctx is None and not out_none.requires_grad and not alive_none
    assert ok, "lucid.no_grad() kept a graph alive"
    assert out_grad._ctx is not None and alive_grad
    return {
        "retained_bytes_with_grad": held_grad,
        "retained_bytes_no_grad": held_none,
        "no_graph_under_no_grad": ok,
    }


# ------------------------------------------------------------------ main ---


def _fmt(seconds: float) -> str:
    if seconds >= 1e-1:
        return f"{seconds * 1e3:7.0f} ms"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:7.2f} ms"
    return f"{seconds * 1e6:7.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test)")
    args = parser.parse_args()
    scale = 0.4 if args.quick else 1.0
    torch.set_num_threads(THREADS)

    cases = {
        "matmul 2048x2048": matmul_case(max(3, int(10 * scale))),
        "layer-norm chain (8, 3136, 64), forward, no_grad": chain_forward_case(
            max(3, int(15 * scale))
        ),
        "layer-norm chain (8, 3136, 64), forward + backward": chain_backward_case(
            max(3, int(15 * scale))
        ),
        f"{TINY_OPS:,} tiny adds (4 elements), no grad": tiny_ops_case(
            max(3, int(7 * scale)), False
        ),
        f"{TINY_OPS:,} tiny adds (4 elements), with grad": tiny_ops_case(
            max(3, int(7 * scale)), True
        ),
        f"backward into {LEAVES} leaves (64 elements), 1 thread": many_leaves_case(
            max(3, int(15 * scale))
        ),
    }

    rows = []
    width = max(len(name) for name in cases)
    header = f"{'case':<{width}}  {'lucid median [min-max]':>32}  {'torch median [min-max]':>32}"
    print(f"lucid {lucid.__version__} / numpy {np.__version__} vs torch {torch.__version__}")
    load = os.getloadavg()
    print(
        f"torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()}, "
        f"load average at start: {load[0]:.2f}\n"
    )
    print(header + "  lucid/torch")
    for name, (run_lucid, run_torch, repeats) in cases.items():
        lucid_t = measure(run_lucid, repeats)
        torch_t = measure(run_torch, repeats)
        ratio = lucid_t["median"] / torch_t["median"]
        rows.append(
            {"case": name, "repeats": repeats, "lucid": lucid_t, "torch": torch_t, "ratio": ratio}
        )
        cells = [
            f"{_fmt(t['median'])} [{_fmt(t['min']).strip()}-{_fmt(t['max']).strip()}]"
            for t in (lucid_t, torch_t)
        ]
        print(f"{name:<{width}}  {cells[0]:>32}  {cells[1]:>32}  {ratio:10.2f}x")

    memory = graph_memory_check()
    print(
        "\nno_grad keeps no graph: "
        f"{memory['no_graph_under_no_grad']} (held after forward: "
        f"{memory['retained_bytes_no_grad'] / 2**20:.1f} MiB under no_grad, "
        f"{memory['retained_bytes_with_grad'] / 2**20:.1f} MiB with grad)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "lucid": lucid.__version__,
                "numpy": np.__version__,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "machine": platform.platform(),
                "load_average_start": load,
                "load_average_end": os.getloadavg(),
                "results": rows,
                "graph_memory": memory,
            },
            indent=2,
        )
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
