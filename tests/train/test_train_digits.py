"""The training guide's example: ``lucid train`` teaches PVT v2-b0 scikit-learn's digits (slow)."""

from __future__ import annotations

import csv
import importlib.util
import json
import shlex
from pathlib import Path

import pytest

import lucid
from lucid._cli import main

ROOT = Path(__file__).resolve().parents[2]

# The options of the guide's (and the README's) command.
COMMAND = shlex.split(
    "--model pvt_v2_b0 --img-size 32 --epochs 3 -b 64 --lr 2e-3 "
    "--warmup-epochs 0.5 --scale 0.8 1 --hflip 0 --color-jitter 0"
)


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_digits_folder", ROOT / "scripts" / "make_digits_folder.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_command_is_the_one_tested():
    for page in ("README.md", "docs/guide/training.rst"):
        text = (ROOT / page).read_text().replace("\\\n", " ")
        assert " ".join(COMMAND) in " ".join(text.split()), page


@pytest.mark.slow
def test_lucid_train_reaches_90_percent_on_the_digits(tmp_path, capsys):
    pytest.importorskip("sklearn")
    data, out = tmp_path / "digits", tmp_path / "run"
    assert _script().main([str(data)]) == 0
    assert len(list((data / "validation").rglob("*.png"))) == 359
    assert main(["train", str(data), *COMMAND, "--output", str(out)]) == 0
    with open(out / "summary.csv") as f:
        top1 = [float(row["eval_top1"]) for row in csv.DictReader(f)]
    assert len(top1) == 3 and max(top1) >= 90.0, f"validation top-1 by epoch: {top1}"
    best = lucid.load(out / "model_best.safetensors")
    assert best["metric"] == max(top1) and best["classes"] == [str(d) for d in range(10)]
    capsys.readouterr()
    assert main(["validate", str(data), "--model", "pvt_v2_b0", "--checkpoint",
                 str(out / "model_best.safetensors")]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["eval_top1"] == pytest.approx(max(top1))
