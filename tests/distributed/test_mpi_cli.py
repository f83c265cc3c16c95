"""``lucid train --distributed`` and ``lucid validate --distributed`` under ``mpirun -n 2``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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


# Registers a small pvt_v2_b0 under the tag "test" (served by the test's 127.0.0.1 server
# through LUCID_WEIGHTS_MIRROR) in each rank's process, then runs the CLI.
PREDICT_LAUNCHER = """
import sys
import lucid.models
from lucid.models import _pretrained, get_pretrained_cfg

lucid.models.list_models()
cfg = {**get_pretrained_cfg("pvt_v2_b0.in1k"), "hf_hub_id": "test/pvt_v2_b0", "tag": "test",
       "settings": {"depths": [1, 1, 1, 1]}}
del cfg["sha256"]
_pretrained._CFGS["pvt_v2_b0"]["test"] = cfg
from lucid._cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def small_b0_served(tmp_path, weights_server, lucid_home, monkeypatch):
    """The weights of PREDICT_LAUNCHER's tag, served from 127.0.0.1 through the mirror."""
    import safetensors.numpy

    lucid.manual_seed(0)
    small = lucid.models.create_model("pvt_v2_b0", depths=[1, 1, 1, 1])
    state = {k: v.numpy() for k, v in small.state_dict().items()}
    path = tmp_path / "weights.safetensors"
    safetensors.numpy.save_file(state, str(path))
    weights_server.put("test/pvt_v2_b0/resolve/main/model.safetensors", path.read_bytes())
    monkeypatch.setenv("LUCID_WEIGHTS_MIRROR", weights_server.url)


def test_predict_shares_the_images_and_prints_them_in_order(tmp_path, mpirun, small_b0_served):
    rng = np.random.default_rng(3)
    images = []
    for i in range(5):  # an odd count: the ranks get 3 and 2 images
        images.append(tmp_path / f"img{i}.png")
        pixels = rng.integers(0, 256, (40 + 10 * i, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images[-1])
    launcher = tmp_path / "launch.py"
    launcher.write_text(PREDICT_LAUNCHER)
    command = [sys.executable, str(launcher), "predict", *map(str, images)]
    command += ["--model", "pvt_v2_b0.test", "--top", "3", "--json"]
    alone = subprocess.run(command, capture_output=True, text=True, check=True)
    sharded = mpirun([*command, "--distributed"])
    assert sharded.returncode == 0, sharded.stderr
    expected, got = json.loads(alone.stdout), json.loads(sharded.stdout)  # rank 0 prints alone
    assert [r["image"] for r in got] == [str(p) for p in images]
    assert got == expected


def test_a_failing_command_ends_every_rank(tmp_path, mpirun, small_b0_served):
    # Rank 0 cannot read its image; without aborting, rank 1 would wait forever.
    launcher = tmp_path / "launch.py"
    launcher.write_text(PREDICT_LAUNCHER)
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    result = mpirun(
        [sys.executable, str(launcher), "predict", str(bad), str(good),
         "--model", "pvt_v2_b0.test", "--distributed"],
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "is not an image Pillow can read" in result.stderr
