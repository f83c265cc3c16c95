"""Nested checkpoints: exact round trips, plain files, atomic writes, hostile structures."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import lucid
from lucid import _serialization


def _assert_same(loaded: Any, saved: Any, where: str = "root") -> None:
    """Equal values of the same Python types, arrays as tensors with the same dtype and bits."""
    if isinstance(saved, np.generic):  # NumPy scalars come back as Python numbers
        saved = saved.item()
    if isinstance(saved, (lucid.Tensor, np.ndarray)):
        arr = saved.data if isinstance(saved, lucid.Tensor) else saved
        assert isinstance(loaded, lucid.Tensor), where
        assert loaded.dtype == arr.dtype and loaded.shape == arr.shape, where
        assert loaded.numpy().tobytes() == np.ascontiguousarray(arr).tobytes(), where
        return
    expected_type = dict if isinstance(saved, dict) else type(saved)
    assert type(loaded) is expected_type, f"{where}: {type(loaded)} != {expected_type}"
    if isinstance(saved, dict):
        assert list(loaded) == list(saved), where
        for key in saved:
            _assert_same(loaded[key], saved[key], f"{where}[{key!r}]")
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(loaded, saved, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(saved, float) and math.isnan(saved):
        assert math.isnan(loaded), where
    elif isinstance(saved, float):
        assert loaded == saved and math.copysign(1, loaded) == math.copysign(1, saved), where
    else:
        assert loaded == saved, where


def _everything() -> dict[str, Any]:
    return {
        "model": {"0.weight": lucid.randn(3, 2), "0.bias": lucid.Tensor([1, 2], dtype="int64")},
        "by_index": {0: lucid.Tensor(True), 7: "seven", -3: None},
        "numbers": [0, -1, 2**70, 1.5, -0.0, 5e-324, math.inf, -math.inf, math.nan],
        "flags": (True, False, np.bool_(True)),
        "numpy_numbers": [np.float32(0.1), np.int8(-3), np.float64(-0.0)],
        "nested": [(), [], {}, ([{"deep": (np.float16(2.5),)}],)],
        "array": np.arange(6, dtype=np.uint8).reshape(2, 3)[:, ::2],
        "text": 'héllo "quoted" \\ {not json}',
        "none": None,
    }


def test_nested_checkpoint_round_trips_exactly(tmp_path: Path) -> None:
    saved = _everything()
    path = tmp_path / "ckpt.safetensors"
    lucid.save(saved, path)
    _assert_same(lucid.load(path), saved)


def test_optimizer_and_scheduler_state_round_trip_exactly(tmp_path: Path) -> None:
    w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    b = lucid.Tensor([0.5], requires_grad=True)
    opt = lucid.optim.AdamW([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1, amsgrad=True)
    sched = lucid.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    for _ in range(3):
        opt.zero_grad()
        ((w * w).sum() + (b * 3).sum()).backward()
        opt.step()
        sched.step()
    saved = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": 3}
    path = tmp_path / "ckpt.safetensors"
    lucid.save(saved, path)
    loaded = lucid.load(path)
    _assert_same(loaded, saved)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)

    fresh = lucid.optim.AdamW([{"params": [w]}, {"params": [b]}], lr=0.1, amsgrad=True)
    fresh.load_state_dict(loaded["optimizer"])
    _assert_same(fresh.state_dict(), opt.state_dict())


def test_numpy_hyperparameters_survive_a_round_trip_into_the_optimizer(tmp_path: Path) -> None:
    w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    opt = lucid.optim.SGD([w], lr=np.float64(0.1), momentum=np.float32(0.9))
    sched = lucid.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=np.float64(0.5))
    w.grad = lucid.Tensor([1.0, 1.0])
    opt.step()
    sched.step()
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
    loaded = lucid.load(path)
    assert type(loaded["optimizer"]["param_groups"][0]["lr"]) is float
    fresh = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
    fresh_sched = lucid.optim.lr_scheduler.StepLR(fresh, step_size=1, gamma=0.5)
    fresh.load_state_dict(loaded["optimizer"])
    fresh_sched.load_state_dict(loaded["scheduler"])
    assert fresh_sched.get_last_lr() == sched.get_last_lr()


def test_flat_state_dicts_stay_plain_safetensors_files(tmp_path: Path) -> None:
    state = {"w": lucid.Tensor([[1.0, 2.0]]), "n": np.array(3)}
    path = tmp_path / "flat.safetensors"
    lucid.save(state, path, metadata={"arch": "mlp"})
    with safetensors.safe_open(path, framework="np") as f:
        assert f.metadata() == {"arch": "mlp"}
        assert sorted(f.keys()) == ["n", "w"]
    # safetensors keeps its entries sorted by name; a flat dict comes back in that order.
    _assert_same(lucid.load(path), dict(sorted(state.items())))


def test_nested_files_are_readable_by_any_safetensors_reader(tmp_path: Path) -> None:
    w = lucid.Tensor([1.0, 2.0])
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"model": {"w": w}, "opt": {"state": {0: {"exp_avg": w}}}, "step": 4}, path)
    arrays = safetensors.numpy.load_file(path)
    assert sorted(arrays) == ["model.w", "opt.state.0.exp_avg"]
    np.testing.assert_array_equal(arrays["model.w"], w.numpy())
    with safetensors.safe_open(path, framework="np") as f:
        structure = json.loads(f.metadata()["lucid.structure"])
    assert structure["version"] == 1


def test_entry_names_that_clash_get_a_suffix(tmp_path: Path) -> None:
    saved = {"a.b": lucid.Tensor([1.0]), "a": {"b": lucid.Tensor([2.0])}, "x": 1}
    path = tmp_path / "ckpt.safetensors"
    lucid.save(saved, path)
    assert sorted(safetensors.numpy.load_file(path)) == ["a.b", "a.b#1"]
    _assert_same(lucid.load(path), saved)


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike"])
def test_paths_may_be_str_bytes_or_path_like(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "w.safetensors"
    path = {"str": str(target), "bytes": os.fsencode(target), "pathlike": target}[kind]
    lucid.save({"w": lucid.Tensor([1.0]), "step": 2}, path)
    assert lucid.load(path)["step"] == 2


# ------------------------------------------------------ refusals on save ---


def _deep(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _self_containing() -> list:
    value: list = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("obj", "kwargs", "error", "match"),
    [
        ({"__metadata__": lucid.Tensor([1.0])}, {}, ValueError, "'__metadata__' is reserved"),
        ({"w": lucid.Tensor([1.0])}, {"metadata": {"lucid.structure": ""}}, ValueError, "reserv"),
        ({"w": lucid.Tensor([1.0])}, {"metadata": {"epoch": 3}}, TypeError, "must be strings"),
        ({"a": {"b": [1, object()]}}, {}, TypeError, "cannot save 'a.b.1': a object"),
        ({"a": {(1, 2): 3}}, {}, TypeError, r"key \(1, 2\) \(tuple\) in 'a'"),
        ({"a": {True: 3}}, {}, TypeError, "key True"),
        ({"a": [np.array(["text"])]}, {}, TypeError, "entry 'a.0' has dtype <U4"),
        ({"a": _deep(65)}, {}, ValueError, "deeper than 64 levels"),
        ({"a": _self_containing()}, {}, ValueError, "does a container hold itself"),
    ],
    ids=["reserved-name", "reserved-meta", "meta-type", "object", "tuple-key", "bool-key",
         "str-array", "too-deep", "cycle"],
)  # fmt: skip
def test_save_refuses_before_writing(
    tmp_path: Path, obj: Any, kwargs: dict, error: type[Exception], match: str
) -> None:
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"good": lucid.Tensor([1.0, 2.0])}, path)
    before = path.read_bytes()
    with pytest.raises(error, match=match):
        lucid.save(obj, path, **kwargs)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_the_deepest_allowed_structure_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "deep.safetensors"
    lucid.save({"a": _deep(63)}, path)
    _assert_same(lucid.load(path), {"a": _deep(63)})


def test_save_refuses_too_many_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_serialization, "MAX_NODES", 10)
    with pytest.raises(ValueError, match="more than 10 values; store long series as arrays"):
        lucid.save({"losses": list(range(10))}, tmp_path / "w.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fail_at", ["save_file", "fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"model": {"w": lucid.Tensor([1.0])}, "step": 1}, path)
    before = path.read_bytes()

    def crash(*args: Any, **kwargs: Any) -> None:
        if fail_at == "save_file":  # a partial file exists when the crash comes
            Path(args[1]).write_bytes(b"partial")
        raise KeyboardInterrupt

    target = {
        "save_file": (safetensors.numpy, "save_file"),
        "fsync": (os, "fsync"),
        "replace": (os, "replace"),
    }[fail_at]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(KeyboardInterrupt):
        lucid.save({"model": {"w": lucid.Tensor([2.0])}, "step": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_saved_data_is_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    lucid.save({"w": lucid.Tensor([1.0])}, tmp_path / "w.safetensors")
    assert events[:2] == ["fsync", "replace"]


# ---------------------------------------------------- hostile structures ---


def _write_structure(path: Path, structure: Any, tensors: dict | None = None) -> None:
    text = structure if isinstance(structure, str) else json.dumps(structure)
    safetensors.numpy.save_file(tensors or {}, str(path), metadata={"lucid.structure": text})


T = {"w": np.zeros(2, np.float32)}


def _nested_lists(levels: int) -> dict:
    """The structure JSON of ``levels`` lists, one inside the other."""
    node: dict = {"list": []}
    for _ in range(levels - 1):
        node = {"list": [node]}
    return node


@pytest.mark.parametrize(
    ("structure", "tensors", "match"),
    [
        ("[" * 10_000 + "]" * 10_000, None, "deeper than 64 levels"),
        ({"version": 1, "root": {"list": [_deep(70)]}}, None, "no value lucid saves"),
        ({"version": 1, "root": _nested_lists(65)}, None, "deeper than 64"),
        ('{"version": 1, "root": NaN}', None, "not JSON"),
        ({"version": 2, "root": 1}, None, "version 2, and this lucid reads version 1"),
        ({"root": 1}, None, "lacks 'version' and 'root'"),
        ({"version": 1, "root": {"tensor": "missing"}}, T, "'missing' is missing"),
        ({"version": 1, "root": {"list": [{"tensor": "w"}, {"tensor": "w"}]}}, T, "used twice"),
        ({"version": 1, "root": 3}, T, r"tensors \['w'\] are in no place"),
        ({"version": 1, "root": {"set": [1]}}, None, "no value lucid saves"),
        ({"version": 1, "root": {"float": "1e999"}}, None, "no value lucid saves"),
        ({"version": 1, "root": {"dict": [[True, 1]]}}, None, "key True is not"),
        ({"version": 1, "root": {"dict": [["a", 1], ["a", 2]]}}, None, "key 'a' is not a new"),
        ({"version": 1, "root": {"dict": [["a"]]}}, None, "not a \\[key, value\\] pair"),
    ],
    ids=["json-depth", "list-in-json", "container-depth", "nan-token", "version", "no-root",
         "missing-tensor", "tensor-twice", "unused-tensor", "unknown-tag", "bad-float",
         "bool-key", "duplicate-key", "bad-pair"],
)  # fmt: skip
def test_malformed_structures_are_reported(
    tmp_path: Path, structure: Any, tensors: dict | None, match: str
) -> None:
    path = tmp_path / "bad.safetensors"
    _write_structure(path, structure, tensors)
    with pytest.raises(ValueError, match=match) as info:
        lucid.load(path)
    message = str(info.value)
    assert "\n" not in message and "malformed lucid checkpoint structure" in message


def test_structure_size_is_bounded_when_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.safetensors"
    lucid.save({"losses": list(range(20))}, path)
    monkeypatch.setattr(_serialization, "MAX_NODES", 10)
    with pytest.raises(ValueError, match="more than 10 values"):
        lucid.load(path)


def test_a_file_name_at_the_length_limit_can_be_saved(tmp_path: Path) -> None:
    path = tmp_path / ("w" * 243 + ".safetensors")  # 255 bytes, the usual NAME_MAX
    lucid.save({"w": lucid.Tensor([1.0])}, path)
    assert lucid.load(path)["w"].tolist() == [1.0]
    assert os.listdir(tmp_path) == [path.name]


def test_load_takes_pytorchs_map_location_and_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    lucid.save({"w": lucid.Tensor([1.0])}, path)
    for location in (None, "cpu"):
        assert lucid.load(path, map_location=location, weights_only=True)["w"].tolist() == [1.0]
    with pytest.raises(ValueError, match="CPU only; got map_location='cuda:0'"):
        lucid.load(path, map_location="cuda:0")
    with pytest.raises(ValueError, match="never unpickles files, so weights_only must be True"):
        lucid.load(path, weights_only=False)


def test_saved_files_get_the_permissions_open_would_give(tmp_path):
    # safetensors alone creates 0o600 files; a checkpoint is as readable as any file the
    # user writes, and overwriting keeps the permissions the old file had.
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.safetensors"
        lucid.save({"w": lucid.ones(2), "step": 1}, fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        fresh.chmod(0o640)
        lucid.save({"w": lucid.zeros(2), "step": 2}, fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    finally:
        os.umask(old)
