"""Resuming from a checkpoint in a fresh process matches an uninterrupted run bit for bit.

The run trains a small model with dropout, AdamW and a warm-up + cosine
schedule, drawing its data from its own ``lucid.Generator``. Run as a script
(``python test_resume.py MODE CKPT OUT``) it is the process that saves at step
``SAVE_AT`` and stops, or the fresh one that resumes from there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import lucid
from lucid import nn
from lucid.optim import lr_scheduler

N_STEPS = 8
SAVE_AT = 3


def run(mode: str, ckpt: Path, restore_rng: bool = True) -> dict[str, Any]:
    """Train to ``N_STEPS`` ("full"), stop at ``SAVE_AT`` ("first") or resume ("resume")."""
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = lucid.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=2)
    decay = lr_scheduler.CosineAnnealingLR(opt, T_max=N_STEPS - 2)
    sched = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
    data = lucid.Generator().manual_seed(1)
    start, losses = 0, []
    if mode == "resume":
        state = lucid.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        data.set_state(state["data_rng"])
        if restore_rng:
            lucid.set_rng_state(state["rng"])
        start, losses = state["step"], state["losses"]
    for step in range(start, N_STEPS):
        if mode == "first" and step == SAVE_AT:
            lucid.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": lucid.get_rng_state(),
                    "data_rng": data.get_state(),
                    "step": step,
                    "losses": losses,
                },
                ckpt,
            )
            return {}
        x = lucid.randn(8, 4, generator=data)
        target = lucid.randn(8, 3, generator=data)
        loss = ((model(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "lr": sched.get_last_lr(),
        "rng": lucid.get_rng_state(),
        "losses": losses,
    }


def _bits(value: Any) -> Any:
    """``value`` with every tensor replaced by its dtype, shape and bytes, for exact comparison."""
    if isinstance(value, lucid.Tensor):
        return (str(value.dtype), value.shape, value.numpy().tobytes())
    if isinstance(value, dict):
        return {k: _bits(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_bits(v) for v in value)
    return value


def test_resuming_in_a_fresh_process_is_bit_exact(tmp_path: Path) -> None:
    ckpt, out = tmp_path / "step3.safetensors", tmp_path / "resumed.safetensors"
    for mode in ("first", "resume"):
        subprocess.run(
            [sys.executable, __file__, mode, str(ckpt), str(out)], check=True, timeout=120
        )
    resumed = lucid.load(out)
    uninterrupted = run("full", ckpt)
    assert len(resumed["losses"]) == N_STEPS
    assert _bits(resumed) == _bits(uninterrupted)

    # Without the random state the dropout masks differ: the test can tell.
    careless = run("resume", ckpt, restore_rng=False)
    assert careless["losses"][:SAVE_AT] == uninterrupted["losses"][:SAVE_AT]
    assert careless["losses"][SAVE_AT:] != uninterrupted["losses"][SAVE_AT:]
    assert not np.array_equal(
        careless["model"]["0.weight"].numpy(), uninterrupted["model"]["0.weight"].numpy()
    )


if __name__ == "__main__":
    mode, ckpt_path, out_path = sys.argv[1:]
    result = run(mode, Path(ckpt_path))
    if result:
        lucid.save(result, out_path)
