"""``lucid train --distributed`` and ``lucid validate --distributed`` under ``mpirun -n 2``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import lucid

# A launcher that registers a tiny model in each rank's process, then runs the CLI.
LAUNCHER = '''
import sys
from lucid import nn
from lucid.models import register_model

@register_model(family="tests")
def lucid_test_mpi_cnn(num_classes: int = 10, img_size: int = 8) -> nn.Module:
    """A convnet small enough to train in a blink."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, num_classes),
    )

from lucid._cli import main
sys.exit(main(sys.argv[1:]))
'''


def _folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 5), ("validation", 3)):
        for label, name in enumerate(("ant", "bee", "cat")):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 60, (10, 12, 3)) + 90 * label
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")


def test_train_and_validate_across_two_ranks(tmp_path, mpirun):
    _folder(tmp_path / "data")
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    common = [sys.executable, str(launcher)]
    out = tmp_path / "out"
    train = mpirun(
        [*common, "train", str(tmp_path / "data"), "--model", "lucid_test_mpi_cnn",
         "--distributed", "--epochs", "2", "-b", "2", "-j", "0", "--output", str(out)],
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    # Rank 0 alone writes the log, the checkpoints and the messages.
    assert train.stdout.count("epoch 1/2:") == 1 and train.stdout.count("epoch 2/2:") == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "last.safetensors",
        "model_best.safetensors",
        "summary.csv",
    ]
    assert len((out / "summary.csv").read_text().splitlines()) == 3  # header + 2 epochs
    state = lucid.load(out / "last.safetensors")
    assert state["epoch"] == 2

    # Validation sums every rank's share: the figures equal a single process's.
    args = [
        "validate", str(tmp_path / "data"), "--model", "lucid_test_mpi_cnn",
        "--checkpoint", str(out / "last.safetensors"), "-b", "2", "-j", "0",
    ]  # fmt: skip
    sharded = mpirun([*common, *args, "--distributed"])
    assert sharded.returncode == 0, sharded.stderr
    alone = subprocess.run([*common, *args], capture_output=True, text=True, check=True)
    got, expected = json.loads(sharded.stdout), json.loads(alone.stdout)
    assert got["images"] == expected["images"] == 9
    for key in ("eval_top1", "eval_top5"):
        assert got[key] == expected[key]
    assert abs(got["eval_loss"] - expected["eval_loss"]) < 1e-6


def test_the_guide_example_script_runs_on_two_ranks(tmp_path, mpirun):
    script = Path(__file__).parents[2] / "examples" / "distributed_train.py"
    weights = tmp_path / "model.safetensors"
    result = mpirun([sys.executable, str(script), str(weights)])
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert [line.split(":")[0] for line in lines] == ["epoch 0", "epoch 1", "epoch 2"]
    losses = [float(line.split()[-1]) for line in lines]
    assert losses[-1] < losses[0]  # it learns
    assert set(lucid.load(weights)) == {"0.weight", "0.bias", "3.weight", "3.bias"}
