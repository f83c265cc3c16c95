"""SGD, Adam and AdamW follow PyTorch's parameter trajectories; groups, state dicts and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lucid
from lucid import optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 1, 3)]
N_STEPS = 8
RTOL, ATOL = 1e-5, 1e-6


def _problem(seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray | None]]]:
    """Initial parameters and a gradient per parameter and step (float32)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads: list[list[np.ndarray | None]] = [
        [rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(N_STEPS)
    ]
    # The last parameter has no gradient on odd steps: both libraries must skip it.
    for t in range(1, N_STEPS, 2):
        grads[t][-1] = None
    return init, grads


def _trajectory(
    lib: str,
    name: str,
    kwargs: dict[str, Any],
    groups: Callable[[list[Any]], Any] | None = None,
    seed: int = 0,
) -> list[list[np.ndarray]]:
    """Parameter values after every step of optimizer ``name`` from ``lib`` (torch or lucid)."""
    init, grads = _problem(seed)
    if lib == "torch":
        params = [torch.tensor(a, requires_grad=True) for a in init]
        module, wrap = torch.optim, lambda g: torch.from_numpy(g.copy())
    else:
        params = [lucid.Tensor(a.copy(), requires_grad=True) for a in init]
        module, wrap = optim, lucid.Tensor
    opt = getattr(module, name)(params if groups is None else groups(params), **kwargs)
    out = []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else wrap(g)
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


def _assert_same_trajectory(ours: list[list[np.ndarray]], ref: list[list[np.ndarray]]) -> None:
    for t, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            assert a.dtype == np.float32, f"step {t}, param {i}: dtype {a.dtype}"
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"step {t}, param {i}")


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-6}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.99)}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "maximize": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_trajectory_matches_torch(name: str, kwargs: dict[str, Any]) -> None:
    ours = _trajectory("lucid", name, kwargs)
    _assert_same_trajectory(ours, _trajectory("torch", name, kwargs))


GROUPED = [
    (
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        lambda ps: [{"params": ps[:2], "lr": 0.01}, {"params": ps[2:], "momentum": 0.5}],
    ),
    (
        "Adam",
        {"lr": 0.01},
        lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05, "betas": (0.8, 0.9)}],
    ),
    ("AdamW", {"lr": 0.01}, lambda ps: [{"params": ps[1:]}, {"params": ps[0], "lr": 0.1}]),
]


@pytest.mark.parametrize(("name", "kwargs", "groups"), GROUPED, ids=[g[0] for g in GROUPED])
def test_param_groups_match_torch(name: str, kwargs: dict[str, Any], groups: Callable) -> None:
    ours = _trajectory("lucid", name, kwargs, groups)
    _assert_same_trajectory(ours, _trajectory("torch", name, kwargs, groups))


def test_add_param_group_midway_matches_torch() -> None:
    init, grads = _problem()
    runs = {}
    for lib in ("lucid", "torch"):
        if lib == "torch":
            params = [torch.tensor(a, requires_grad=True) for a in init]
            opt = torch.optim.AdamW(params[:2], lr=0.01)
            wrap = lambda g: torch.from_numpy(g.copy())  # noqa: E731
        else:
            params = [lucid.Tensor(a.copy(), requires_grad=True) for a in init]
            opt = optim.AdamW(params[:2], lr=0.01)
            wrap = lucid.Tensor
        out = []
        for t, step_grads in enumerate(grads):
            if t == 3:
                opt.add_param_group({"params": params[2:], "lr": 0.1, "weight_decay": 0.0})
            for p, g in zip(params, step_grads, strict=True):
                p.grad = None if g is None else wrap(g)
            opt.step()
            out.append([p.detach().numpy().copy() for p in params])
        runs[lib] = out
    _assert_same_trajectory(runs["lucid"], runs["torch"])


# ---------------------------------------------------------------- update ---


def _lucid_params(seed: int = 0, dtype: Any = np.float32) -> list[lucid.Tensor]:
    init, _ = _problem(seed)
    return [lucid.Tensor(a.astype(dtype), dtype=dtype, requires_grad=True) for a in init]


def _set_grads(params: list[lucid.Tensor], step: int = 0, seed: int = 0) -> None:
    _, grads = _problem(seed)
    for p, g in zip(params, grads[step], strict=True):
        p.grad = None if g is None else lucid.Tensor(g.astype(p.dtype), dtype=p.dtype)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_step_updates_data_in_place_without_graph(name: str, kwargs: dict[str, Any]) -> None:
    params = _lucid_params()
    arrays = [p.data for p in params]
    opt = getattr(optim, name)(params, **kwargs)
    _set_grads(params, step=1)  # the last parameter has no gradient at this step
    grads_before = [None if p.grad is None else p.grad.data.copy() for p in params]
    versions = [p._version.value for p in params]
    before = [p.data.copy() for p in params]

    opt.step()

    for i, p in enumerate(params[:-1]):
        assert p.data is arrays[i], "the update must write into the parameter's own array"
        assert p._version.value > versions[i], "an in-place update must bump the version"
        assert not np.array_equal(p.data, before[i])
        assert p.is_leaf and p.requires_grad
        np.testing.assert_array_equal(p.grad.data, grads_before[i])  # gradient untouched
    skipped = params[-1]
    assert skipped._version.value == versions[-1]
    np.testing.assert_array_equal(skipped.data, before[-1])
    assert skipped not in opt.state


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_float32_survives_numpy_float64_hyperparameters(name: str) -> None:
    params = _lucid_params()
    kwargs: dict[str, Any] = {"lr": np.float64(0.01), "weight_decay": np.float64(0.1)}
    if name == "SGD":
        kwargs["momentum"] = np.float64(0.9)
    else:
        kwargs["betas"] = (np.float64(0.9), np.float64(0.99))
        kwargs["eps"] = np.float64(1e-8)
    opt = getattr(optim, name)(params, **kwargs)
    for step in range(3):
        _set_grads(params, step)
        opt.step()
    for p in params:
        assert p.dtype == np.float32
        for key, value in opt.state[p].items():
            if isinstance(value, lucid.Tensor):
                assert value.dtype == np.float32, key


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_float64_parameters_stay_float64(name: str) -> None:
    params = _lucid_params(dtype=np.float64)
    opt = getattr(optim, name)(params, lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    _set_grads(params)
    opt.step()
    assert all(p.dtype == np.float64 for p in params)
    assert all(
        v.dtype == np.float64
        for s in opt.state.values()
        for v in s.values()
        if isinstance(v, lucid.Tensor)
    )


def test_closure_runs_with_grad_enabled_and_its_loss_is_returned() -> None:
    w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure() -> lucid.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lucid.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.8, -1.6], rtol=1e-6)


def test_zero_grad() -> None:
    params = _lucid_params()
    opt = optim.SGD(params, lr=0.1)
    _set_grads(params)
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad
    assert all(not p.grad.data.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_grad_of_the_wrong_shape_is_reported() -> None:
    w = lucid.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    w.grad = lucid.Tensor(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"of shape \(2, 3\), has a gradient of shape \(3,\)"):
        optim.Adam([w]).step()


def test_repr_lists_each_group() -> None:
    opt = optim.SGD([{"params": _lucid_params()[:1]}, {"params": [], "lr": 0.5}], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 1" in text
    assert "    lr: 0.1" in text and "    lr: 0.5" in text


# ------------------------------------------------------------ validation ---


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("SGD", {"lr": -0.1}, "lr must be >= 0, got -0.1"),
        ("SGD", {"lr": float("nan")}, "lr must be >= 0, got nan"),
        ("SGD", {"momentum": -0.5}, "momentum must be >= 0"),
        ("SGD", {"weight_decay": -1e-4}, "weight_decay must be >= 0"),
        ("SGD", {"nesterov": True}, "nesterov=True needs momentum > 0"),
        ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening == 0"),
        ("Adam", {"lr": -1.0}, "lr must be >= 0"),
        ("Adam", {"eps": -1e-8}, "eps must be >= 0"),
        ("Adam", {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\), got 1.0"),
        ("Adam", {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        ("Adam", {"betas": (0.9,)}, "betas must be a pair"),
        ("AdamW", {"weight_decay": -0.01}, "weight_decay must be >= 0"),
    ],
)
def test_invalid_hyperparameters(name: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)(_lucid_params(), **kwargs)


def test_per_group_options_are_validated_too() -> None:
    params = _lucid_params()
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": -1}], lr=0.1)


def test_invalid_params() -> None:
    w = lucid.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="got a single Tensor; pass \\[tensor\\]"):
        optim.SGD(w)
    with pytest.raises(TypeError, match="got a set"):
        optim.SGD({w})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="named_parameters"):
        optim.SGD([("w", w)])
    with pytest.raises(TypeError, match=r"params\[1\] is a <class 'numpy.ndarray'>"):
        optim.SGD([w, np.zeros(2)])
    with pytest.raises(ValueError, match=r"params\[0\] was computed from other tensors"):
        optim.SGD([w * 2])
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([lucid.Tensor([1, 2])])
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w])
    with pytest.raises(ValueError, match="already belongs to parameter group 0"):
        optim.SGD([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        optim.SGD([{"lr": 0.1}])


def test_params_may_be_a_generator_or_a_single_tensor_group() -> None:
    params = _lucid_params()
    assert len(optim.SGD(p for p in params).param_groups[0]["params"]) == len(params)
    opt = optim.SGD([{"params": params[0]}])
    assert opt.param_groups[0]["params"] == [params[0]]


# ----------------------------------------------------------- state dicts ---


def _run_steps(opt: optim.Optimizer, params: list[lucid.Tensor], steps: range) -> None:
    for t in steps:
        _set_grads(params, t)
        opt.step()


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_state_dict_resumes_exactly(name: str, kwargs: dict[str, Any]) -> None:
    params = _lucid_params()
    opt = getattr(optim, name)(params, **kwargs)
    _run_steps(opt, params, range(3))
    saved = opt.state_dict()
    resumed_params = [lucid.Tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = getattr(optim, name)(resumed_params, **kwargs)
    resumed.load_state_dict(saved)

    _run_steps(opt, params, range(3, N_STEPS))
    _run_steps(resumed, resumed_params, range(3, N_STEPS))
    for a, b in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_snapshot_in_torch_layout() -> None:
    params = _lucid_params()
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}], amsgrad=True)
    _run_steps(opt, params, range(2))
    sd = opt.state_dict()
    copy_of_first = sd["state"][0]["exp_avg"].data.copy()
    _run_steps(opt, params, range(2, 4))
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].data, copy_of_first)

    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert set(sd["state"]) == {0, 1, 2}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}

    t_params = [torch.tensor(p.data) for p in _lucid_params()]
    t_opt = torch.optim.Adam(
        [{"params": t_params[:1]}, {"params": t_params[1:], "lr": 0.1}], amsgrad=True
    )
    for p in t_params:
        p.grad = torch.ones_like(p)
    t_opt.step()
    t_sd = t_opt.state_dict()
    assert set(t_sd["state"]) == set(sd["state"])
    assert set(t_sd["state"][0]) == set(sd["state"][0])
    assert [g["params"] for g in t_sd["param_groups"]] == [g["params"] for g in sd["param_groups"]]
    assert set(sd["param_groups"][0]) <= set(t_sd["param_groups"][0])


def test_internal_state_matches_torch() -> None:
    init, grads = _problem()
    ours = [lucid.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = optim.SGD(ours, lr=0.1, momentum=0.9, dampening=0.2)
    t_opt = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, dampening=0.2)
    for step_grads in grads[:3]:
        for p, q, g in zip(ours, theirs, step_grads, strict=True):
            p.grad = None if g is None else lucid.Tensor(g)
            q.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
    sd, t_sd = opt.state_dict(), t_opt.state_dict()
    for i in t_sd["state"]:
        np.testing.assert_allclose(
            sd["state"][i]["momentum_buffer"].numpy(),
            t_sd["state"][i]["momentum_buffer"].numpy(),
            rtol=RTOL,
            atol=ATOL,
        )


def test_load_state_dict_casts_to_the_parameter_dtype_and_copies() -> None:
    params = _lucid_params()
    opt = optim.Adam(params)
    _run_steps(opt, params, range(2))
    sd = opt.state_dict()
    wide = _lucid_params(dtype=np.float64)
    wide_opt = optim.Adam(wide)
    wide_opt.load_state_dict(sd)
    state = wide_opt.state[wide[0]]
    assert state["exp_avg"].dtype == np.float64 and state["step"] == 2
    same = optim.Adam(params)
    same.load_state_dict(sd)
    assert not np.shares_memory(
        same.state[params[0]]["exp_avg"].data, sd["state"][0]["exp_avg"].data
    )


def test_load_state_dict_restores_group_options() -> None:
    params = _lucid_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    opt.param_groups[0]["lr"] = 0.025
    fresh = optim.SGD(params, lr=0.1, momentum=0.9)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 0.025
    assert fresh.param_groups[0]["params"][0] is params[0]


def _trained_sgd(params: list[lucid.Tensor]) -> optim.SGD:
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _run_steps(opt, params, range(2))
    return opt


def test_load_state_dict_errors_leave_the_optimizer_unchanged() -> None:
    params = _lucid_params()
    sd = _trained_sgd(params).state_dict()

    target = optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"1 parameter group\(s\) but this optimizer has 2"):
        target.load_state_dict(sd)

    short = optim.SGD(params[:2], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"group 0 of the state dict has 3 parameter\(s\)"):
        short.load_state_dict(sd)

    others = [lucid.Tensor(np.zeros((7,), np.float32), requires_grad=True) for _ in params]
    wrong_shapes = optim.SGD(others, lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(3, 4\)"):
        wrong_shapes.load_state_dict(sd)

    stray = {"state": {**sd["state"], 9: {}}, "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="parameter index 9"):
        optim.SGD(params, lr=0.5, momentum=0.9).load_state_dict(stray)

    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        optim.SGD(params).load_state_dict({"state": {}})

    bad_option = {"state": {}, "param_groups": [{**sd["param_groups"][0], "lr": -1.0}]}
    target = optim.SGD(params, lr=0.5, momentum=0.9)
    _run_steps(target, params, range(1))
    before = target.state_dict()
    with pytest.raises(ValueError, match="lr must be >= 0"):
        target.load_state_dict(bad_option)
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, entry in before["state"].items():
        np.testing.assert_array_equal(
            after["state"][i]["momentum_buffer"].data, entry["momentum_buffer"].data
        )


# ------------------------------------------------------------ with lucid.nn ---


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.05}), ("AdamW", {"lr": 0.05})],
)
def test_fits_a_linear_model_like_torch(name: str, kwargs: dict[str, Any]) -> None:
    from lucid import nn
    from lucid.nn import functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 2)) + 0.5).astype(np.float32)
    model = nn.Linear(4, 2)
    reference = torch.nn.Linear(4, 2)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(model.weight.numpy().copy()))
        reference.bias.copy_(torch.from_numpy(model.bias.numpy().copy()))
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    t_opt = getattr(torch.optim, name)(reference.parameters(), **kwargs)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(model(lucid.Tensor(x)), lucid.Tensor(y))
        loss.backward()
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.mse_loss(reference(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        t_opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    np.testing.assert_allclose(
        model.weight.numpy(), reference.weight.detach().numpy(), rtol=1e-4, atol=1e-5
    )
