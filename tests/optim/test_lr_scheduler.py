"""Learning-rate schedulers produce PyTorch's learning rates step by step; state and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import lucid
from lucid import optim
from lucid.optim import lr_scheduler

torch = pytest.importorskip("torch")

N_STEPS = 30
LRS = (0.1, 0.03)


def _optimizer(lib: str) -> Any:
    """An SGD optimizer with two groups of different learning rates."""
    if lib == "torch":
        a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
        opt_cls = torch.optim.SGD
    else:
        a, b = lucid.Tensor([0.0, 0.0], requires_grad=True), lucid.Tensor([0.0], requires_grad=True)
        opt_cls = optim.SGD
    return opt_cls([{"params": [a]}, {"params": [b], "lr": LRS[1]}], lr=LRS[0], momentum=0.9)


def _schedule(lib: str, make: Callable[[Any, Any], Any], steps: int = N_STEPS) -> list[list[float]]:
    """The learning rates of both groups before each of ``steps`` epochs."""
    opt = _optimizer(lib)
    module = torch.optim.lr_scheduler if lib == "torch" else lr_scheduler
    sched = make(module, opt)
    seen = []
    for _ in range(steps):
        lrs = sched.get_last_lr()
        assert lrs == [g["lr"] for g in opt.param_groups]
        seen.append(lrs)
        opt.step()
        sched.step()
    return seen


SCHEDULES: dict[str, Callable[[Any, Any], Any]] = {
    "step": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "step-1": lambda m, o: m.StepLR(o, step_size=1, gamma=0.9),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=N_STEPS),
    "cosine-eta-min": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=1e-3),
    "cosine-restart": lambda m, o: m.CosineAnnealingLR(o, T_max=7),
    "linear-warmup": lambda m, o: m.LinearLR(o, start_factor=0.01, total_iters=10),
    "linear-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20),
    "linear-defaults": lambda m, o: m.LinearLR(o),
    "warmup-cosine": lambda m, o: m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=25)],
        milestones=[5],
    ),
    "three-stages": lambda m, o: m.SequentialLR(
        o,
        [
            m.LinearLR(o, start_factor=0.5, total_iters=3),
            m.StepLR(o, step_size=3, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=10, eta_min=1e-4),
        ],
        milestones=[4, 12],
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name: str) -> None:
    ours = _schedule("lucid", SCHEDULES[name])
    theirs = _schedule("torch", SCHEDULES[name])
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), f"epoch {t}"


@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dict_resumes_the_schedule(name: str) -> None:
    uninterrupted = _schedule("lucid", SCHEDULES[name])

    opt = _optimizer("lucid")
    sched = SCHEDULES[name](lr_scheduler, opt)
    for _ in range(10):
        opt.step()
        sched.step()
    opt_state, sched_state = opt.state_dict(), sched.state_dict()

    new_opt = _optimizer("lucid")
    new_sched = SCHEDULES[name](lr_scheduler, new_opt)
    new_opt.load_state_dict(opt_state)
    new_sched.load_state_dict(sched_state)
    resumed = []
    for _ in range(10, N_STEPS):
        resumed.append(new_sched.get_last_lr())
        new_opt.step()
        new_sched.step()
    assert resumed == uninterrupted[10:]


def test_scheduler_sets_initial_lr_and_base_lrs() -> None:
    opt = _optimizer("lucid")
    sched = lr_scheduler.StepLR(opt, step_size=2)
    assert sched.base_lrs == list(LRS)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.last_epoch == 0


def test_resuming_with_last_epoch_matches_torch() -> None:
    runs = []
    for lib in ("lucid", "torch"):
        opt = _optimizer(lib)
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
        module = torch.optim.lr_scheduler if lib == "torch" else lr_scheduler
        sched = module.CosineAnnealingLR(opt, T_max=10, last_epoch=3)
        lrs = [sched.get_last_lr()]
        for _ in range(5):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        runs.append(lrs)
    for a, b in zip(*runs, strict=True):
        assert a == pytest.approx(b, rel=1e-12)


def test_state_dict_is_a_copy() -> None:
    opt = _optimizer("lucid")
    sched = lr_scheduler.StepLR(opt, step_size=1)
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 0
    sched.step()
    assert state["last_epoch"] == 0 and state["_last_lr"] == list(LRS)


# ------------------------------------------------------------ validation ---


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be a positive"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be"),
        (
            lambda o: lr_scheduler.LinearLR(o, start_factor=0.0),
            ValueError,
            r"start_factor .* \(0, 1\]",
        ),
        (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
        (lambda o: lr_scheduler.LinearLR(o, total_iters=0), ValueError, "total_iters"),
        (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=4), ValueError, "needs 'initial_lr'"),
        (lambda o: lr_scheduler.StepLR("sgd", 2), TypeError, "needs a lucid.optim.Optimizer"),
        (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
        (
            lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]),
            ValueError,
            "one milestone fewer than schedulers",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(
                o, [lr_scheduler.StepLR(_optimizer("lucid"), 2)], []
            ),
            ValueError,
            "schedules another optimizer",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(
                o, [lr_scheduler.StepLR(o, 2)] * 3, milestones=[5, 2]
            ),
            ValueError,
            "milestones must be increasing",
        ),
    ],
)
def test_invalid_arguments(make: Callable, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make(_optimizer("lucid"))


def test_load_state_dict_rejects_other_dicts() -> None:
    sched = lr_scheduler.StepLR(_optimizer("lucid"), step_size=2)
    with pytest.raises(ValueError, match=r"key\(s\) \['lr'\], which a StepLR does not own"):
        sched.load_state_dict({"lr": 0.1})
