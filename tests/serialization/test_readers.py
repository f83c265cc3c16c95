"""Malformed and unusual files: each is one clear error of the documented type, nothing loaded."""

from __future__ import annotations

import json
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lucid
import lucid.models


def _safetensors_bytes(header: object) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode()
    return len(raw).to_bytes(8, "little") + raw


def _one_line(error: pytest.ExceptionInfo, path: Path | str) -> str:
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_header_nested_1000_levels_is_refused_without_recursing(tmp_path: Path) -> None:
    path = tmp_path / "deep.safetensors"
    path.write_bytes(_safetensors_bytes('{"w": ' + "[" * 1000 + "]" * 1000 + "}"))
    with pytest.raises(ValueError, match="nests deeper than 8 levels") as info:
        lucid.load(path)
    _one_line(info, path)
    with pytest.raises(ValueError, match="nests deeper than 8 levels"):
        lucid.models.create_model("pvt_tiny", num_classes=10, checkpoint_path=path)


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    path = tmp_path / "names.safetensors"
    lucid.save({"[[[[[[[[[[": lucid.Tensor([1.0]), '"{{{{{{{{{{\\': lucid.Tensor([2.0])}, path)
    assert sorted(lucid.load(path)) == ['"{{{{{{{{{{\\', "[[[[[[[[[["]


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}, "dtype \\['F32'\\], not a"),
        ({"dtype": {"a": 1}, "shape": [1], "data_offsets": [0, 4]}, "not a string"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "shape \\[-1\\]"),
        ({"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}, "shape '1'"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [0]}, "data_offsets \\[0\\]"),
        ({"dtype": "F32", "shape": [1]}, "lacks dtype, shape or data_offsets"),
    ],
    ids=["list-dtype", "dict-dtype", "negative-dim", "str-shape", "one-offset", "no-offsets"],
)
def test_malformed_header_entries_are_named(tmp_path: Path, entry: dict, match: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(_safetensors_bytes({"w": entry}) + b"\0" * 4)
    with pytest.raises(ValueError, match=match) as info:
        lucid.load(path)
    assert "not a safetensors file" in _one_line(info, path)


def test_a_header_larger_than_safetensors_allows_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write((200_000_000).to_bytes(8, "little"))
        f.truncate(200_000_100)  # sparse: no disk used
    with pytest.raises(ValueError, match="200,000,000-byte safetensors header") as info:
        lucid.load(path)
    _one_line(info, path)


def test_a_bytes_path_to_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    lucid.save({"w": lucid.Tensor([1.0, 2.0])}, path)
    assert lucid.load(os.fsencode(path))["w"].tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match=r"expected a file path .* got int"):
        lucid.load(3)  # type: ignore[arg-type]


def _load_in_thread(path: str) -> BaseException | None:
    """The error ``lucid.load(path)`` raises, run in a thread so a blocking open cannot hang."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            lucid.load(path)
        except BaseException as e:  # handed to the test to inspect
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), f"lucid.load({path!r}) blocked"
    return errors[0] if errors else None


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    error = _load_in_thread(str(path))
    assert type(error) is OSError
    assert str(error) == (
        f"{str(path)!r} is a FIFO (named pipe), not a weight file; lucid reads regular files only"
    )


def test_a_device_file_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "weights.safetensors"
    link.symlink_to("/dev/zero")
    error = _load_in_thread(str(link))
    assert type(error) is OSError and "is a device, not a weight file" in str(error)


def test_a_symlink_loop_is_reported_as_a_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError, match="is a loop of symbolic links") as info:
        lucid.load(a)
    assert not isinstance(info.value, FileNotFoundError)
    _one_line(info, a)
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no weight file at"):
        lucid.load(dangling)


# ------------------------------------------------------------------ npz ---


def test_an_npz_member_that_is_not_npy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("good.npy", _npy_bytes(np.arange(3, dtype=np.float32)))
        z.writestr("w.npy", b"just some bytes, not an array")
    with pytest.raises(ValueError, match=r"member 'w\.npy' is not a \.npy array") as info:
        lucid.load(path)
    _one_line(info, path)


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, arr)
    return buffer.getvalue()


def _npy_claiming(shape: tuple[int, ...], dtype: str = "<f4", payload: bytes = b"") -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_an_npy_header_claiming_4_tib_is_refused_before_allocating(
    tmp_path: Path, compression: int
) -> None:
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.writestr("w.npy", _npy_claiming((1024, 1024, 1024, 1024), "<f4", b"\0" * 16))
    with pytest.raises(ValueError, match=r"declares shape \(1024, 1024, 1024, 1024\)") as info:
        lucid.load(path)
    assert "4,398,046,511,104 bytes" in _one_line(info, path)


def test_a_zip_directory_lying_about_member_sizes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", _npy_bytes(np.zeros(4, np.float32)))
    data = bytearray(path.read_bytes())
    # Rewrite the uncompressed size in the central directory to 4 TiB - 1.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (0xFFFFFFFE).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="claims more data than the archive holds") as info:
        lucid.load(path)
    _one_line(info, path)


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.array(["text"]), "has dtype <U4, which lucid cannot hold"),
        (np.zeros(2, dtype=[("a", "<f4")]), "which lucid cannot hold"),
        (np.zeros(2, np.complex64), "has dtype complex64"),
    ],
    ids=["unicode", "structured", "complex"],
)
def test_npz_dtypes_lucid_cannot_hold_are_refused(
    tmp_path: Path, arr: np.ndarray, match: str
) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, w=arr)
    with pytest.raises(ValueError, match=match):
        lucid.load(path)


def test_good_npz_archives_still_load(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez_compressed(path, w=np.arange(6, dtype=np.float64).reshape(2, 3), e=np.zeros((0, 3)))
    loaded = lucid.load(path)
    assert loaded["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and loaded["e"].shape == (0, 3)


@pytest.mark.parametrize(
    "value",
    [
        {"a": '[\\"[[', "b": [[1]]},
        [["\\"], '\\"[[', {"c": "}}}]]]"}],
        {'"{': ["\\\\", '"', "\\\\\\"], "x": [[[[]]]]},
        [],
        "[[[",
    ],
    ids=["escaped-quote", "escaped-backslash", "runs", "empty", "only-a-string"],
)
def test_json_depth_counts_only_structure(value: object) -> None:
    from lucid._serialization import _json_depth

    def depth(v: object) -> int:
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        return 0

    assert _json_depth(json.dumps(value)) == depth(value)


def test_a_header_of_unterminated_escapes_is_refused(tmp_path: Path) -> None:
    # Each quote here would start a failed match running to the end of a naive string scan.
    path = tmp_path / "escapes.safetensors"
    path.write_bytes(_safetensors_bytes('{"w' + '\\"' * 500_000))
    with pytest.raises(ValueError, match="header is not JSON"):
        lucid.load(path)
