"""``lucid.save`` / ``lucid.load``: safetensors round trips, interop, and the refusal of pickles."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import lucid

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SHAPES = [(), (0,), (5,), (2, 3, 4)]


def _array(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return np.asarray(rng.standard_normal(shape) * 100, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_keeps_dtype_shape_and_bits(tmp_path: Path, dtype: str, shape: tuple) -> None:
    arr = _array(dtype, shape)
    path = tmp_path / "w.safetensors"
    lucid.save({"t": lucid.Tensor._from_array(arr), "np": arr}, path)
    loaded = lucid.load(path)
    assert set(loaded) == {"t", "np"}
    for value in loaded.values():
        assert isinstance(value, lucid.Tensor)
        assert value.dtype == arr.dtype and value.shape == arr.shape
        assert value.numpy().tobytes() == arr.tobytes()
        assert not value.requires_grad


def test_non_contiguous_and_big_endian_arrays_are_stored_by_value(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    views = {
        "transposed": base.T,
        "strided": base[::2, 1::2],
        "permuted": lucid.Tensor(base.reshape(2, 3, 4)).permute(2, 0, 1),
        "big_endian": np.arange(5, dtype=">f8"),
    }
    path = tmp_path / "views.safetensors"
    lucid.save(views, path)
    loaded = lucid.load(path)
    for name, view in views.items():
        np.testing.assert_array_equal(loaded[name].numpy(), np.asarray(view), err_msg=name)
    assert loaded["big_endian"].dtype == np.float64


def test_loaded_tensors_are_writable_and_independent_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    lucid.save({"w": lucid.Tensor([1.0, 2.0])}, path)
    first = lucid.load(path)["w"]
    first.data[0] = 42.0
    assert lucid.load(path)["w"].tolist() == [1.0, 2.0]


def test_metadata_is_written_to_the_header(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    lucid.save({"w": lucid.Tensor([1.0])}, path, metadata={"arch": "pvt_medium"})
    with safetensors.safe_open(path, framework="np") as f:
        assert f.metadata() == {"arch": "pvt_medium"}


def test_save_overwrites_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    lucid.save({"w": lucid.Tensor([1.0])}, str(path))
    lucid.save({"w": lucid.Tensor([2.0, 3.0])}, str(path))
    assert lucid.load(path)["w"].tolist() == [2.0, 3.0]
    assert os.listdir(tmp_path) == ["w.safetensors"]
    with pytest.raises(TypeError, match="dtype"):
        lucid.save({"w": np.array(["text"])}, path)
    assert os.listdir(tmp_path) == ["w.safetensors"]
    assert lucid.load(path)["w"].tolist() == [2.0, 3.0]


def test_npz_archives_load_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, w=np.arange(3, dtype=np.float32), n=np.int64(7))
    loaded = lucid.load(path)
    assert loaded["w"].tolist() == [0.0, 1.0, 2.0] and loaded["n"].item() == 7
    objects = tmp_path / "objects.npz"
    np.savez(objects, o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="without pickle"):
        lucid.load(objects)


# ----------------------------------------------------- torch interop ---


def test_files_interoperate_with_safetensors_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    ours = tmp_path / "ours.safetensors"
    lucid.save({"w": lucid.Tensor([[1.5, -2.0]]), "i": lucid.Tensor([3, 4])}, ours)
    read_by_torch = load_file(ours)
    assert read_by_torch["w"].dtype == torch.float32 and read_by_torch["w"].tolist() == [
        [1.5, -2.0]
    ]
    assert read_by_torch["i"].dtype == torch.int64

    theirs = tmp_path / "theirs.safetensors"
    bf16 = torch.tensor([1.0, -0.5, 3.140625, 1e30], dtype=torch.bfloat16)
    save_file({"half": torch.ones(2, dtype=torch.float16), "bf16": bf16}, theirs)
    loaded = lucid.load(theirs)
    assert loaded["half"].dtype == np.float16
    assert loaded["bf16"].dtype == np.float32
    np.testing.assert_array_equal(loaded["bf16"].numpy(), bf16.float().numpy())


# ------------------------------------------------------------- refusals ---

CONVERT_HINT = "safetensors.torch import save_file"


class _Tripwire:
    """Unpickling this creates a marker file: proof that a loader ran code from a file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (self.marker,))


def test_torch_checkpoints_are_refused_with_conversion_instructions(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    marker = tmp_path / "code-ran"
    state = {"weight": torch.ones(2, 2), "trap": _Tripwire(str(marker))}
    for name, legacy in (("model.pth", False), ("legacy.pt", True)):
        path = tmp_path / name
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        with pytest.raises(ValueError, match="never unpickles") as info:
            lucid.load(path)
        message = str(info.value)
        assert str(path) in message and CONVERT_HINT in message
        assert "lucid_models_pvt.convert" in message
    assert not marker.exists()


def test_plain_pickle_files_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "weights.bin"
    path.write_bytes(pickle.dumps({"w": _Tripwire(str(marker))}))
    with pytest.raises(ValueError, match=r"is a pickle file; lucid never unpickles"):
        lucid.load(path)
    assert not marker.exists()


def test_protocol_0_pickle_with_a_checkpoint_name_gets_the_hint(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    path.write_bytes(pickle.dumps({"w": [1.0]}, protocol=0))
    with pytest.raises(ValueError, match="not a safetensors file") as info:
        lucid.load(path)
    assert CONVERT_HINT in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"abc",
        os.urandom(256),
        (20).to_bytes(8, "little") + b"not json at all!!!!!",
        (2).to_bytes(8, "little") + b"[]",
        (11).to_bytes(8, "little") + b'{"w": "x"} ',
    ],
    ids=["empty", "short", "random", "bad-json", "json-list", "bad-entry"],
)
def test_garbage_with_a_safetensors_name_is_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a safetensors file") as info:
        lucid.load(path)
    assert str(path) in str(info.value)


def test_dtypes_lucid_cannot_hold_are_reported(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    path = tmp_path / "fp8.safetensors"
    save_file({"w": torch.zeros(3).to(torch.float8_e4m3fn)}, path)
    with pytest.raises(ValueError, match="stores 'w' as F8_E4M3, a dtype lucid cannot hold"):
        lucid.load(path)


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    lucid.save({"w": lucid.Tensor(np.zeros((64, 64), np.float32))}, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated") as info:
        lucid.load(path)
    assert str(path) in str(info.value)


def test_other_zip_archives_are_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"not a NumPy \.npz"):
        lucid.load(path)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(ValueError, match="damaged zip"):
        lucid.load(broken)


def test_missing_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        lucid.load(missing)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        lucid.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        lucid.save({"w": lucid.Tensor([1.0])}, tmp_path / "no-dir" / "w.safetensors")
    with pytest.raises(IsADirectoryError, match="it is a directory; name a file in it"):
        lucid.save({"w": lucid.Tensor([1.0])}, tmp_path)
    assert os.listdir(tmp_path) == []


def test_save_rejects_what_it_cannot_store(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"

    class Model:
        def state_dict(self) -> dict:
            return {}

    with pytest.raises(TypeError, match=r"a Model; .*call \.state_dict\(\) on it"):
        lucid.save(Model(), path)
    with pytest.raises(TypeError, match=r"key 1\.5 .* keys must be str or int"):
        lucid.save({1.5: lucid.Tensor([1.0])}, path)
    with pytest.raises(TypeError, match="cannot save 'w': a set"):
        lucid.save({"w": {1.0, 2.0}}, path)
    with pytest.raises(TypeError, match="metadata keys and values must be strings"):
        lucid.save({"w": lucid.Tensor([1.0])}, path, metadata={"epoch": 3})
    assert not path.exists()


# ------------------------------------------------------- with lucid.nn ---


def test_module_state_dict_round_trips_bitwise(tmp_path: Path) -> None:
    from lucid import nn

    def make() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 5 * 5, 6),
            nn.LayerNorm(6),
        )

    model = make()
    model.train()
    model(lucid.Tensor(np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)))
    state = model.state_dict()
    path = tmp_path / "model.safetensors"
    lucid.save(state, path)

    other = make()  # initialised differently: the generator has moved on
    other.load_state_dict(lucid.load(path))
    restored = other.state_dict()
    assert list(restored) == list(state)
    for name, value in state.items():
        assert restored[name].dtype == value.dtype, name
        assert restored[name].numpy().tobytes() == value.numpy().tobytes(), name
