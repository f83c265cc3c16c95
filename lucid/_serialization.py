"""``save`` and ``load``: state dicts to and from safetensors files, never through pickle."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from lucid._tensor import Tensor

# Floating, signed, unsigned and bool: the dtype kinds of lucid tensors.
_SAVABLE_KINDS = "fiub"
# The safetensors dtypes lucid reads (BF16 is widened to float32).
_READABLE_DTYPES = {"F16", "F32", "F64", "BF16", "BOOL"} | {
    f"{kind}{bits}" for kind in "IU" for bits in (8, 16, 32, 64)
}
_PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl", ".pickle")
_CONVERT_HINT = (
    "convert it once to safetensors, e.g. with PyTorch: "
    "`from safetensors.torch import save_file; "
    "save_file(torch.load(IN, weights_only=True), OUT)`, or for PVT checkpoints: "
    "`python -m lucid_models_pvt.convert IN.pth OUT.safetensors`"
)


def save(
    state_dict: Mapping[str, Any],
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write a state dict to a safetensors file.

    The file is written next to ``path`` and then renamed over it, so an
    interrupted save never leaves a half-written file behind.

    Parameters
    ----------
    state_dict:
        Names to tensors (or NumPy arrays), e.g. ``model.state_dict()``.
        Floating, integer and bool dtypes are stored as they are.
    path:
        The file to write, by convention ending in ``.safetensors``.
    metadata:
        Text stored in the file's header (e.g. the architecture's name).

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> lucid.save({"w": lucid.Tensor([[1.0, 2.0]]), "step": lucid.Tensor(3)}, path)
    >>> {name: t.tolist() for name, t in lucid.load(path).items()}
    {'step': 3, 'w': [[1.0, 2.0]]}
    """
    if not isinstance(state_dict, Mapping):
        hint = "; call model.state_dict()" if hasattr(state_dict, "state_dict") else ""
        raise TypeError(f"save() takes a dict of names to tensors, got {type(state_dict)}{hint}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"state dict keys must be strings, got {name!r}")
        if isinstance(value, Tensor):
            arr = value.data
        elif isinstance(value, (np.ndarray, np.generic)):
            arr = np.asarray(value)
        else:
            raise TypeError(
                f"state dict entry {name!r} is a {type(value).__name__}; save() stores tensors "
                "and NumPy arrays only"
            )
        if arr.dtype.kind not in _SAVABLE_KINDS:
            raise TypeError(
                f"state dict entry {name!r} has dtype {arr.dtype}, which safetensors cannot "
                "store; convert it to a floating, integer or bool dtype"
            )
        # safetensors copies the raw buffer as it lies: strided views must be packed first.
        arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    if metadata is not None:
        bad = {k: v for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise TypeError(f"metadata keys and values must be strings, got {bad!r}")

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"cannot save to {path!r}: directory {directory!r} does not exist; create it first"
        )
    # A fresh name in the same directory (same file system, so the rename is atomic).
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        safetensors.numpy.save_file(arrays, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of tensors, never running code from the file.

    Tensors keep the dtype they were stored with, except bfloat16, which
    NumPy lacks and is widened (exactly) to float32. A NumPy ``.npz`` archive
    is read too, with pickling disabled. Pickle-based files, such as PyTorch
    ``.pth`` checkpoints, are refused with instructions to convert them.

    Parameters
    ----------
    path:
        The file to read.

    Returns
    -------
    dict[str, Tensor]
        The names and tensors, ready for ``Module.load_state_dict``.

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> lucid.save({"mask": lucid.Tensor([True, False])}, path)
    >>> lucid.load(path)["mask"].dtype
    dtype('bool')
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no weight file at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a weight file")
    with open(path, "rb") as f:
        head = f.read(8)
        size = os.fstat(f.fileno()).st_size
        header_len = int.from_bytes(head, "little")
        header_bytes = f.read(header_len) if len(head) == 8 and header_len <= size - 8 else b""

    if head.startswith(b"PK\x03\x04"):
        return _load_zip(path)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise ValueError(f"{path!r} is a pickle file; lucid never unpickles files; {_CONVERT_HINT}")
    header = _parse_header(header_bytes)
    if header is None:
        hint = _CONVERT_HINT if path.endswith(_PICKLE_SUFFIXES) else "re-save or re-download it"
        raise ValueError(
            f"{path!r} is not a safetensors file: it does not start with a valid safetensors "
            f"header; {hint}"
        )

    names = [k for k in header if k != "__metadata__"]
    for k in names:
        if header[k]["dtype"] not in _READABLE_DTYPES:
            raise ValueError(
                f"{path!r} stores {k!r} as {header[k]['dtype']}, a dtype lucid cannot hold; "
                "convert it to float32 before saving"
            )
    widen = {k for k in names if header[k]["dtype"] == "BF16"}
    try:
        if not widen:
            arrays = safetensors.numpy.load_file(path)
        else:
            with safetensors.safe_open(path, framework="np") as f:
                arrays = {k: f.get_tensor(k) for k in names if k not in widen}
            data_start = 8 + header_len
            for k in widen:
                begin, end = header[k]["data_offsets"]
                raw = np.fromfile(path, "<u2", (end - begin) // 2, offset=data_start + begin)
                # bfloat16 is the upper half of a float32: shifting it up is exact.
                wide = (raw.astype("<u4") << 16).view(np.float32)
                arrays[k] = wide.reshape(header[k]["shape"])
    except (safetensors.SafetensorError, KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"{path!r} is not a readable safetensors file ({e}); it may be truncated, "
            "corrupted or use a dtype lucid cannot hold; re-save or re-download it"
        ) from None
    return {k: Tensor._from_array(arr) for k, arr in arrays.items()}


def _parse_header(header_bytes: bytes) -> dict[str, Any] | None:
    """The header's tensor entries, or ``None`` if the bytes are no safetensors header."""
    try:
        header = json.loads(header_bytes)
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None
    entries = [v for k, v in header.items() if k != "__metadata__"]
    if not all(isinstance(v, dict) and "dtype" in v for v in entries):
        return None
    return header


def _load_zip(path: str) -> dict[str, Tensor]:
    """Read a NumPy ``.npz`` archive without pickle; refuse any other zip (PyTorch's)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path!r} is a damaged zip archive ({e})") from None
    if any(name.endswith(".pkl") for name in members):
        raise ValueError(
            f"{path!r} is a zip archive of pickled data (a PyTorch checkpoint); lucid never "
            f"unpickles files; {_CONVERT_HINT}"
        )
    if not members or not all(name.endswith(".npy") for name in members):
        raise ValueError(
            f"{path!r} is a zip archive but not a NumPy .npz of arrays; lucid reads "
            "safetensors files (and .npz archives)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: Tensor._from_array(archive[k]) for k in archive.files}
    except ValueError as e:
        raise ValueError(f"{path!r} holds arrays lucid cannot read without pickle ({e})") from None
