"""Every registered PVT model: lucid against a PyTorch implementation with the same weights.

For each model (PVT v2 b0-b5 and b2_li, and PVT-Medium of v1), three
workloads, each in a fresh process per library (so that its peak resident
memory is its own):

- ``infer1``, ``infer8``: forward at batch 1 and 8, 224x224 float32, under
  ``lucid.no_grad()`` / ``torch.inference_mode()``;
- ``train8``: one training step at batch 8: forward, cross-entropy,
  backward, ``AdamW.step()``.

The parent builds the lucid model once and writes its weights to a
safetensors file; each child builds its library's model, loads those
weights (one tensor at a time, into the model's storage), runs the
workload after warm-up and reports wall-clock times (median, min, max), the
peak resident set size of the process (VmHWM: interpreter, model and
workload) and the resident size before the workload. The PyTorch model
is the plugin tests' reference implementation
(``lucid_models_pvt/tests/pvt_reference.py``) on 2 threads; lucid runs with
its default thread setting unless ``--threads`` is given. The batch-8 forward
children also write their logits: they must agree to 1e-4 relative (the
largest difference over the largest logit), and the first training step's
losses are reported side by side.

Each library's child runs after a pause, one after the other, lucid first.
The load average at the start and the end is printed and recorded.

Run (the figures of a quiet machine go to ``benchmarks/models.json``, which
the documentation's performance page renders)::

    .venv/bin/python benchmarks/bench_models.py
    .venv/bin/python benchmarks/bench_models.py --models pvt_v2_b0 --quick   # a smoke test

``--quick`` (one timed repetition after one warm-up) and ``--models`` (a
subset) write to ``benchmarks/results/models.json`` instead, which git
ignores, unless ``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Only the standard library at module level: the children weigh their own imports.

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "lucid_models_pvt" / "tests" / "pvt_reference.py"
RECORDED = HERE / "models.json"
SCRATCH = HERE / "results" / "models.json"
MODELS = (
    "pvt_v2_b0",
    "pvt_v2_b1",
    "pvt_v2_b2",
    "pvt_v2_b2_li",
    "pvt_v2_b3",
    "pvt_v2_b4",
    "pvt_v2_b5",
    "pvt_medium",
)
WORKLOADS = ("infer1", "infer8", "train8")
BATCH = {"infer1": 1, "infer8": 8, "train8": 8}
TORCH_THREADS = 2
SIDE = 224
CLASSES = 1000
REPEATS = 3
PAUSE = 1.0  # seconds between two children: spinning threads of the last one settle
PARITY_TOLERANCE = 1e-4
# lucid / PyTorch ratios to stay under (issue 14): time per workload, then peak memory.
TARGETS = {"infer1": 1.0, "infer8": 0.9, "train8": 1.0, "memory": 0.8}

# ---------------------------------------------------------------- models ---


def torch_reference() -> Any:
    """The plugin tests' PyTorch PVT module, loaded from its file (the tests are no package)."""
    spec = importlib.util.spec_from_file_location("pvt_reference", REFERENCE)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"the PyTorch reference implementation is missing: {REFERENCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_settings(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The reference class and its arguments for a lucid model's ``config``."""
    # Integers where the reference needs them: lucid's config writes sr_ratios as 8.0.
    integers = ("embed_dims", "depths", "num_heads", "sr_ratios")
    stages = {k: tuple(int(v) for v in config[k]) for k in integers}
    stages["mlp_ratios"] = tuple(config["mlp_ratios"])
    if "linear" in config:  # PVT v2
        return "TorchPVTv2", {**stages, "num_classes": CLASSES, "linear": config["linear"]}
    return "TorchPVT", {
        **stages,
        "img_size": config["img_size"],
        "num_classes": CLASSES,
        "attn_proj": config["attn_proj"],
    }


def build(spec: dict[str, Any]) -> Any:
    """The model ``spec`` names, in its framework, with the weights of its safetensors file.

    The weights are copied in one tensor at a time, straight into the
    model's own storage: loading a whole state dict would hold the weights
    twice for a moment, in either library, and that moment would be the
    peak of an inference workload. A PyTorch child builds its model from
    the settings the parent found in the lucid model's ``config``: it never
    imports lucid, whose memory would count in PyTorch's peak.
    """
    from safetensors import safe_open

    if spec["framework"] == "lucid":
        import lucid.models

        model = lucid.models.create_model(spec["name"], num_classes=CLASSES)
        targets = {k: v.data for k, v in model.state_dict().items()}
    else:
        kind, settings = spec["reference"]
        model = getattr(torch_reference(), kind)(init=False, **settings)
        targets = {k: v.numpy() for k, v in model.state_dict().items()}
    with safe_open(spec["weights"], framework="np") as f:
        keys = set(f.keys())
        if keys != set(targets):
            raise RuntimeError(
                f"{spec['name']}: the {spec['framework']} model and the weights differ in "
                f"{sorted(keys ^ set(targets))}"
            )
        for key in keys:
            targets[key][...] = f.get_tensor(key)
    return model


def inputs(batch: int) -> tuple[Any, Any]:
    """Images and labels as NumPy arrays, the same in every child."""
    import numpy as np

    rng = np.random.default_rng(batch)
    images = rng.standard_normal((batch, 3, SIDE, SIDE), dtype=np.float32)
    return images, rng.integers(0, CLASSES, batch)


# --------------------------------------------------------------- children ---


def _status(field: str) -> int:
    """A size from /proc/self/status in bytes (VmHWM: peak, VmRSS: now).

    Not ``getrusage(...).ru_maxrss``: Linux carries that over from the
    forking parent across ``exec``.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def workload(framework: str, model: Any, name: str) -> tuple[Any, Any]:
    """A callable running workload ``name`` once, and one returning its first output."""
    images, labels = inputs(BATCH[name])
    if framework == "torch":
        import torch
        import torch.nn.functional as F

        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        grad_off: Any = torch.inference_mode
        optimizer: Any = torch.optim.AdamW(model.parameters(), lr=1e-4)
        to_numpy = lambda t: t.detach().numpy()  # noqa: E731
    else:
        import lucid
        import lucid.nn.functional as F
        import lucid.optim

        x, y = lucid.from_numpy(images), lucid.from_numpy(labels)
        grad_off = lucid.no_grad
        optimizer = lucid.optim.AdamW(model.parameters(), lr=1e-4)
        to_numpy = lambda t: t.numpy()  # noqa: E731
    if name == "train8":
        model.train()

        def step() -> Any:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return float(loss.item())

        return step, step
    model.eval()

    def forward() -> Any:
        with grad_off():
            return model(x)

    return forward, lambda: to_numpy(forward())


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one workload of one model in this fresh process and report times and memory."""
    framework, name, task = spec["framework"], spec["name"], spec["task"]
    if framework == "torch":
        import torch

        torch.set_num_threads(TORCH_THREADS)
        torch.manual_seed(0)
    else:
        import lucid

        if spec["threads"]:
            lucid.set_num_threads(spec["threads"])
    model = build(spec)
    run, first = workload(framework, model, task)
    gc.collect()
    report: dict[str, Any] = {"rss_before": _status("VmRSS")}
    result = first()  # also the warm-up
    if task == "train8":
        report["first_loss"] = result
    elif task == "infer8":
        import numpy as np

        path = Path(spec["weights"]).with_name(f"logits-{framework}-{name}.npy")
        np.save(path, result)
        report["logits"] = str(path)
    times = []
    for _ in range(1 if spec["quick"] else REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    report.update(median=statistics.median(times), min=min(times), max=max(times))
    report["peak"] = _status("VmHWM")
    if framework == "lucid":
        import lucid

        report["threads"] = lucid.get_num_threads()
    return report


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``child(spec)`` in a fresh interpreter, after a pause, and return its report."""
    time.sleep(PAUSE)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"child {spec} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------- measuring ---


def measure_model(name: str, quick: bool, threads: int, scratch: Path) -> dict[str, Any]:
    """All workloads of one model in both libraries, with parity and ratios."""
    import numpy as np

    import lucid
    import lucid.models

    lucid.manual_seed(0)
    model = lucid.models.create_model(name, num_classes=CLASSES)
    weights = scratch / f"{name}.safetensors"
    lucid.save(model.state_dict(), weights)
    parameters = sum(p.numel() for p in model.parameters())
    spec = {
        "name": name,
        "weights": str(weights),
        "quick": quick,
        "threads": threads,
        "reference": torch_settings(model.config),
    }
    del model
    entry: dict[str, Any] = {"parameters": parameters, "workloads": {}}
    for task in WORKLOADS:
        found = {
            fw: run_child({**spec, "framework": fw, "task": task}) for fw in ("lucid", "torch")
        }
        row = {fw: found[fw] for fw in found}
        row["ratio"] = found["lucid"]["median"] / found["torch"]["median"]
        row["memory_ratio"] = found["lucid"]["peak"] / found["torch"]["peak"]
        entry["workloads"][task] = row
        if task == "infer8":
            got, want = (np.load(found[fw].pop("logits")) for fw in ("lucid", "torch"))
            error = float(np.abs(got - want).max() / np.abs(want).max())
            entry["parity"] = {
                "logits_max_relative_difference": error,
                "ok": error <= PARITY_TOLERANCE,
            }
        if task == "train8":
            entry["first_step_loss"] = {fw: found[fw].pop("first_loss") for fw in found}
        print_row(name, task, row)
    if "parity" in entry:
        p = entry["parity"]
        verdict = "ok" if p["ok"] else "MISSED"
        print(
            f"{name}: logits max relative difference "
            f"{p['logits_max_relative_difference']:.2e} ({verdict})"
        )
    return entry


def print_row(name: str, task: str, row: dict[str, Any]) -> None:
    lucid_r, torch_r = row["lucid"], row["torch"]
    time_mark = "ok" if row["ratio"] <= TARGETS[task] else "MISSED"
    memory_mark = "ok" if row["memory_ratio"] <= TARGETS["memory"] else "MISSED"
    print(
        f"{name:<13} {task:<7} lucid {lucid_r['median']:7.3f} s "
        f"[{lucid_r['min']:.3f}-{lucid_r['max']:.3f}]  torch {torch_r['median']:7.3f} s "
        f"[{torch_r['min']:.3f}-{torch_r['max']:.3f}]  {row['ratio']:5.2f}x "
        f"(<= {TARGETS[task]} {time_mark})  peak RSS {lucid_r['peak'] / 2**20:6.0f} / "
        f"{torch_r['peak'] / 2**20:6.0f} MiB {row['memory_ratio']:4.2f}x "
        f"(<= {TARGETS['memory']} {memory_mark})",
        flush=True,
    )


def environment(threads: int) -> dict[str, Any]:
    import numpy as np
    import torch

    import lucid

    return {
        "lucid": lucid.__version__,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": TORCH_THREADS,
        "lucid_threads": threads or "default",
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "lucid_disable_numba": os.environ.get("LUCID_DISABLE_NUMBA", ""),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed repetition (a smoke test)")
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma-separated selection of {', '.join(MODELS)} (default: all)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="lucid.set_num_threads(N) in lucid's children (default: lucid's own default)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"results file (default: {RECORDED.relative_to(HERE.parent)} for a full run, "
        f"else {SCRATCH.relative_to(HERE.parent)})",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    selected = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(selected) - set(MODELS))
    if unknown or not selected:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    if args.threads < 0:
        parser.error(f"--threads must be positive, got {args.threads}")
    full = not args.quick and selected == list(MODELS)
    output = args.output or (RECORDED if full else SCRATCH)

    env = environment(args.threads)
    load = os.getloadavg()
    print(
        f"lucid {env['lucid']} (threads: {env['lucid_threads']}) / numpy {env['numpy']} vs "
        f"torch {env['torch']} ({TORCH_THREADS} threads), {env['cpus']} CPUs, "
        f"load average at start {load[0]:.2f}",
        flush=True,
    )
    models: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lucid-bench-") as scratch:
        for name in selected:
            models[name] = measure_model(name, args.quick, args.threads, Path(scratch))
    end = os.getloadavg()
    print(f"load average at end {end[0]:.2f}")
    results = {
        **env,
        "command": shlex.join(["benchmarks/bench_models.py", *sys.argv[1:]]),
        "load_average_start": load,
        "load_average_end": end,
        "quick": args.quick,
        "repeats": 1 if args.quick else REPEATS,
        "targets": TARGETS,
        "parity_tolerance": PARITY_TOLERANCE,
        "models": models,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: the docs never read a half-written file.
    partial = output.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(partial, output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
