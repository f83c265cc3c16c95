"""The allowlisted reader of PyTorch checkpoints: torch.load's tensors, and nothing ever runs."""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import lucid
from lucid.models._torch_pickle import (
    CheckpointError,
    Namespace,
    is_torch_checkpoint,
    load_torch_checkpoint,
    read_state_dict,
)

torch = pytest.importorskip("torch")


class Payload:
    """Unpickling this writes the marker file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path, how: str = "open") -> None:
        self.marker = marker
        self.how = how

    def __reduce__(self):  # type: ignore[no-untyped-def]
        if self.how == "system":
            return (os.system, (f"touch {self.marker}",))
        return (open, (str(self.marker), "w"))


def sample_state() -> OrderedDict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return OrderedDict(
        weight=torch.randn(3, 4, generator=g),
        half=torch.randn(5, generator=g).half(),
        bf16=torch.randn(2, 2, generator=g).bfloat16(),
        double=torch.randn(2, generator=g).double(),
        steps=torch.arange(6).reshape(2, 3),
        mask=torch.tensor([True, False]),
        column=torch.randn(4, 4, generator=g)[:, 1],  # a strided view into a bigger storage
        transposed=torch.randn(2, 3, generator=g).t(),
        param=torch.nn.Parameter(torch.ones(2)),
        scalar=torch.tensor(2.5),
        empty=torch.zeros(0, 3),
    )


def expected(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    return (t.float() if t.is_floating_point() else t).numpy()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_tensors_match_torch_load(tmp_path, zip_format):
    state = sample_state()
    path = tmp_path / "sd.pth"
    torch.save(
        {"model": state, "epoch": 7, "args": argparse.Namespace(lr=0.1, model="pvt_tiny")},
        path,
        _use_new_zipfile_serialization=zip_format,
    )
    assert is_torch_checkpoint(path)
    arrays = read_state_dict(path)
    assert list(arrays) == list(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(arrays[name], expected(tensor), err_msg=name)
        assert arrays[name].dtype == (
            np.float32 if tensor.is_floating_point() else expected(tensor).dtype
        )
    whole = load_torch_checkpoint(path)
    assert whole["epoch"] == 7
    assert isinstance(whole["args"], Namespace)
    assert (whole["args"].lr, whole["args"].model) == (0.1, "pvt_tiny")


def test_module_prefix_and_wrappers_are_removed(tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {"module.w": torch.ones(2)}, "optimizer": {}}, path)
    assert list(read_state_dict(path)) == ["w"]


# ---------------------------------------------------------- adversarial ---


def raw_pickle(obj: object, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("how", ["open", "system"])
def test_raw_pickle_payload_never_runs(tmp_path, protocol, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(raw_pickle({"model": {"w": Payload(marker, how)}}, protocol))
    with pytest.raises(CheckpointError) as info:
        read_state_dict(path)
    assert not marker.exists()
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message
    assert "refusing" in message or "not a PyTorch checkpoint" in message


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize(
    "wrap",
    [
        lambda p: {"w": torch.zeros(2), "evil": p},
        lambda p: {"model": {"w": torch.zeros(2)}, "extra": [{"deep": (p,)}]},
        lambda p: [OrderedDict(w=torch.zeros(1)), {"x": {"y": [p]}}],
    ],
    ids=["top", "nested", "list"],
)
def test_torch_save_payload_never_runs(tmp_path, zip_format, wrap):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save(wrap(Payload(marker)), path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CheckpointError, match=r"refusing to load global (io|builtins)\.open"):
        read_state_dict(path)
    assert not marker.exists()


def test_payload_cannot_reach_the_allowlisted_objects(tmp_path):
    # BUILD on an allowlisted global would change it for every later load.
    path = tmp_path / "build.pth"
    path.write_bytes(b"\x80\x02ctorch\nFloatStorage\n}X\x04\x00\x00\x00codeX\x01\x00\x00\x00Osb.")
    with pytest.raises(CheckpointError):
        load_torch_checkpoint(path)
    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(2)}, good)
    np.testing.assert_array_equal(read_state_dict(good)["w"], [1.0, 1.0])


def test_self_referential_container_does_not_hang(tmp_path):
    looped: dict[str, object] = {}
    looped["model"] = looped
    path = tmp_path / "loop.pth"
    torch.save(looped, path)
    assert path.stat().st_size < 2048
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_state_dict(path)
        except BaseException as e:
            outcome.append(e)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "reading a self-referential checkpoint hangs"
    assert isinstance(outcome[0], CheckpointError)
    assert "refer back to themselves" in str(outcome[0])


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(1200)), "not a PyTorch checkpoint"),
        (lambda p: torch.save({0: torch.zeros(1)}, p), "key of type int"),
        (lambda p: torch.save({"w": torch.zeros(2, dtype=torch.complex64)}, p), "complex"),
        (lambda p: torch.save({"epoch": 3}, p), "without any tensor"),
        (lambda p: torch.save([1, 2], p), "no state dict"),
    ],
    ids=["random-bytes", "int-keys", "complex", "no-tensors", "list"],
)
def test_bad_files_get_one_line_errors(tmp_path, make, pattern):
    path = tmp_path / "bad.pth"
    make(path)
    with pytest.raises(CheckpointError, match=pattern) as info:
        read_state_dict(path)
    assert "\n" not in str(info.value)
    assert "weights_only" not in str(info.value)


def test_truncated_zip_and_legacy_files_are_rejected(tmp_path):
    for zip_format in (True, False):
        path = tmp_path / f"cut{zip_format}.pth"
        torch.save({"w": torch.randn(64)}, path, _use_new_zipfile_serialization=zip_format)
        path.write_bytes(path.read_bytes()[:-100])
        with pytest.raises(CheckpointError):
            read_state_dict(path)


def test_lucid_load_still_refuses_pickle(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save({"w": torch.ones(1)}, path)
    with pytest.raises(ValueError, match="never unpickles"):
        lucid.load(path)


def test_reader_works_where_torch_cannot_be_imported(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save({"model": {"w": torch.arange(3.0)}}, path)
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from lucid.models._torch_pickle import read_state_dict\n"
        f"print(read_state_dict({str(path)!r})['w'].tolist())\n"
        "try:\n"
        "    import torch\n"
        "except ImportError:\n"
        "    print('no torch')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[0.0, 1.0, 2.0]", "no torch"]


def rewrite_entry(path: Path, suffix: str, data: bytes, compress: int = zipfile.ZIP_STORED) -> None:
    """Replace the archive member ending in ``suffix`` by ``data``."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in members:
            if info.filename.endswith(suffix):
                archive.writestr(info.filename, data, compress_type=compress)
            else:
                archive.writestr(info, content)


def test_storage_sizes_come_from_the_archive_not_the_pickle(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save({"w": torch.ones(1000)}, path)
    rewrite_entry(path, "/data/0", b"\x00" * 16)
    with pytest.raises(CheckpointError, match="holds 16 bytes, but the checkpoint declares 1000"):
        read_state_dict(path)
    torch.save({"w": torch.ones(1000)}, path)
    rewrite_entry(path, "/data/0", b"\x00" * 4000, zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="compressed"):
        read_state_dict(path)
