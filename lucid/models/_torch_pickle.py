"""Read PyTorch checkpoints (``torch.save``'s zip and legacy formats) without torch or running code.

A ``.pth`` file is a pickle, and unpickling runs whatever callables the file
names. This reader resolves only an allowlist: the functions PyTorch pickles
tensors with (``torch._utils._rebuild_tensor_v2`` and friends), the storage
types that name a dtype, ``collections.OrderedDict``, plain containers and
scalars, and ``argparse.Namespace`` (which the official training scripts save
next to the weights), rebuilt as inert data. Any other global is refused before
anything is called, so a malicious file cannot run code; tensors come back as
NumPy arrays copied out of the archive's real entries, so memory stays bounded
by the file itself.

``lucid.load`` keeps refusing pickle for lucid's own formats: this reader is
for PyTorch checkpoints only, used by ``create_model(..., pretrained=True)``,
``checkpoint_path=`` and the PVT converter.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

__all__ = ["CheckpointError", "is_torch_checkpoint", "load_torch_checkpoint", "read_state_dict"]


class CheckpointError(ValueError):
    """A PyTorch checkpoint that lucid refuses or cannot read; the message is one line."""


# Storage classes name the element type; bfloat16 has no NumPy dtype and is
# kept as its raw 16 bits until the tensor is rebuilt (then widened exactly).
_STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}
# torch dtypes by name, as ``_rebuild_tensor_v3`` receives them.
_TORCH_DTYPES: dict[str, str] = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "bfloat16",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint8": "u1",
    "bool": "?",
}
_COMPLEX = ("ComplexFloatStorage", "ComplexDoubleStorage", "complex64", "complex128")
# torch.save's legacy (pre-1.6) format starts with this number and protocol.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# Containers that training scripts wrap a state dict in.
_WRAPPERS = ("model", "state_dict", "model_state", "model_ema", "module")


class _Frozen:
    """Objects the pickle stream can reach but must not change.

    A pickle's BUILD opcode sets attributes on whatever object is on its stack;
    the allowlisted globals are shared by every load, so they refuse it.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise CheckpointError(f"the checkpoint tries to modify {type(self).__name__}.{name}")


class _DType(_Frozen):
    """What a storage class or torch dtype global resolves to: an element type, never code."""

    __slots__ = ("code", "name")
    code: str
    name: str

    def __init__(self, name: str, code: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "code", code)

    @property
    def itemsize(self) -> int:
        return 2 if self.code == "bfloat16" else np.dtype(self.code).itemsize

    def view(self, raw: bytes, little_endian: bool) -> np.ndarray:
        code = "<u2" if self.code == "bfloat16" else self.code
        array = np.frombuffer(raw, dtype=np.dtype(code))
        return array if little_endian else array.byteswap()


class _FrozenClass(type):
    """Metaclass refusing attribute changes on the class itself (see :class:`_Frozen`)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise CheckpointError(f"the checkpoint tries to modify {cls.__name__}.{name}")


class Namespace(metaclass=_FrozenClass):
    """``argparse.Namespace`` read as inert data: its attributes, nothing else.

    The official PVT training script saves its command-line arguments this
    way beside the weights; they are kept for inspection, never executed.
    """

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise CheckpointError("an argparse.Namespace in the checkpoint has a malformed state")
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"Namespace({', '.join(sorted(self.__dict__))})"


class _Call(_Frozen):
    """An allowlisted function, wrapped so that the pickle stream cannot change it."""

    __slots__ = ("fn",)
    fn: Callable[..., Any]

    def __init__(self, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


_SKIP = _Call(lambda *args: None)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor is how protocols 0 and 1 pickle plain objects; only
    # the inert Namespace may be rebuilt through it.
    if cls is not Namespace or base is not object or state is not None:
        raise CheckpointError("refusing copyreg._reconstructor for anything but argparse.Namespace")
    return Namespace()


def _torch_size(dims: Any = ()) -> tuple[int, ...]:
    return tuple(dims)


class _Storage:
    """One storage of the checkpoint: its element type and its data, once read."""

    def __init__(self, dtype: _DType, key: str, numel: int) -> None:
        self.dtype = dtype
        self.key = key
        self.numel = numel
        self.array: np.ndarray | None = None


def _check_ints(value: Any, what: str, *, length: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise CheckpointError(f"malformed tensor: {what} must be a tuple of non-negative integers")
    if length is not None and len(value) != length:
        raise CheckpointError(
            f"malformed tensor: {what} has {len(value)} entries, expected {length}"
        )
    return value


def _rebuild(storage: Any, offset: Any, size: Any, stride: Any) -> np.ndarray:
    """A tensor as a contiguous NumPy array, after checking that it lies inside its storage."""
    if not isinstance(storage, _Storage) or storage.array is None:
        raise CheckpointError("malformed tensor: its storage is not a storage of this checkpoint")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise CheckpointError("malformed tensor: storage offset must be a non-negative integer")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride", length=len(size))
    flat = storage.array
    count = int(np.prod(size, dtype=np.int64)) if size else 1
    if count:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
        if last >= flat.size:
            raise CheckpointError(
                f"malformed tensor: shape {size} with strides {stride} at offset {offset} reaches "
                f"past its storage of {flat.size} elements"
            )
        if count > flat.size:
            # An expanded view (stride 0) would need more memory than the file holds.
            raise CheckpointError(
                f"tensor of shape {size} has more elements than its storage ({flat.size}); "
                "save it with .contiguous() first"
            )
    view = np.lib.stride_tricks.as_strided(
        flat[offset:] if count else flat[:0],
        shape=size,
        strides=tuple(st * flat.itemsize for st in stride),
        writeable=False,
    )
    array = np.array(view, copy=True)
    if storage.dtype.code == "bfloat16":
        # bfloat16 is the upper half of a float32: shifting it up is exact.
        array = (array.astype("<u4") << 16).view(np.float32)
    return array


def _rebuild_tensor_v2(storage: Any, offset: Any, size: Any, stride: Any, *args: Any) -> np.ndarray:
    # requires_grad, backward hooks and metadata are training-time state: dropped.
    return _rebuild(storage, offset, size, stride)


def _rebuild_tensor_v3(
    storage: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    hooks: Any,
    dtype: Any,
    *args: Any,
) -> np.ndarray:
    if not isinstance(dtype, _DType):
        raise CheckpointError("malformed tensor: _rebuild_tensor_v3 without a known dtype")
    if isinstance(storage, _Storage) and storage.array is not None and storage.dtype is not dtype:
        raw = storage.array.tobytes()
        if len(raw) % dtype.itemsize:
            raise CheckpointError("malformed tensor: its storage does not hold whole elements")
        typed = _Storage(dtype, storage.key, len(raw) // dtype.itemsize)
        typed.array = dtype.view(raw, little_endian=True)
        storage = typed
    return _rebuild(storage, offset, size, stride)


def _rebuild_parameter(data: Any, *args: Any) -> Any:
    return data


# (module, name) -> what the unpickler may call or build. Python 2 spellings
# (`__builtin__`, `copy_reg`) appear in old legacy-format files.
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _Call(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_tensor_v2"): _Call(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_tensor_v3"): _Call(_rebuild_tensor_v3),
    ("torch._utils", "_rebuild_parameter"): _Call(_rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state"): _Call(_rebuild_parameter),
    ("torch", "Size"): _Call(_torch_size),
    ("argparse", "Namespace"): Namespace,
    ("copyreg", "_reconstructor"): _Call(_reconstructor),
    ("copy_reg", "_reconstructor"): _Call(_reconstructor),
    ("builtins", "object"): object,
    ("__builtin__", "object"): object,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    **{("torch", name): _DType(name, code) for name, code in _STORAGE_DTYPES.items()},
    **{("torch", name): _DType(name, code) for name, code in _TORCH_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ``_SAFE_GLOBALS``; storages come from ``storages`` via persistent ids."""

    def __init__(
        self, file: IO[bytes], load_storage: Callable[[Any], _Storage], *, skim: bool = False
    ) -> None:
        super().__init__(file, encoding="utf-8")
        self._load_storage = load_storage
        # Skimming reads the structure and the storage references, builds no tensor.
        self._skim = skim

    def find_class(self, module: str, name: str) -> Any:
        found = _SAFE_GLOBALS.get((module, name))
        if found is not None:
            return _SKIP if self._skim and module == "torch._utils" else found
        if module == "torch" and name in _COMPLEX:
            raise CheckpointError(
                f"the checkpoint holds complex tensors (torch.{name}); lucid's tensors are real: "
                "save the real and imaginary parts as separate tensors"
            )
        raise CheckpointError(
            f"refusing to load global {module}.{name}: lucid reads only tensors, containers and "
            "scalars from PyTorch checkpoints, never objects that could run code"
        )

    def persistent_load(self, pid: Any) -> _Storage:
        return self._load_storage(pid)


def _parse_pid(pid: Any) -> tuple[_DType, str, int, Any]:
    """Check a persistent id ``('storage', type, key, location, numel[, view])``."""
    if (
        not isinstance(pid, tuple)
        or len(pid) not in (5, 6)
        or pid[0] != "storage"
        or not isinstance(pid[1], _DType)
        or not isinstance(pid[2], str)
        or not isinstance(pid[4], int)
        or isinstance(pid[4], bool)
        or pid[4] < 0
    ):
        raise CheckpointError("malformed storage reference in the checkpoint's pickle")
    return pid[1], pid[2], pid[4], pid[5] if len(pid) == 6 else None


# -------------------------------------------------------------- formats ---


def _load_zip(path: str, archive: zipfile.ZipFile) -> Any:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(
            f"{path!r} is a zip archive but not a torch.save checkpoint (no single "
            "<name>/data.pkl inside)"
        )
    prefix = pickles[0][: -len("data.pkl")]
    little = True
    if prefix + "byteorder" in names:
        order = archive.read(prefix + "byteorder")
        if order not in (b"little", b"big"):
            raise CheckpointError(f"{path!r} declares an unknown byte order {order[:16]!r}")
        little = order == b"little"
    storages: dict[str, _Storage] = {}

    def load_storage(pid: Any) -> _Storage:
        dtype, key, numel, _ = _parse_pid(pid)
        if key in storages:
            return storages[key]
        try:
            info = archive.getinfo(f"{prefix}data/{key}")
        except KeyError:
            raise CheckpointError(f"{path!r} refers to storage {key!r}, which it lacks") from None
        # torch.save never compresses; a stored entry's size is its real size in the
        # file, so nothing larger than the file is ever allocated.
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path!r}: storage {key!r} is compressed, which torch never does"
            )
        if info.file_size != numel * dtype.itemsize:
            raise CheckpointError(
                f"{path!r}: storage {key!r} holds {info.file_size} bytes, but the checkpoint "
                f"declares {numel} elements of {dtype.itemsize} bytes; the file is damaged"
            )
        storage = _Storage(dtype, key, numel)
        storage.array = dtype.view(archive.read(info), little)
        storages[key] = storage
        return storage

    data = archive.read(pickles[0])
    return _RestrictedUnpickler(io.BytesIO(data), load_storage).load()


def _load_legacy(path: str, f: IO[bytes]) -> Any:
    def no_storage(pid: Any) -> _Storage:
        raise CheckpointError(f"{path!r} is not a PyTorch checkpoint (it is a plain pickle)")

    magic = _RestrictedUnpickler(f, no_storage).load()
    if magic != _LEGACY_MAGIC:
        raise CheckpointError(
            f"{path!r} is a pickle but not a PyTorch checkpoint (no torch.save magic number)"
        )
    if _RestrictedUnpickler(f, no_storage).load() != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{path!r} uses an unknown legacy torch.save protocol version")
    sys_info = _RestrictedUnpickler(f, no_storage).load()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True) is not False
    start = f.tell()

    # Pass 1: learn each storage's type and size (the data follows the pickle).
    declared: dict[str, _Storage] = {}

    def declare(pid: Any) -> _Storage:
        dtype, key, numel, _ = _parse_pid(pid)
        return declared.setdefault(key, _Storage(dtype, key, numel))

    _RestrictedUnpickler(f, declare, skim=True).load()
    keys = _RestrictedUnpickler(f, no_storage).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError(f"{path!r}: the list of storage keys is malformed")
    size = os.fstat(f.fileno()).st_size
    for key in keys:
        storage = declared.get(key)
        header = f.read(8)
        if storage is None or len(header) != 8:
            raise CheckpointError(f"{path!r}: storage {key!r} is missing or truncated")
        (numel,) = struct.unpack("<q" if little else ">q", header)
        nbytes = numel * storage.dtype.itemsize
        if numel < 0 or nbytes > size - f.tell():
            raise CheckpointError(
                f"{path!r}: storage {key!r} declares {numel} elements, more than the file holds; "
                "the file is truncated or damaged"
            )
        storage.array = storage.dtype.view(f.read(nbytes), little)

    # Pass 2: the same pickle again, now with every storage's data at hand.
    def load_storage(pid: Any) -> _Storage:
        _, key, _, view = _parse_pid(pid)
        storage = declared[key]
        if storage.array is None:
            raise CheckpointError(f"{path!r} refers to storage {key!r}, which it lacks")
        if view is None:
            return storage
        # Old files could save a view of a storage: (view key, offset, size).
        if not (isinstance(view, tuple) and len(view) == 3):
            raise CheckpointError(f"{path!r}: malformed storage view for {key!r}")
        offset, length = _check_ints(tuple(view[1:]), "storage view")
        sliced = _Storage(storage.dtype, key, length)
        sliced.array = storage.array[offset : offset + length]
        if sliced.array.size != length:
            raise CheckpointError(f"{path!r}: storage view of {key!r} reaches past its storage")
        return sliced

    f.seek(start)
    return _RestrictedUnpickler(f, load_storage).load()


def load_torch_checkpoint(path: str | os.PathLike[str]) -> Any:
    """Everything a ``torch.save`` file holds, with tensors as NumPy arrays.

    Parameters
    ----------
    path
        A file written by ``torch.save`` (the zip format of PyTorch 1.6 and
        later, or the legacy format before it).

    Returns
    -------
    object
        The saved object: dicts, lists, tuples, scalars and strings as
        themselves, tensors as NumPy arrays (bfloat16 widened to float32),
        ``argparse.Namespace`` as an inert :class:`Namespace`.

    Raises
    ------
    CheckpointError
        The file names a global outside the allowlist (nothing was called),
        is damaged, or is not a PyTorch checkpoint.

    Examples
    --------
    >>> import os, tempfile, zipfile
    >>> path = os.path.join(tempfile.mkdtemp(), "not_a_checkpoint.pth")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"hello")
    >>> load_torch_checkpoint(path)
    Traceback (most recent call last):
    ...
    lucid.models._torch_pickle.CheckpointError: ...is not a PyTorch checkpoint...
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r}")
    try:
        with open(path, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                with zipfile.ZipFile(f) as archive:
                    return _load_zip(path, archive)
            f.seek(0)
            return _load_legacy(path, f)
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(
            f"{path!r} is not a PyTorch checkpoint or is damaged ({type(e).__name__}: "
            f"{_one_line(e)})"
        ) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # An allowlisted callable given arguments it cannot take, or a broken opcode stream.
        raise CheckpointError(
            f"{path!r} is not a readable PyTorch checkpoint ({type(e).__name__}: {_one_line(e)})"
        ) from None
    except RecursionError:
        raise CheckpointError(f"{path!r} nests containers too deeply to read") from None
    except MemoryError:
        raise CheckpointError(f"{path!r} declares more data than fits in memory") from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]


def is_torch_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a ``torch.save`` file (zip with ``data.pkl``, or a pickle).

    Only the first bytes (or the zip's table of contents) are read; nothing is unpickled.

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> lucid.save({"w": lucid.zeros(2)}, path)
    >>> is_torch_checkpoint(path)
    False
    """
    with open(os.fspath(path), "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(os.fspath(path)) as archive:
                return any(name.endswith("/data.pkl") for name in archive.namelist())
        except zipfile.BadZipFile:
            return False
    # Binary pickles start with PROTO (0x80); the legacy format's first pickle too.
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")


def unwrap(obj: Any, path: str) -> Mapping[Any, Any]:
    """The state dict inside the usual wrappers, following each mapping at most once."""
    seen: set[int] = set()
    while isinstance(obj, Mapping):
        if id(obj) in seen:
            raise CheckpointError(
                f"{path!r} holds no state dict: its containers refer back to themselves"
            )
        seen.add(id(obj))
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            return obj
        obj = inner
    raise CheckpointError(
        f"{path!r} holds no state dict (found {type(obj).__name__}); expected a dict of "
        "parameter names to tensors"
    )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The state dict of a PyTorch checkpoint as NumPy arrays, unwrapped, without torch.

    Parameters
    ----------
    path
        A ``torch.save`` file holding a state dict, or a dict holding one under
        ``"model"``, ``"state_dict"``, ``"model_state"``, ``"model_ema"`` or
        ``"module"`` (the official PVT checkpoints keep ``"args"`` and
        optimizer state beside it).

    Returns
    -------
    dict of str to numpy.ndarray
        Parameter names (without DataParallel's ``module.`` prefix) to arrays;
        floating-point tensors as float32, whatever their stored precision.

    Raises
    ------
    CheckpointError
        As :func:`load_torch_checkpoint`, or when no state dict is found or
        its keys are not strings.
    """
    path = os.fspath(path)
    state = unwrap(load_torch_checkpoint(path), path)
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise CheckpointError(
                f"{path!r} has a state dict key of type {type(name).__name__} ({name!r:.40}); "
                "parameter names must be strings"
            )
        if not isinstance(value, np.ndarray):
            continue  # bookkeeping such as a saved epoch number
        arrays[name.removeprefix("module.")] = (
            value.astype(np.float32) if value.dtype.kind == "f" else value
        )
    if not arrays:
        raise CheckpointError(f"{path!r} holds a dict without any tensor; no weights to load")
    return arrays
