"""``lucid train`` / ``lucid validate`` on a tiny ImageFolder: checkpoints, log, resume, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

import lucid
from lucid import nn
from lucid._cli import main
from lucid.models._registry import REGISTRY

TINY = "lucid_test_tiny_cnn"

# The same tiny model, for this process and for the Ctrl-C subprocess.
TINY_SOURCE = f'''
from lucid import nn
from lucid.models import register_model

@register_model(family="tests")
def {TINY}(num_classes: int = 10, img_size: int = 8) -> nn.Module:
    """A convnet small enough to train in a blink."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.1), nn.Linear(4, num_classes),
    )
'''


@pytest.fixture
def tiny_model():
    import lucid.models

    lucid.models.list_models()  # plugins first, so the registration below is not reset
    namespace: dict = {}
    exec(TINY_SOURCE, namespace)
    try:
        yield TINY
    finally:
        REGISTRY._models.pop(TINY, None)


def _folder(root, per_class=(3, 2), classes=("ant", "bee", "cat")):
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "validation"), per_class, strict=True):
        for label, name in enumerate(classes):
            os.makedirs(root / split / name)
            for i in range(count):
                pixels = rng.integers(0, 60, (10, 12, 3)) + 90 * label
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def _train(data, out, *extra):
    argv = ["train", str(data), "--model", TINY, "--img-size", "8", "-b", "4", "-j", "0"]
    return main([*argv, "--output", str(out), *extra])


def _is_plain_safetensors(path):
    """A safetensors file: 8-byte little-endian header length, then a JSON header."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    return isinstance(header, dict)


def test_train_writes_checkpoints_and_log_then_resumes(tiny_model, tmp_path, capsys):
    data, out = _folder(tmp_path / "data"), tmp_path / "out"
    assert _train(data, out, "--epochs", "1") == 0
    assert sorted(os.listdir(out)) == ["last.safetensors", "model_best.safetensors", "summary.csv"]
    for name in ("last.safetensors", "model_best.safetensors"):
        assert _is_plain_safetensors(out / name)
    first = lucid.load(out / "last.safetensors")
    assert (
        first["epoch"] == 1 and first["arch"] == TINY and first["classes"] == ["ant", "bee", "cat"]
    )
    assert first["num_classes"] == 3 and first["img_size"] == 8
    assert set(first) >= {"state_dict", "optimizer", "scheduler", "rng_state", "loader_rng_state"}
    printed = capsys.readouterr()
    assert "epoch 1/1" in printed.out and "img_s" not in printed.err  # no bar off a terminal

    # Resume for a second epoch, with a worker process this time.
    assert (
        _train(data, out, "--epochs", "2", "-j", "1", "--resume", str(out / "last.safetensors"))
        == 0
    )
    assert "resumed" in capsys.readouterr().out
    resumed = lucid.load(out / "last.safetensors")
    assert resumed["epoch"] == 2
    assert resumed["scheduler"]["last_epoch"] == 2 * first["scheduler"]["last_epoch"]
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {
        "epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr", "epoch_time"
    }  # fmt: skip
    assert 0 <= float(rows[1]["eval_top1"]) <= float(rows[1]["eval_top5"]) == 100.0  # top-3 of 3

    # validate reads the training checkpoint and reports what training logged.
    results = tmp_path / "results.json"
    argv = ["validate", str(data), "--model", TINY, "-j", "0", "--results-file", str(results)]
    assert main([*argv, "--checkpoint", str(out / "last.safetensors")]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported == json.loads(results.read_text())
    assert reported["images"] == 6
    assert reported["eval_top1"] == pytest.approx(float(rows[1]["eval_top1"]))

    # A plain weight file works too; the head size then comes from the data.
    weights = tmp_path / "weights.safetensors"
    lucid.save(resumed["state_dict"], weights)
    assert main(["validate", str(data), "--model", TINY, "-j", "0", "--img-size", "8",
                 "--checkpoint", str(weights)]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["eval_loss"] == pytest.approx(reported["eval_loss"])


def test_json_lines_log(tiny_model, tmp_path):
    data, out = _folder(tmp_path / "data"), tmp_path / "out"
    assert _train(data, out, "--epochs", "1", "--log-format", "json", "--clip-grad", "1") == 0
    (line,) = (out / "summary.jsonl").read_text().splitlines()
    assert json.loads(line)["epoch"] == 1


def test_bad_input_is_one_line_and_writes_nothing(tiny_model, tmp_path, capsys):
    data, out = _folder(tmp_path / "data"), tmp_path / "out"
    assert _train(data, out, "--val-split", "val") == 2
    assert "no folder" in capsys.readouterr().err and not out.exists()
    assert _train(data, out, "--epochs", "0") == 2
    assert "--epochs must be positive" in capsys.readouterr().err
    assert _train(data, out, "--num-classes", "2") == 2
    assert "fewer than the 3 classes" in capsys.readouterr().err
    other = tmp_path / "other.safetensors"
    lucid.save({"arch": "resnet50", "optimizer": {}}, other)
    assert _train(data, out, "--resume", str(other)) == 2
    assert "checkpoint of 'resnet50'" in capsys.readouterr().err
    os.rename(data / "validation" / "cat", data / "validation" / "cow")
    assert _train(data, out) == 2
    assert "disagree on the classes" in capsys.readouterr().err


def test_ctrl_c_writes_a_checkpoint_before_exiting(tmp_path):
    data, out = _folder(tmp_path / "data", per_class=(8, 2)), tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(
        TINY_SOURCE
        + textwrap.dedent(
            f"""
            import sys
            from lucid._cli import main
            sys.exit(main(["train", {str(data)!r}, "--model", {TINY!r}, "--img-size", "8",
                           "-b", "2", "-j", "1", "--epochs", "1000", "--output", {str(out)!r}]))
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (out / "last.safetensors").exists():  # one epoch done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted: saved" in stdout
    state = lucid.load(out / "interrupted.safetensors")
    assert state["epoch"] >= 1 and state["arch"] == TINY
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.1), nn.Linear(4, 3),
    )  # fmt: skip
    model.load_state_dict(state["state_dict"])
