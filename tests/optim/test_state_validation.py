"""Optimizer and scheduler state that cannot corrupt: every bad input is named, nothing changes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lucid
from lucid import optim
from lucid.optim import lr_scheduler


def _params() -> list[lucid.Tensor]:
    rng = np.random.default_rng(0)
    return [
        lucid.Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        for shape in ((3, 2), (2,), (4,))
    ]


def _step(opt: optim.Optimizer, params: list[lucid.Tensor], seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = lucid.Tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt.step()


def _snapshot(opt: optim.Optimizer) -> Any:
    """Everything about an optimizer that a failed call must leave alone, as plain values."""
    groups = [
        {k: (v if k != "params" else [id(p) for p in v]) for k, v in g.items()}
        for g in opt.param_groups
    ]
    state = {
        id(p): {k: v.numpy().tobytes() if isinstance(v, lucid.Tensor) else v for k, v in s.items()}
        for p, s in opt.state.items()
    }
    params = [p.numpy().tobytes() for g in opt.param_groups for p in g["params"]]
    return copy.deepcopy((groups, state, params))


def _trained_adam(amsgrad: bool = False) -> tuple[optim.Adam, list[lucid.Tensor]]:
    params = _params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], amsgrad=amsgrad)
    _step(opt, params)
    _step(opt, params, seed=2)
    return opt, params


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def edit(sd: dict) -> None:
        target = sd
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return edit


_DELETE = object()
LAST = 2  # the last parameter's index: an optimizer that loads in order would have changed 0, 1


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (_set(("state", LAST, "exp_avg"), _DELETE), ValueError, r"parameter 2 lacks \['exp_avg'\]"),
        (_set(("state", LAST, "step"), None), TypeError, "'step' of parameter 2 must be an int"),
        (_set(("state", LAST, "step"), "3"), TypeError, "got '3' \\(str\\)"),
        (_set(("state", LAST, "step"), -1), ValueError, "'step' of parameter 2 must be >= 0"),
        (_set(("state", LAST, "step"), lucid.Tensor(2.5)), TypeError, "got 2.5"),
        (_set(("state", LAST, "exp_avg"), lambda t: t.tolist()), TypeError,
         "'exp_avg' of parameter 2 must be a Tensor, got list"),
        (_set(("state", LAST, "exp_avg"), lambda t: lucid.Tensor(t.numpy().astype(np.int64))),
         TypeError, "has dtype int64; it must be floating"),
        (_set(("state", LAST, "exp_avg"), lucid.Tensor(np.zeros(3, np.float32))), ValueError,
         r"has shape \(3,\) but the parameter has shape \(4,\)"),
        (_set(("state", LAST, "exp_avg_sq"), lambda t: -t), ValueError,
         "'exp_avg_sq' of parameter 2 holds negative or NaN values"),
        (_set(("state", LAST, "exp_avg_sq"), lucid.Tensor(np.full(4, np.nan, np.float32))),
         ValueError, "negative or NaN"),
        (_set(("state", LAST, "momentum_buffer"), lucid.Tensor(np.zeros(4, np.float32))),
         ValueError, r"entries \['momentum_buffer'\], which Adam does not keep"),
        (_set(("state", LAST), [1, 2]), TypeError, "state of parameter 2 must be a dict, got list"),
        (_set(("state", 7), {}), ValueError, "parameter index 7, which none"),
        (_set(("state",), []), TypeError, "'state' must be a dict"),
        (_set(("param_groups",), lambda g: g[:1]), ValueError, r"1 parameter group\(s\)"),
        (_set(("param_groups",), lambda g: {0: g[0]}), TypeError, "'param_groups' must be a list"),
        (_set(("param_groups", 1, "params"), _DELETE), ValueError, "dict with a 'params' list"),
        (_set(("param_groups", 1, "params"), [2, 3]), ValueError, r"group 1 .* has 2 parameter"),
        (_set(("param_groups", 1, "params"), ["2"]), TypeError, "expected a list of int indices"),
        (_set(("param_groups", 1, "params"), [1]), ValueError, "index twice"),
        (_set(("param_groups", 1, "lr"), "0.1"), TypeError,
         r"param_groups\[1\] of the state dict: lr must be a real number, got '0.1'"),
        (_set(("param_groups", 1, "lr"), -0.1), ValueError, "lr must be >= 0"),
        (_set(("param_groups", 1, "amsgrad"), "yes"), TypeError, "amsgrad must be True or False"),
        (_set(("param_groups", 1, "betas"), (0.9,)), ValueError, "betas must be a pair"),
        (_set(("param_groups", 1, "betas"), "ab"), TypeError, "betas must be a tuple"),
        (_set(("param_groups", 1, "amsgrad"), True), ValueError, r"lacks \['max_exp_avg_sq'\]"),
        (_set(("extra",), 1), ValueError, r"keys 'state' and 'param_groups', got keys \["),
    ],
    ids=["no-exp_avg", "step-None", "step-str", "step-negative", "step-fraction", "moment-list",
         "moment-int64", "moment-shape", "negative-sq", "nan-sq", "unknown-entry", "entry-list",
         "stray-index", "state-list", "group-count", "groups-dict", "no-params", "param-count",
         "str-index", "duplicate-index", "lr-str", "lr-negative", "amsgrad-str", "betas-single",
         "betas-str", "amsgrad-no-max", "extra-key"],
)  # fmt: skip
def test_bad_adam_state_is_named_and_changes_nothing(
    edit: Callable[[dict], None], error: type[Exception], match: str
) -> None:
    source, _ = _trained_adam()
    sd = source.state_dict()
    edit(sd)
    target, params = _trained_adam()
    _step(target, params, seed=3)
    before = _snapshot(target)
    with pytest.raises(error, match=match) as info:
        target.load_state_dict(sd)
    assert "\n" not in str(info.value)
    assert _snapshot(target) == before


@pytest.mark.parametrize(
    ("state_dict", "match"),
    [([], "got list"), ({"state": {}}, "keys 'state' and 'param_groups'")],
)
def test_what_is_no_optimizer_state_is_refused(state_dict: Any, match: str) -> None:
    opt, _ = _trained_adam()
    before = _snapshot(opt)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(state_dict)
    assert _snapshot(opt) == before


def test_sgd_state_is_checked_too() -> None:
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _step(opt, params)
    sd = opt.state_dict()
    sd["state"][2]["momentum_buffer"] = np.zeros(4, np.int32)
    before = _snapshot(opt)
    with pytest.raises(TypeError, match="'momentum_buffer' of parameter 2 has dtype int32"):
        opt.load_state_dict(sd)
    assert _snapshot(opt) == before


def test_a_pytorch_style_step_tensor_is_converted() -> None:
    source, _ = _trained_adam()
    sd = source.state_dict()
    for entry in sd["state"].values():
        entry["step"] = lucid.Tensor(float(entry["step"]))  # PyTorch: a 0-d float32 tensor
    target, _ = _trained_adam()
    target.load_state_dict(sd)
    assert [s["step"] for s in target.state.values()] == [2, 2, 2]
    assert all(type(s["step"]) is int for s in target.state.values())


def test_state_from_torch_adam_continues_like_torch() -> None:
    torch = pytest.importorskip("torch")
    init = [p.numpy().copy() for p in _params()]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    t_opt = torch.optim.Adam(theirs, lr=0.05)
    rng = np.random.default_rng(5)
    grads = [[rng.standard_normal(a.shape).astype(np.float32) for a in init] for _ in range(4)]
    for step_grads in grads[:2]:
        for q, g in zip(theirs, step_grads, strict=True):
            q.grad = torch.from_numpy(g.copy())
        t_opt.step()
    t_sd = t_opt.state_dict()
    sd = {
        "state": {
            i: {k: lucid.Tensor(v.numpy()) for k, v in entry.items()}
            for i, entry in t_sd["state"].items()
        },
        "param_groups": t_sd["param_groups"],
    }
    ours = [lucid.Tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt = optim.Adam(ours, lr=0.05)
    opt.load_state_dict(sd)
    for step_grads in grads[2:]:
        for p, q, g in zip(ours, theirs, step_grads, strict=True):
            p.grad, q.grad = lucid.Tensor(g), torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------ step() ---


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.1),
], ids=["SGD", "Adam", "AdamW-groups"])  # fmt: skip
@pytest.mark.parametrize(
    ("bad_grad", "error", "match"),
    [
        (lucid.Tensor(np.zeros(3, np.float32)), ValueError,
         r"param_groups\[\d\]\['params'\]\[\d\], a parameter of shape \(4,\), has a gradient "
         r"of shape \(3,\)"),
        (lucid.Tensor(np.zeros(4, np.int64)), TypeError, "has a gradient of dtype int64"),
    ],
    ids=["shape", "dtype"],
)  # fmt: skip
def test_step_checks_every_gradient_before_changing_anything(
    make: Callable, bad_grad: lucid.Tensor, error: type[Exception], match: str
) -> None:
    params = _params()
    opt = make(params)
    _step(opt, params)
    for p in params:
        p.grad = lucid.Tensor(np.ones(p.shape, np.float32))
    params[-1].grad = bad_grad
    before = _snapshot(opt)
    with pytest.raises(error, match=match):
        opt.step()
    assert _snapshot(opt) == before
    params[-1].grad = lucid.Tensor(np.ones(4, np.float32))
    opt.step()
    assert _snapshot(opt) != before


def test_a_float64_gradient_updates_a_float32_parameter_in_float32() -> None:
    w = lucid.Tensor(np.ones(2, np.float32), requires_grad=True)
    w.grad = lucid.Tensor(np.ones(2, np.float64), dtype=np.float64)
    optim.SGD([w], lr=0.5).step()
    assert w.dtype == np.float32 and w.tolist() == [0.5, 0.5]


# ---------------------------------------------------------- schedulers ---


def _sequential() -> tuple[optim.SGD, lr_scheduler.SequentialLR]:
    w = lucid.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    sched = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
    for _ in range(3):
        opt.step()
        sched.step()
    return opt, sched


def _scheduler_snapshot(sched: lr_scheduler.LRScheduler) -> Any:
    children = getattr(sched, "_schedulers", [])
    return copy.deepcopy(
        [sched.state_dict(), [c.state_dict() for c in children], sched.optimizer.param_groups]
    )


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (_set(("optimizer",), None), ValueError, r"key\(s\) \['optimizer'\], which a SequentialLR"),
        (_set(("_schedulers", 1, "optimizer"), None), ValueError,
         r"_schedulers\[1\]: .*\['optimizer'\], which a CosineAnnealingLR does not own"),
        (_set(("_schedulers", 1, "T_max"), "4"), TypeError,
         r"_schedulers\[1\]: the scheduler state's 'T_max' is '4'"),
        (_set(("_schedulers", 1, "base_lrs"), [1.0, 2.0]), TypeError, r"'base_lrs' is \[1.0, 2"),
        (_set(("_schedulers", 1, "last_epoch"), 2.0), TypeError, "'last_epoch' is 2.0"),
        (_set(("_schedulers", 1, "eta_min"), _DELETE), ValueError, r"lacks \['eta_min'\]"),
        (_set(("_schedulers", 1), [1]), TypeError, "expected a scheduler state dict, got list"),
        (_set(("_schedulers",), lambda s: s[:1]), ValueError, "holds 1 schedulers but"),
        (_set(("_schedulers",), _DELETE), ValueError, "with '_schedulers'"),
        (_set(("_milestones",), [2, 3]), TypeError, "'_milestones' is \\[2, 3\\]"),
    ],
    ids=["optimizer-key", "child-optimizer-key", "child-type", "child-length", "epoch-float",
         "child-missing", "child-not-dict", "child-count", "no-children", "milestones"],
)  # fmt: skip
def test_bad_scheduler_state_is_named_and_changes_nothing(
    edit: Callable[[dict], None], error: type[Exception], match: str
) -> None:
    _, source = _sequential()
    sd = source.state_dict()
    edit(sd)
    opt, target = _sequential()
    target.step()
    before = _scheduler_snapshot(target)
    with pytest.raises(error, match=match):
        target.load_state_dict(sd)
    assert _scheduler_snapshot(target) == before
    assert target.optimizer is opt
    assert all(child.optimizer is opt for child in target._schedulers)


def test_a_scheduler_state_with_an_optimizer_key_never_detaches_it() -> None:
    w = lucid.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    other = optim.SGD([lucid.Tensor([2.0], requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="does not own"):
        sched.load_state_dict({**sched.state_dict(), "optimizer": other})
    sched.step()
    assert sched.optimizer is opt and opt.param_groups[0]["lr"] == 0.5


def test_a_good_sequential_state_loads_into_every_child() -> None:
    _, source = _sequential()
    _, target = _sequential()
    target.step()
    target.step()
    target.load_state_dict(source.state_dict())
    assert target.state_dict() == source.state_dict()


def test_errors_show_a_tensor_on_one_short_line() -> None:
    opt, _ = _trained_adam()
    sd = opt.state_dict()
    sd["state"][0]["step"] = lucid.randn(30, 30)
    with pytest.raises(TypeError, match=r"must be an int \(or a 0-d tensor holding one\)") as info:
        opt.load_state_dict(sd)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200
