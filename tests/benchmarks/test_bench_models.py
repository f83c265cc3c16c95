"""benchmarks/bench_models.py compares like with like, and the docs render its results file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from docutils.core import publish_parts

import lucid.models

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load(ROOT / "benchmarks" / "bench_models.py")
extension = load(ROOT / "docs" / "_ext" / "lucid_benchmarks.py")


def test_every_registered_pvt_model_is_benchmarked():
    registered = [*lucid.models.list_models("pvt_v2_*"), "pvt_medium"]
    assert sorted(bench.MODELS) == sorted(registered)


@pytest.mark.parametrize("name", bench.MODELS)
def test_reference_has_the_same_architecture(name):
    """The PyTorch model built from a lucid model's config has its parameter names and shapes."""
    pytest.importorskip("torch")
    model = lucid.models.create_model(name, num_classes=bench.CLASSES, depths=[1, 1, 1, 1])
    kind, settings = bench.torch_settings(model.config)
    reference = getattr(bench.torch_reference(), kind)(init=False, **settings)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: v.shape for k, v in model.state_dict().items()} == want


RESULT = {
    "repeats": 3,
    "command": "benchmarks/bench_models.py",
    "load_average_start": [0.25, 0.3, 0.3],
    "lucid": "0.1.0",
    "lucid_threads": "default",
    "numpy": "2.4.6",
    "torch": "2.13.0",
    "torch_threads": 2,
    "cpus": 2,
    "targets": bench.TARGETS,
    "models": {
        "pvt_v2_b0": {
            "parity": {"logits_max_relative_difference": 8.3e-7, "ok": True},
            "workloads": {
                "infer8": {
                    "lucid": {"median": 0.25, "peak": 300 * 2**20},
                    "torch": {"median": 0.3125, "peak": 500 * 2**20},
                    "ratio": 0.8,
                    "memory_ratio": 0.6,
                },
                "train8": {
                    "lucid": {"median": 1.1, "peak": 600 * 2**20},
                    "torch": {"median": 1.0, "peak": 900 * 2**20},
                    "ratio": 1.1,
                    "memory_ratio": 2 / 3,
                },
            },
        }
    },
}


def render(results: dict) -> str:
    html = publish_parts("\n".join(extension.table_lines(results)), writer="html")["body"]
    assert "System Message" not in html, html
    return html


def test_table_shows_ratios_figures_and_misses():
    html = render(RESULT)
    assert html.count("<tr") == 2  # header and one model
    assert "<strong>0.80x</strong>: 0.250 s / 0.312 s" in html
    assert "<strong>1.10x</strong> (target missed)" in html
    assert "0.67x: 600 / 900 MiB" in html
    assert "8.3e-07" in html and "not run" in html  # the batch-1 forward was not run
    assert "load average 0.25 at the start" in html


def test_committed_results_render():
    results = json.loads((ROOT / "benchmarks" / "models.json").read_text())
    html = render(results)
    assert ("<table" in html) == bool(results["models"])
