"""``save`` and ``load``: checkpoints to and from safetensors files, never through pickle.

A flat state dict (names to tensors) is an ordinary safetensors file. Any other
checkpoint (dicts, lists and tuples of tensors, numbers, strings and None) is
one safetensors file too: its tensors are the file's entries and its shape is
JSON stored in the header's metadata under ``"lucid.structure"``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import stat
import uuid
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from lucid._tensor import Tensor

__all__ = ["load", "save"]

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

# The header key safetensors reserves for its metadata, and lucid's key inside it.
_RESERVED_NAME = "__metadata__"
_STRUCTURE_KEY = "lucid.structure"
_STRUCTURE_VERSION = 1
# Bounds on what a file may describe, so that an untrusted file cannot exhaust the
# stack or the memory before its tensors are even read. safetensors itself refuses
# headers over 100 MB; a real header is 3 JSON levels deep.
_MAX_HEADER_BYTES = 100_000_000
_MAX_HEADER_DEPTH = 8
MAX_DEPTH = 64
MAX_NODES = 1_000_000
# A container costs up to three JSON levels in the structure: {"dict": [[key, value]]}.
_JSON_LEVELS_PER_CONTAINER = 3
_NON_FINITE = ("inf", "-inf", "nan")


# ----------------------------------------------------------------- save ---


def save(
    obj: Any,
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write a state dict or a nested checkpoint to one safetensors file, atomically.

    ``obj`` may nest dicts (with ``str`` or ``int`` keys), lists and tuples of
    tensors, NumPy arrays, ints, floats (``inf`` and ``nan`` too), bools,
    strings and ``None``: for example a model's and an optimizer's state
    dicts, a scheduler's state, the random state and the step number, which is
    what resuming training needs. Tensors become the file's safetensors
    entries; the rest is described by JSON in the header. A flat dict of names
    to tensors (``model.state_dict()``) is written as a plain safetensors file
    whose entries are those names, as any safetensors tool expects.

    The file is written under a temporary name in the same directory, flushed
    to disk and renamed over ``path``: a crash mid-save leaves the previous
    file intact, and everything is checked before anything is written.

    Parameters
    ----------
    obj:
        What to save. Mappings are saved as dicts; NumPy arrays come back
        as tensors and NumPy scalars as Python numbers of the same value.
        Containers may not nest deeper than 64 levels, nor hold more than a
        million values in all (store long series as arrays).
    path:
        The file to write, by convention ending in ``.safetensors``.
    metadata:
        Text stored in the header (e.g. the architecture's name); the key
        ``"lucid.structure"`` is lucid's own.

    Raises
    ------
    TypeError
        A value, key or dtype that cannot be stored; the message names where it is.
    ValueError
        A key that clashes with the file format (a flat dict's ``"__metadata__"``),
        or a structure nested too deep or too large.
    FileNotFoundError
        The directory of ``path`` does not exist.
    IsADirectoryError
        ``path`` is a directory.

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> lucid.save({"w": lucid.Tensor([[1.0, 2.0]]), "step": lucid.Tensor(3)}, path)
    >>> {name: t.tolist() for name, t in lucid.load(path).items()}
    {'step': 3, 'w': [[1.0, 2.0]]}

    Nested state keeps its containers and Python values:

    >>> ckpt = {"weights": {"w": lucid.Tensor([1.5])}, "step": 7, "betas": (0.9, 0.999)}
    >>> lucid.save(ckpt, path)
    >>> loaded = lucid.load(path)
    >>> loaded["step"], loaded["betas"], loaded["weights"]["w"].tolist()
    (7, (0.9, 0.999), [1.5])
    """
    path = _fspath(path)
    header_metadata = _check_metadata(metadata)
    if _is_flat(obj):
        if _RESERVED_NAME in obj:
            raise ValueError(
                f"state dict key {_RESERVED_NAME!r} is reserved by the safetensors format; "
                "rename that entry"
            )
        arrays = {name: _as_array(value, repr(name)) for name, value in obj.items()}
    else:
        arrays = {}
        structure = {
            "version": _STRUCTURE_VERSION,
            "root": _Encoder(arrays).encode(obj, [], 0),
        }
        header_metadata[_STRUCTURE_KEY] = json.dumps(
            structure, allow_nan=False, separators=(",", ":")
        )
    _write_atomically(path, arrays, header_metadata or None)


def _is_flat(obj: Any) -> bool:
    """Whether ``obj`` is a plain state dict: string names to arrays, nothing else."""
    return isinstance(obj, Mapping) and all(
        isinstance(k, str) and _is_array(v) for k, v in obj.items()
    )


def _is_array(value: Any) -> bool:
    return isinstance(value, (Tensor, np.ndarray))


def _as_array(value: Tensor | np.ndarray, where: str) -> np.ndarray:
    """The C-contiguous array safetensors will store for ``value`` (found at ``where``)."""
    arr = value.data if isinstance(value, Tensor) else value
    if arr.dtype.kind not in _SAVABLE_KINDS:
        raise TypeError(
            f"entry {where} has dtype {arr.dtype}, which safetensors cannot store; convert it "
            "to a floating, integer or bool dtype"
        )
    # safetensors copies the raw buffer as it lies: strided views must be packed first.
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict of strings, got {type(metadata).__name__}")
    bad = {k: v for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
    if bad:
        raise TypeError(f"metadata keys and values must be strings, got {bad!r}")
    if _STRUCTURE_KEY in metadata:
        raise ValueError(
            f"metadata key {_STRUCTURE_KEY!r} is reserved for lucid's checkpoint structure; "
            "use another key"
        )
    return dict(metadata)


class _Encoder:
    """Turns a nested checkpoint into JSON, collecting its arrays under unique entry names.

    Plain JSON values stand for themselves; everything else is a one-key object:
    ``{"dict": [[key, value], ...]}``, ``{"list": [...]}``, ``{"tuple": [...]}``,
    ``{"tensor": entry_name}`` and ``{"float": "inf" | "-inf" | "nan"}``.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.nodes = 0

    def encode(self, value: Any, where: list[str], depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ValueError(
                f"the checkpoint holds more than {MAX_NODES:,} values; store long series as arrays"
            )
        if isinstance(value, (np.bool_, np.integer, np.floating)):
            # A NumPy scalar is a number (a metric, a hyperparameter): saved as the Python
            # number of the same value, as ``.item()`` gives it.
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if _is_array(value):
            return {"tensor": self._add_array(value, where)}
        if not isinstance(value, (Mapping, list, tuple)):
            hint = "; call .state_dict() on it" if hasattr(value, "state_dict") else ""
            raise TypeError(
                f"cannot save {_describe(where)}: a {type(value).__name__}; checkpoints hold "
                f"dicts, lists, tuples, tensors, arrays, numbers, strings and None{hint}"
            )
        if depth >= MAX_DEPTH:
            raise ValueError(
                f"the checkpoint nests containers deeper than {MAX_DEPTH} levels at "
                f"{_describe(where)} (does a container hold itself?)"
            )
        if isinstance(value, Mapping):
            items = []
            for key, item in value.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(
                        f"cannot save the key {key!r} ({type(key).__name__}) in "
                        f"{_describe(where)}; checkpoint dict keys must be str or int"
                    )
                items.append([key, self.encode(item, [*where, str(key)], depth + 1)])
            return {"dict": items}
        tag = "tuple" if isinstance(value, tuple) else "list"
        return {tag: [self.encode(v, [*where, str(i)], depth + 1) for i, v in enumerate(value)]}

    def _add_array(self, value: Tensor | np.ndarray, where: list[str]) -> str:
        # Entry names follow the path ("model.0.weight") so other safetensors tools show
        # something meaningful; the structure records each name, so a clash only needs
        # a suffix to keep names unique.
        base = ".".join(where) or "tensor"
        name, n = base, 0
        while name in self.arrays or name == _RESERVED_NAME:
            n += 1
            name = f"{base}#{n}"
        self.arrays[name] = _as_array(value, _describe(where))
        return name


def _describe(where: list[str]) -> str:
    return "the checkpoint itself" if not where else repr(".".join(where))


def _write_atomically(path: str, arrays: dict[str, np.ndarray], metadata: dict | None) -> None:
    """Write the file under a temporary name, make it durable, then rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"cannot save to {path!r}: directory {directory!r} does not exist; create it first"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory; name a file in it")
    # A fresh name in the same directory (same file system, so the rename is atomic),
    # short enough for the file system even when the target's name is at its limit.
    tmp = os.path.join(directory, f".{os.path.basename(path)[:64]}.{uuid.uuid4().hex}.tmp")
    try:
        safetensors.numpy.save_file(arrays, tmp, metadata=metadata)
        # safetensors creates the file for its owner only; give it the permissions
        # open() would (those of the file it replaces, else 0o666 less the umask).
        os.chmod(tmp, _file_mode(path))
        # save_file has closed (flushed) the file; fsync through a new descriptor so the
        # data is on disk before the rename makes it the checkpoint.
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # The rename itself lives in the directory: make it durable too (where the OS allows).
    with contextlib.suppress(OSError):
        _fsync(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _file_mode(path: str) -> int:
    """The permission bits a file written at ``path`` should get."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = 0o022
    # The umask without changing it (os.umask would race with other threads): Linux
    # reports it in /proc; elsewhere the usual 0o022 is assumed.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    return 0o666 & ~umask


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fspath(path: Any) -> str:
    """``path`` as a ``str``; ``bytes`` and path-like objects are accepted, as ``open`` does."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(
            f"expected a file path (str, bytes or os.PathLike), got {type(path).__name__}"
        ) from None


# ----------------------------------------------------------------- load ---


def load(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    *,
    map_location: Any = None,
    weights_only: bool = True,
) -> Any:
    """Read a file written by :func:`lucid.save` or any safetensors file, never running its code.

    A flat safetensors file gives a dict of names to tensors; a nested
    checkpoint gives back its dicts (``str`` and ``int`` keys), lists,
    tuples, numbers, strings and None as they were saved, with every array as
    a tensor. Tensors keep the dtype they were stored with, except bfloat16,
    which NumPy lacks and is widened (exactly) to float32. A NumPy ``.npz``
    archive is read too, with pickling disabled. Pickle-based files, such as
    PyTorch ``.pth`` checkpoints, are refused with instructions to convert them.

    Parameters
    ----------
    path:
        The file to read.
    map_location:
        Accepted for PyTorch's sake: ``None`` or ``"cpu"``, where lucid's
        tensors always live.
    weights_only:
        Accepted for PyTorch's sake: lucid only ever loads data, so it must
        stay ``True``.

    Returns
    -------
    Any
        The saved object: for a state dict, the names and tensors, ready for
        ``Module.load_state_dict``.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    IsADirectoryError
        ``path`` is a directory.
    OSError
        ``path`` is not a regular file (a FIFO, a device, a socket) or is a
        symbolic link loop; such paths are never opened.
    ValueError
        The file is not one lucid reads: a pickle, a malformed, truncated or
        too deeply nested header or structure, a dtype lucid cannot hold, or
        an ``.npz`` member that is not a plain ``.npy`` array.

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> lucid.save({"mask": lucid.Tensor([True, False])}, path)
    >>> lucid.load(path)["mask"].dtype
    dtype('bool')
    """
    if map_location is not None and str(map_location) != "cpu":
        raise ValueError(
            f"lucid runs on the CPU only; got map_location={map_location!r}, use None or 'cpu'"
        )
    if weights_only is not True:
        raise ValueError(
            f"lucid never unpickles files, so weights_only must be True, got {weights_only!r}"
        )
    path = _fspath(path)
    _check_regular_file(path)
    with open(path, "rb") as f:
        head = f.read(8)
        size = os.fstat(f.fileno()).st_size
        header_len = int.from_bytes(head, "little") if len(head) == 8 else -1
        fits = 0 <= header_len <= min(size - 8, _MAX_HEADER_BYTES)
        header_bytes = f.read(header_len) if fits else b""

    if head.startswith(b"PK\x03\x04"):
        return _load_zip(path, size)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise ValueError(f"{path!r} is a pickle file; lucid never unpickles files; {_CONVERT_HINT}")
    if header_len > _MAX_HEADER_BYTES and header_len <= size - 8:
        raise ValueError(
            f"{path!r} declares a {header_len:,}-byte safetensors header, more than the "
            f"{_MAX_HEADER_BYTES:,} bytes safetensors allows; the file is corrupt or hostile"
        )
    header = _parse_header(header_bytes, path)
    tensors = _read_tensors(path, header, header_len)
    structure = header.get(_RESERVED_NAME, {}).get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    return _decode_structure(structure, tensors, path)


def _check_regular_file(path: str) -> None:
    """Raise unless ``path`` is a regular file, without opening it (a FIFO would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no weight file at {path!r}") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(
                e.errno, f"{path!r} is a loop of symbolic links; point it at a weight file"
            ) from None
        raise OSError(e.errno, f"cannot read {path!r}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path!r} is a directory, not a weight file")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise OSError(f"{path!r} is {kind}, not a weight file; lucid reads regular files only")


def _parse_header(header_bytes: bytes, path: str) -> dict[str, Any]:
    """The checked safetensors header; ``ValueError`` naming the problem if it is not one."""
    problem = _header_problem(header_bytes)
    if isinstance(problem, str):
        hint = _CONVERT_HINT if path.endswith(_PICKLE_SUFFIXES) else "re-save or re-download it"
        raise ValueError(
            f"{path!r} is not a safetensors file: it does not start with a valid safetensors "
            f"header ({problem}); {hint}"
        )
    for name, entry in problem.items():
        if name != _RESERVED_NAME and entry["dtype"] not in _READABLE_DTYPES:
            raise ValueError(
                f"{path!r} stores {name!r} as {entry['dtype']}, a dtype lucid cannot hold; "
                "convert it to float32 before saving"
            )
    return problem


def _header_problem(header_bytes: bytes) -> dict[str, Any] | str:
    """The header as a dict if it is well formed, else what is wrong with it."""
    if not header_bytes:
        return "no header"
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return "the header is not UTF-8 text"
    if _json_depth(text) > _MAX_HEADER_DEPTH:
        return f"the header nests deeper than {_MAX_HEADER_DEPTH} levels"
    try:
        header = json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return "the header is not JSON"
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    for name, entry in header.items():
        if name == _RESERVED_NAME:
            if not (isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())):
                return "its __metadata__ is not a map of strings"
            continue
        if not (isinstance(entry, dict) and {"dtype", "shape", "data_offsets"} <= set(entry)):
            return f"entry {_excerpt(name)} lacks dtype, shape or data_offsets"
        if not isinstance(entry["dtype"], str):
            return f"entry {name!r} has dtype {_excerpt(entry['dtype'])}, not a string"
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
            return (
                f"entry {name!r} has shape {_excerpt(shape)}, not a list of non-negative integers"
            )
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
            return (
                f"entry {name!r} has data_offsets {_excerpt(offsets)}, not two non-negative "
                "integers"
            )
    return header


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A JSON string once its escaped backslashes and quotes are gone (see _json_depth).
_JSON_STRING = re.compile(r'"[^"]*"')
# Brackets are counted this many bytes at a time, so a hostile header costs little memory.
_DEPTH_CHUNK = 1 << 22


def _json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest, found without parsing (or recursing).

    Every step runs in C (``str.replace``, ``re``, NumPy) in time linear in the text.
    """
    # Dropping escaped backslashes, then escaped quotes, leaves only the quotes that
    # open and close strings; dropping the strings leaves the structure.
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    skeleton = np.frombuffer(_JSON_STRING.sub("", unescaped).encode("utf-8"), np.uint8)
    depth = deepest = 0
    for start in range(0, skeleton.size, _DEPTH_CHUNK):
        chunk = skeleton[start : start + _DEPTH_CHUNK]
        steps = np.isin(chunk, (ord("["), ord("{"))).astype(np.int32)
        steps -= np.isin(chunk, (ord("]"), ord("}")))
        running = np.cumsum(steps, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max(initial=depth)))
        depth = int(running[-1]) if running.size else depth
    return deepest


def _read_tensors(path: str, header: dict[str, Any], header_len: int) -> dict[str, Tensor]:
    names = [k for k in header if k != _RESERVED_NAME]
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


# ------------------------------------------------------------ structure ---


class _BadStructure(ValueError):
    """The checkpoint structure in a file's header is malformed (the message says how)."""


def _decode_structure(text: str, tensors: dict[str, Tensor], path: str) -> Any:
    """Rebuild the saved object from the structure JSON and the file's tensors."""
    try:
        if _json_depth(text) > _JSON_LEVELS_PER_CONTAINER * MAX_DEPTH + 2:
            raise _BadStructure(f"it nests deeper than {MAX_DEPTH} levels")
        try:
            structure = json.loads(text, parse_constant=_refuse_constant)
        except ValueError:
            raise _BadStructure("it is not JSON") from None
        if not (isinstance(structure, dict) and set(structure) == {"version", "root"}):
            raise _BadStructure("it lacks 'version' and 'root'")
        if structure["version"] != _STRUCTURE_VERSION:
            raise _BadStructure(
                f"it has version {structure['version']!r}, and this lucid reads version "
                f"{_STRUCTURE_VERSION}; upgrade lucid"
            )
        decoder = _Decoder(tensors)
        obj = decoder.decode(structure["root"], 0)
        unused = sorted(set(tensors) - decoder.used)
        if unused:
            raise _BadStructure(f"tensors {unused[:5]!r} are in no place of it")
    except _BadStructure as e:
        raise ValueError(
            f"{path!r} has a malformed lucid checkpoint structure: {e}; re-save it with lucid.save"
        ) from None
    return obj


class _Decoder:
    """The inverse of ``_Encoder``, bounded in depth and size, each tensor used once."""

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.nodes = 0

    def decode(self, node: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _BadStructure(f"it holds more than {MAX_NODES:,} values")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not (isinstance(node, dict) and len(node) == 1):
            raise _BadStructure(f"{_excerpt(node)} is no value lucid saves")
        ((tag, body),) = node.items()
        if tag == "float" and body in _NON_FINITE:
            return float(body)
        if tag == "tensor" and isinstance(body, str):
            if body not in self.tensors or body in self.used:
                raise _BadStructure(f"tensor {body!r} is missing from the file or used twice")
            self.used.add(body)
            return self.tensors[body]
        if tag not in ("dict", "list", "tuple") or not isinstance(body, list):
            raise _BadStructure(f"{_excerpt(node)} is no value lucid saves")
        if depth >= MAX_DEPTH:
            raise _BadStructure(f"it nests deeper than {MAX_DEPTH} levels")
        if tag != "dict":
            items = [self.decode(v, depth + 1) for v in body]
            return tuple(items) if tag == "tuple" else items
        out: dict[str | int, Any] = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _BadStructure(f"dict item {_excerpt(pair)} is not a [key, value] pair")
            key = pair[0]
            if isinstance(key, bool) or not isinstance(key, (str, int)) or key in out:
                raise _BadStructure(f"dict key {_excerpt(key)} is not a new str or int")
            out[key] = self.decode(pair[1], depth + 1)
        return out


def _excerpt(node: Any) -> str:
    text = repr(node)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ npz ---

# The largest ratio deflate achieves (1032:1): a member claiming more data than this
# times its compressed size is lying, and is refused before anything is allocated.
_DEFLATE_MAX_RATIO = 1032


def _load_zip(path: str, size: int) -> dict[str, Tensor]:
    """Read a NumPy ``.npz`` archive without pickle; refuse any other zip (PyTorch's)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            members = [info.filename for info in infos]
            if any(name.endswith(".pkl") for name in members):
                raise ValueError(
                    f"{path!r} is a zip archive of pickled data (a PyTorch checkpoint); lucid "
                    f"never unpickles files; {_CONVERT_HINT}"
                )
            if not members or not all(name.endswith(".npy") for name in members):
                raise ValueError(
                    f"{path!r} is a zip archive but not a NumPy .npz of arrays; lucid reads "
                    "safetensors files (and .npz archives)"
                )
            for info in infos:
                _check_npy_member(archive, info, size, path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path!r} is a damaged zip archive ({e})") from None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: Tensor._from_array(archive[k]) for k in archive.files}
    except (ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{path!r} holds arrays lucid cannot read without pickle ({e})") from None


def _check_npy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, path: str
) -> None:
    """Raise ``ValueError`` unless the member is a ``.npy`` array lucid holds, of its real size."""
    where = f"{path!r} member {info.filename!r}"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(
            f"{where} uses zip compression method {info.compress_type}; NumPy writes stored "
            "or deflated members only; re-save it with numpy.savez"
        )
    most = info.compress_size * (
        1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO
    )
    if info.compress_size > size or info.file_size > most:
        raise ValueError(f"{where} claims more data than the archive holds; the file is corrupt")
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except ValueError as e:
            raise ValueError(f"{where} is not a .npy array ({e})") from None
        data_start = member.tell()
    if dtype.hasobject:
        raise ValueError(
            f"{where} holds Python objects, which cannot be read without pickle; lucid never "
            "unpickles files"
        )
    if dtype.kind not in _SAVABLE_KINDS or dtype.fields is not None:
        raise ValueError(f"{where} has dtype {dtype}, which lucid cannot hold")
    declared = math.prod(shape) * dtype.itemsize
    if declared != info.file_size - data_start:
        raise ValueError(
            f"{where} declares shape {shape} ({declared:,} bytes of {dtype}) but holds "
            f"{info.file_size - data_start:,} bytes; the file is corrupt"
        )
