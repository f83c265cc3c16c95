"""PVT-Medium benchmark: lucid against PyTorch (CPU, 2 threads) on the same model and weights.

Both frameworks run ``pvt_medium()`` (41,492,648 parameters, no attention
output projection) with the weights lucid built, copied into the PyTorch
reference implementation of the plugin's tests through the state dict.
Measured, in one run:

- ``parity``: max relative difference of the batch-8 logits (and of the loss
  of the first training step, when ``train8`` runs);
- ``infer1``, ``infer8``: forward at batch 1 and 8, 224x224 float32, under
  ``lucid.no_grad()`` / ``torch.inference_mode()``;
- ``train8``: one training step at batch 8 (forward, cross-entropy,
  backward, AdamW step);
- ``memory``: peak resident set size (VmHWM) of a fresh process that
  imports one framework, builds the model and runs one of the three
  workloads above twice; the resident size before the workload is reported
  too, so the workload's own share can be read off;
- ``startup``: ``import lucid`` + plugin discovery + ``pvt_medium()`` against
  ``import torch`` + building the same model, each in a fresh process.

Times are medians with min-max over several repetitions after warm-up, each
framework's repetitions as one block after a pause (``bench_engine.measure``:
the worker threads each library leaves spinning would slow the other). A
table is printed and the figures are written to ``benchmarks/results/pvt.json``.

Run: ``.venv/bin/python benchmarks/bench_pvt.py`` (``--quick`` for fewer
repeats, ``--cases infer8,train8`` for a selection, ``--profile`` for a
pyinstrument profile of lucid's batch-8 forward).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Only the standard library at module level: the child processes time and
# weigh their own imports, so nothing may be imported for them in advance.

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "pvt.json"
REFERENCE = HERE.parent / "lucid_models_pvt" / "tests" / "pvt_reference.py"
THREADS = 2
SIDE = 224
CLASSES = 1000
DEPTHS = (3, 4, 18, 3)
PARAMETERS = 41_492_648
CASES = ("parity", "infer1", "infer8", "train8", "memory", "startup")
WORKLOADS = ("infer1", "infer8", "train8")
# Ratio lucid / PyTorch that each figure must stay under (issue 9).
TARGETS = {
    "infer1": 1.3,
    "infer8": 1.0,
    "train8": 1.5,
    "memory infer1": 0.9,
    "memory infer8": 0.9,
    "memory train8": 1.3,
    "startup": 0.5,
}
PARITY_TOLERANCE = 1e-4

# ---------------------------------------------------------- the two models ---


def torch_reference() -> Any:
    """The plugin tests' PyTorch PVT module, loaded from its file (the tests are no package)."""
    spec = importlib.util.spec_from_file_location("pvt_reference", REFERENCE)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"the PyTorch reference implementation is missing: {REFERENCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_torch(init: bool) -> Any:
    """PyTorch PVT-Medium in lucid's default layout; ``init=False`` for weights loaded next."""
    return torch_reference().TorchPVT(img_size=SIDE, num_classes=CLASSES, depths=DEPTHS, init=init)


def build_lucid() -> Any:
    import lucid.models

    return lucid.models.pvt_medium(img_size=SIDE, num_classes=CLASSES)


def twins() -> tuple[Any, Any]:
    """lucid's ``pvt_medium()`` and the PyTorch model holding the same weights."""
    import torch

    import lucid

    lucid.manual_seed(0)
    model = build_lucid()
    reference = build_torch(init=False)
    reference.load_state_dict({k: torch.from_numpy(v.data) for k, v in model.state_dict().items()})
    counts = (
        sum(p.data.size for p in model.parameters()),
        sum(p.numel() for p in reference.parameters()),
    )
    assert counts == (PARAMETERS, PARAMETERS), f"parameter counts differ: {counts}"
    return model, reference


def inputs(batch: int, seed: int = 0) -> tuple[Any, Any]:
    """Images and labels as NumPy arrays, the same for both frameworks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, 3, SIDE, SIDE), dtype=np.float32)
    return images, rng.integers(0, CLASSES, batch)


# ------------------------------------------------------------- workloads ---


def lucid_workload(model: Any, name: str, images: Any, labels: Any) -> Callable[[], float | None]:
    """A callable running workload ``name`` once on a lucid model (returns the loss if any)."""
    import lucid
    import lucid.nn.functional as F
    import lucid.optim

    x, y = lucid.from_numpy(images), lucid.from_numpy(labels)
    if name != "train8":
        model.eval()

        def infer() -> None:
            with lucid.no_grad():
                model(x)

        return infer
    model.train()
    optimizer = lucid.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def torch_workload(model: Any, name: str, images: Any, labels: Any) -> Callable[[], float | None]:
    """The same as :func:`lucid_workload` for a PyTorch model."""
    import torch
    import torch.nn.functional as F

    x, y = torch.as_tensor(images), torch.as_tensor(labels)
    if name != "train8":
        model.eval()

        def infer() -> None:
            with torch.inference_mode():
                model(x)

        return infer
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


# ------------------------------------------------------ child processes ---


def _rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_bytes() -> int:
    """Peak resident set size of this process (VmHWM).

    Not ``getrusage(...).ru_maxrss``: Linux carries that figure over from the
    forked parent across ``exec``, so a child started from this (large)
    benchmark process would report the parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child_memory(framework: str, workload: str) -> dict[str, Any]:
    """Peak RSS of this process after running ``workload`` twice on a fresh model."""
    if framework == "torch":
        import torch

        torch.set_num_threads(THREADS)
        torch.manual_seed(0)
        model = build_torch(init=True)
        batch = 1 if workload == "infer1" else 8
        images = torch.randn(batch, 3, SIDE, SIDE)
        labels = torch.randint(0, CLASSES, (batch,))
        run = torch_workload(model, workload, images, labels)
    else:
        model = build_lucid()
        run = lucid_workload(model, workload, *inputs(1 if workload == "infer1" else 8))
    before = _rss_bytes()
    for _ in range(2):
        run()
    return {"rss_before": before, "peak": _peak_bytes()}


def child_startup(framework: str) -> dict[str, Any]:
    """Seconds from the first import to a built PVT-Medium, in this fresh process."""
    start = time.perf_counter()
    if framework == "torch":
        import torch

        torch.set_num_threads(THREADS)
        build_torch(init=True)
    else:
        import lucid  # noqa: F401  (its import time is what is measured)

        build_lucid()
    return {"seconds": time.perf_counter() - start, "peak": _peak_bytes()}


def run_child(*task: str) -> dict[str, Any]:
    """Run ``--child task`` in a fresh interpreter and return what it reports."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", ":".join(task)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"child {':'.join(task)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------- measuring ---


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def relative_error(got: Any, want: Any) -> float:
    import numpy as np

    return float(np.abs(got - want).max() / np.abs(want).max())


def parity(model: Any, reference: Any, images: Any) -> dict[str, Any]:
    import torch

    import lucid

    model.eval()
    reference.eval()
    with lucid.no_grad():
        got = model(lucid.from_numpy(images)).data
    with torch.inference_mode():
        want = reference(torch.from_numpy(images)).numpy()
    error = relative_error(got, want)
    return {"logits_max_relative_difference": error, "ok": error <= PARITY_TOLERANCE}


def time_cases(selected: list[str], quick: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Parity and the in-process timings on one pair of twin models."""
    import torch
    from bench_engine import measure

    torch.set_num_threads(THREADS)
    model, reference = twins()
    extra: dict[str, Any] = {}
    rows = []
    if "parity" in selected:
        extra["parity"] = parity(model, reference, inputs(8)[0])
    repeats = {"infer1": 10, "infer8": 7, "train8": 5}
    for name in ("infer1", "infer8", "train8"):
        if name not in selected:
            continue
        data = inputs(1 if name == "infer1" else 8)
        run_lucid = lucid_workload(model, name, *data)
        run_torch = torch_workload(reference, name, *data)
        if name == "train8":
            # Both start from the same weights: the first losses must agree.
            losses = (run_lucid(), run_torch())
            extra["first_step_loss"] = {"lucid": losses[0], "torch": losses[1]}
        count = max(3, repeats[name] // 2) if quick else repeats[name]
        warmup = 1 if quick else 2
        lucid_t, torch_t = (measure(run, count, warmup) for run in (run_lucid, run_torch))
        rows.append(_row(name, "s", lucid_t, torch_t, count))
    return extra, rows


def memory_cases() -> list[dict[str, Any]]:
    rows = []
    for workload in WORKLOADS:
        found = {fw: run_child("memory", fw, workload) for fw in ("lucid", "torch")}
        row = _row(
            f"memory {workload}",
            "MiB",
            *({"median": found[fw]["peak"] / 2**20} for fw in ("lucid", "torch")),
            1,
        )
        row["rss_before_workload_mib"] = {
            fw: found[fw]["rss_before"] / 2**20 for fw in ("lucid", "torch")
        }
        rows.append(row)
    return rows


def startup_case(quick: bool) -> dict[str, Any]:
    count = 3 if quick else 5
    times: dict[str, list[float]] = {"lucid": [], "torch": []}
    for _ in range(count):
        for fw in times:
            times[fw].append(run_child("startup", fw)["seconds"])
    return _row("startup", "s", _summary(times["lucid"]), _summary(times["torch"]), count)


def _row(name: str, unit: str, lucid_t: dict, torch_t: dict, repeats: int) -> dict[str, Any]:
    ratio = lucid_t["median"] / torch_t["median"]
    target = TARGETS[name]
    return {
        "case": name,
        "unit": unit,
        "repeats": repeats,
        "lucid": lucid_t,
        "torch": torch_t,
        "ratio": ratio,
        "target": target,
        "met": ratio <= target,
    }


# ---------------------------------------------------------------- report ---

LABELS = {
    "infer1": "forward, batch 1, no_grad",
    "infer8": "forward, batch 8, no_grad",
    "train8": "training step, batch 8",
    "memory infer1": "peak RSS, forward batch 1",
    "memory infer8": "peak RSS, forward batch 8",
    "memory train8": "peak RSS, training step batch 8",
    "startup": "start-up: import + discovery + build",
}


def _cell(figures: dict[str, float], unit: str) -> str:
    if unit == "MiB":
        return f"{figures['median']:.0f} MiB"
    text = f"{figures['median']:.3f} s"
    if "min" in figures:
        text += f" [{figures['min']:.3f}-{figures['max']:.3f}]"
    return text


def print_table(rows: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    width = max(len(v) for v in LABELS.values())
    print(
        f"{'case':<{width}}  {'lucid median [min-max]':>26}  {'torch median [min-max]':>26}"
        "  lucid/torch  target"
    )
    for row in rows:
        lucid_cell, torch_cell = (_cell(row[fw], row["unit"]) for fw in ("lucid", "torch"))
        mark = "ok" if row["met"] else "MISSED"
        print(
            f"{LABELS[row['case']]:<{width}}  {lucid_cell:>26}  {torch_cell:>26}"
            f"  {row['ratio']:10.2f}x  <= {row['target']:.1f} {mark}"
        )
        if "rss_before_workload_mib" in row:
            before = row["rss_before_workload_mib"]
            print(
                f"{'  (RSS before the workload)':<{width}}  {before['lucid']:>22.0f} MiB"
                f"  {before['torch']:>22.0f} MiB"
            )
    if "parity" in extra:
        p = extra["parity"]
        verdict = "ok" if p["ok"] else "MISSED"
        print(
            f"\nlogits parity (batch 8): max relative difference "
            f"{p['logits_max_relative_difference']:.2e} (<= {PARITY_TOLERANCE:.0e} {verdict})"
        )
    if "first_step_loss" in extra:
        loss = extra["first_step_loss"]
        print(f"first training-step loss: lucid {loss['lucid']:.6f}, torch {loss['torch']:.6f}")


def environment() -> dict[str, Any]:
    import numpy as np
    import torch

    import lucid

    return {
        "lucid": lucid.__version__,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "lucid_disable_numba": os.environ.get("LUCID_DISABLE_NUMBA", ""),
    }


def profile() -> None:
    """Print a pyinstrument profile of lucid's batch-8 forward (after one warm-up)."""
    from pyinstrument import Profiler

    import lucid

    model = build_lucid().eval()
    x = lucid.from_numpy(inputs(8)[0])
    with lucid.no_grad():
        model(x)
        profiler = Profiler(interval=0.001)
        profiler.start()
        model(x)
        profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test)")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated selection of {', '.join(CASES)} (default: all)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile lucid's batch-8 forward and exit"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *task = args.child.split(":")
        report = child_memory(*task) if kind == "memory" else child_startup(*task)
        print(json.dumps(report))
        return
    if args.profile:
        profile()
        return
    selected = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(selected) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")

    env = environment()
    load = os.getloadavg()
    print(
        f"lucid {env['lucid']} / numpy {env['numpy']} vs torch {env['torch']}, "
        f"{THREADS} threads, {env['cpus']} CPUs, load average at start {load[0]:.2f}\n"
    )
    extra: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    if {"parity", *WORKLOADS} & set(selected):
        extra, rows = time_cases(selected, args.quick)
    if "memory" in selected:
        rows += memory_cases()
    if "startup" in selected:
        rows.append(startup_case(args.quick))
    print_table(rows, extra)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                **env,
                "load_average_start": load,
                "load_average_end": os.getloadavg(),
                "quick": args.quick,
                "results": rows,
                **extra,
            },
            indent=2,
        )
    )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
