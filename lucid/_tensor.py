"""The autograd core: ``Tensor``, ``Function`` (one graph node per op) and the backward walk."""

from __future__ import annotations

import builtins
import functools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, SupportsIndex, TypeVar, overload

import numpy as np

# The grad-mode switch lives in its own leaf module (lucid.autograd
# re-exports it), so this module imports nothing that imports it back.
from lucid._grad_mode import _state as _grad_state

if TYPE_CHECKING:
    from lucid import return_types

# The dtypes users name, as NumPy dtypes (``lucid.float32`` is ``np.dtype("float32")``).
float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32

# Tensor has methods named int, float and bool (as in PyTorch): inside its
# class body these names are the methods, so annotations use these aliases,
# as PyTorch's own stubs do.
_int = builtins.int
_float = builtins.float
_bool = builtins.bool
_Dims = _int | Sequence[_int] | None
_F = TypeVar("_F", bound=Callable[..., Any])


class Size(tuple[int, ...]):
    """The shape of a tensor: a tuple of ints, as ``torch.Size``.

    It prints as a plain tuple, ``(2, 3)`` (PyTorch: ``torch.Size([2, 3])``),
    so shapes read the same in error messages and in NumPy code.

    Examples
    --------
    >>> import lucid
    >>> s = lucid.zeros(2, 3).size()
    >>> s, type(s).__name__, s[1], s.numel(), s == (2, 3)
    ((2, 3), 'Size', 3, 6, True)
    """

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        return math.prod(self)

    @overload
    def __getitem__(self, key: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> Size: ...
    def __getitem__(self, key: SupportsIndex | slice) -> int | Size:
        if isinstance(key, slice):
            return Size(super().__getitem__(key))
        return super().__getitem__(key)


class device:
    """Where a tensor's data lives: lucid runs on the CPU, so always ``device("cpu")``.

    Accepts what ``torch.device`` accepts for the CPU: ``"cpu"``, ``"cpu:0"``,
    ``("cpu", 0)`` or another ``device``. Any other device type is an error
    naming it.

    Examples
    --------
    >>> import lucid
    >>> lucid.device("cpu"), lucid.ones(2).device == lucid.device("cpu")
    (device(type='cpu'), True)
    """

    __slots__ = ("index", "type")
    type: str
    index: int | None

    def __init__(self, type: str | device, index: int | None = None) -> None:
        if isinstance(type, device):
            spec, index = type.type, type.index if index is None else index
        elif isinstance(type, str):
            spec = type
        else:
            raise TypeError(f"device() takes a string such as 'cpu', got {type!r}")
        kind, _, number = spec.partition(":")
        if number:
            if index is not None or not number.isdigit():
                raise ValueError(f"invalid device string {spec!r}; expected 'cpu' or 'cpu:0'")
            index = int(number)
        if kind != "cpu":
            raise RuntimeError(
                f"lucid runs on the CPU only, got device {spec!r}; use device='cpu' "
                "(or leave the device out)"
            )
        self.type = kind
        self.index = index

    def __eq__(self, other: object) -> _bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> _int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


_CPU = device("cpu")
# Inside Tensor, ``device`` is the property: annotations use this alias.
_device = device


def to_dtype(args: Sequence[Any], dtype: Any = None, device: Any = None) -> np.dtype | None:
    """The dtype asked for by ``.to(*args, dtype=, device=)`` (of a tensor or a module).

    Positional arguments may be a dtype, a device (``"cpu"`` or a
    :class:`device`) or a tensor (its dtype); every device is checked.
    """
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype if dtype is None else dtype
        elif isinstance(arg, _device):
            pass
        elif isinstance(arg, str):
            try:
                dtype = np.dtype(arg)  # lucid also takes dtype names ("float64")
            except TypeError:
                _device(arg)  # refuses any device but the CPU
        else:
            dtype = arg
    if device is not None:
        _device(device)
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"to() expects a dtype such as lucid.float64, a device or a tensor, got {dtype!r}"
        ) from None


def _numpy_aliases(method: _F) -> _F:
    """Let a Tensor method take NumPy's ``axis=``/``keepdims=``, as the ops do.

    The alias table lives with the ops (``lucid._ops._args``), imported after
    Tensor exists: it is looked up per call, and only when keywords are given.
    """
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            _ops.resolve_aliases(name, kwargs)
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _Version:
    """Counts in-place changes to a storage; shared by a tensor and its views."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert ``data`` to an array, floating data to float32 unless ``dtype`` says otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    arr = np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype.kind == "f" and arr.dtype != DEFAULT_FLOAT:
        arr = arr.astype(DEFAULT_FLOAT)
    elif arr.dtype.kind not in "fiub":
        raise TypeError(
            f"cannot make a tensor of dtype {arr.dtype}; lucid tensors hold floating, "
            "integer or bool data"
        )
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Parameters
    ----------
    data:
        Anything ``numpy.asarray`` accepts. Floating data becomes float32
        unless ``dtype`` is given.
    dtype:
        The NumPy dtype to store, e.g. ``lucid.float64``.
    requires_grad:
        Record operations on this tensor so ``backward()`` can compute its
        gradient. Only floating tensors can require gradients.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    # ``_grad_hooks`` is set only on tensors that have post-accumulate hooks;
    # everywhere else it stays unset (read with getattr) and costs nothing.
    __slots__ = (
        "__weakref__",
        "_ctx",
        "_grad_hooks",
        "_version",
        "data",
        "grad",
        "requires_grad",
    )

    # Make NumPy defer to Tensor's reflected operators (``array + tensor``).
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._version = _Version()
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_array(cls, array: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an array without copying or converting it (the ops' fast path)."""
        t = object.__new__(cls)
        t.data = array
        t.grad = None
        t._ctx = None
        t._version = _Version()
        t.requires_grad = requires_grad
        return t

    # ------------------------------------------------------------ metadata ---

    @property
    def shape(self) -> Size:
        """The size of each dimension, as a :class:`lucid.Size` (the same as ``size()``)."""
        return Size(self.data.shape)

    @overload
    def size(self, dim: None = None) -> Size: ...
    @overload
    def size(self, dim: _int) -> _int: ...
    def size(self, dim: _int | None = None) -> Size | _int:
        """The shape as a :class:`lucid.Size`, or the size of dimension ``dim``, as in PyTorch.

        Examples
        --------
        >>> import lucid
        >>> x = lucid.zeros(2, 3)
        >>> x.size(), x.size(-1)
        ((2, 3), 3)
        """
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[_ops.norm_dim(dim, self.data.ndim)]

    @property
    def ndim(self) -> _int:
        """The number of dimensions."""
        return self.data.ndim

    def dim(self) -> _int:
        """The number of dimensions, as ``torch.Tensor.dim()``."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> _device:
        """Always ``lucid.device("cpu")``."""
        return _CPU

    def numel(self) -> _int:
        """The number of elements, as ``torch.Tensor.numel``."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """``True`` for tensors not produced by a recorded operation."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:
        """All axes reversed."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batched matrix transpose)."""
        if self.ndim < 2:
            raise ValueError(f"mT needs at least 2 dimensions, got shape {self.shape!r}")
        return self.swapaxes(-1, -2)

    # ---------------------------------------------------------- conversion ---

    def numpy(self, *, force: _bool = False) -> np.ndarray:
        """The underlying array (shared, not copied), as ``torch.Tensor.numpy``.

        Unlike PyTorch, a tensor that requires grad needs no ``detach()``
        first: the array is the data, outside the graph either way.
        ``force`` is accepted for compatibility and changes nothing.
        """
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar "
                f"(shape {self.shape!r}); reduce it first, e.g. t.sum().item()"
            )
        return self.data.item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: _bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> _int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> _bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape!r} is ambiguous; "
                "use .any() or .all()"
            )
        return _bool(self.data)

    def __float__(self) -> _float:
        return _float(self.item())

    def __int__(self) -> _int:
        return _int(self.item())

    def __index__(self) -> _int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only one-element integer tensors are indices, got {self.dtype}")
        return _int(self.data)

    def astype(self, dtype: Any) -> Tensor:
        """A copy of this tensor in ``dtype``; differentiable between floating dtypes."""
        return _ops.astype(self, dtype)

    def to(
        self,
        *args: Any,
        dtype: Any = None,
        device: Any = None,
        non_blocking: _bool = False,
        copy: _bool = False,
    ) -> Tensor:
        """This tensor in another dtype (and/or on a device), as ``torch.Tensor.to``.

        Takes ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other_tensor)`` or the keywords. It returns ``self`` when nothing
        changes and ``copy`` is false. The only device is the CPU.

        Examples
        --------
        >>> import lucid
        >>> x = lucid.ones(2)
        >>> x.to(lucid.float64).dtype, x.to("cpu") is x
        (dtype('float64'), True)
        """
        target = to_dtype(args, dtype, device)
        if target is None or target == self.data.dtype:
            return _ops.clone(self) if copy else self
        return _ops.astype(self, target)

    def cpu(self) -> Tensor:
        """``self``: lucid tensors always live on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Not available: lucid runs on the CPU only."""
        raise RuntimeError("lucid runs on the CPU only; there is no .cuda(), use .cpu() or drop it")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        t = Tensor._from_array(self.data)
        t._version = self._version
        return t

    def clone(self) -> Tensor:
        """A differentiable copy with its own storage."""
        return _ops.clone(self)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` into this tensor's storage in place (broadcasting)."""
        self._check_inplace("copy_", src)
        np.copyto(self.data, _to_array(src, self.data.dtype))
        self._version.value += 1
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: _float) -> Tensor:
        self._check_inplace("fill_", None)
        self.data.fill(value)
        self._version.value += 1
        return self

    # ------------------------------------------------------------ autograd ---

    def requires_grad_(self, requires_grad: _bool = True) -> Tensor:
        """Set whether operations on this leaf tensor are recorded; returns ``self``."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating tensors can require gradients, got dtype {self.dtype}; "
                "convert first with .float()"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor; use .detach() to cut it from the graph"
            )
        self.requires_grad = requires_grad
        return self

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Any:
        """Call ``hook(tensor)`` once per backward, after this leaf's gradient is complete.

        As ``torch.Tensor.register_post_accumulate_grad_hook``: the hook runs
        when every contribution of the backward pass has been added to
        ``.grad``; ``DistributedDataParallel`` uses it to start averaging
        gradients while the rest of the backward still runs. Returns a handle
        whose ``remove()`` unregisters the hook.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.ones(2, requires_grad=True)
        >>> seen = []
        >>> handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
        >>> (w * 2 + w * 3).sum().backward()
        >>> seen
        [[5.0, 5.0]]
        >>> handle.remove()
        """
        if not self.is_leaf:
            raise RuntimeError(
                "post-accumulate-grad hooks can only be registered on leaf tensors "
                "(tensors created by the user, such as parameters)"
            )
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        from lucid.nn.modules.module import RemovableHandle

        global _grad_hooks_used
        _grad_hooks_used = True
        hooks: dict[_int, Callable[[Tensor], None]] | None = getattr(self, "_grad_hooks", None)
        if hooks is None:
            hooks = {}
            self._grad_hooks = hooks
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def backward(self, gradient: Any = None, retain_graph: _bool = False) -> None:
        """Compute the gradient of this tensor with respect to the graph's leaves.

        Parameters
        ----------
        gradient:
            Gradient of the final objective with respect to this tensor.
            May be omitted for a one-element tensor (it is then 1).
        retain_graph:
            Keep the graph's saved arrays so backward can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under lucid.no_grad())"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor, got shape "
                    f"{self.shape!r}; reduce it first (e.g. loss.sum()) or pass gradient="
                )
            g = np.ones_like(self.data)
        else:
            g = _to_array(gradient, self.data.dtype)
            if g.shape != self.shape:
                raise ValueError(
                    f"grad shape must match tensor shape, {g.shape!r} != {self.shape!r}"
                )
        run_backward(self, g, retain_graph)

    def _check_inplace(self, op: str, other: Any) -> None:
        if not _grad_state.enabled:
            return
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if self.requires_grad or other_grad:
            raise RuntimeError(
                f"in-place {op} on a tensor that takes part in autograd (requires_grad=True) "
                "would corrupt its gradients; write it out of place (x = x + y), or wrap it "
                "in `with lucid.no_grad():` if no gradient should flow"
            )

    # -------------------------------------------------------------- repr ---

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __hash__(self) -> _int:
        return id(self)

    # --------------------------------------------------------- arithmetic ---

    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def _inplace(self, op: str, ufunc: np.ufunc, other: Any) -> Tensor:
        self._check_inplace(op, other)
        if not self.data.flags.writeable:
            raise ValueError(
                f"in-place {op} on a read-only tensor of shape {self.shape!r} (an expand() or "
                "broadcast_to() view); make a copy first with .clone()"
            )
        other_arr = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, other_arr, out=self.data, casting="same_kind")
        except TypeError as e:
            raise TypeError(
                f"in-place {op} cannot store a {np.result_type(self.data, other_arr)} result "
                f"in a {self.dtype} tensor; convert first with .astype()"
            ) from e
        except ValueError as e:
            raise ValueError(
                f"in-place {op} cannot broadcast shape {np.shape(other_arr)!r} into the "
                f"tensor's shape {self.shape!r}"
            ) from e
        self._version.value += 1
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", np.true_divide, other)

    def add_(self, other: Any) -> Tensor:
        return self._inplace("add_", np.add, other)

    def sub_(self, other: Any) -> Tensor:
        return self._inplace("sub_", np.subtract, other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", np.true_divide, other)

    # ---------------------------------------------------------- comparison ---
    # Comparisons and logical operators give bool tensors and no gradient.

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater_equal, self, other)

    def __and__(self, other: Any) -> Tensor:
        return _ops.compare(np.logical_and, self, other)

    def __or__(self, other: Any) -> Tensor:
        return _ops.compare(np.logical_or, self, other)

    def __xor__(self, other: Any) -> Tensor:
        return _ops.compare(np.logical_xor, self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    # -------------------------------------------------- indexing and shape ---

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("item assignment", value)
        self.data[_ops.raw_index(index)] = value.data if isinstance(value, Tensor) else value
        self._version.value += 1

    def reshape(self, *shape: _int | Sequence[_int]) -> Tensor:
        return _ops.reshape(self, _ops.shape_arg(shape))

    def view(self, *shape: _int | Sequence[_int]) -> Tensor:
        return _ops.reshape(self, _ops.shape_arg(shape))

    def permute(self, *dims: _int | Sequence[_int]) -> Tensor:
        return _ops.permute(self, _ops.shape_arg(dims))

    def transpose(self, *dims: _int | Sequence[_int]) -> Tensor:
        """With two dims, swap them (PyTorch); with a full list, permute (NumPy style)."""
        return _ops.transpose(self, *dims)

    def swapaxes(self, axis0: _int, axis1: _int) -> Tensor:
        return _ops.swapaxes(self, axis0, axis1)

    def swapdims(self, dim0: _int, dim1: _int) -> Tensor:
        return _ops.swapaxes(self, dim0, dim1)

    def flatten(self, start_dim: _int = 0, end_dim: _int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    @_numpy_aliases
    def squeeze(self, dim: _Dims = None) -> Tensor:
        return _ops.squeeze(self, dim)

    @_numpy_aliases
    def unsqueeze(self, dim: _int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def expand(self, *shape: _int | Sequence[_int]) -> Tensor:
        return _ops.expand(self, _ops.shape_arg(shape))

    def broadcast_to(self, shape: Sequence[_int]) -> Tensor:
        return _ops.expand(self, tuple(shape))

    def repeat(self, *repeats: _int | Sequence[_int]) -> Tensor:
        return _ops.tile(self, _ops.shape_arg(repeats))

    def tile(self, *reps: _int | Sequence[_int]) -> Tensor:
        return _ops.tile(self, _ops.shape_arg(reps))

    @_numpy_aliases
    def split(self, split_size: _int | Sequence[_int], dim: _int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size, dim)

    @_numpy_aliases
    def chunk(self, chunks: _int, dim: _int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def contiguous(self) -> Tensor:
        return self

    # --------------------------------------------------------- reductions ---
    # Each takes dim=/keepdim= (or NumPy's axis=/keepdims=): see lucid._ops.

    @_numpy_aliases
    def sum(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.sum(self, dim, keepdim)

    @_numpy_aliases
    def mean(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.mean(self, dim, keepdim)

    @_numpy_aliases
    def var(
        self,
        dim: _Dims = None,
        unbiased: _bool | None = None,
        keepdim: _bool = False,
        *,
        correction: _float | None = None,
    ) -> Tensor:
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    @_numpy_aliases
    def std(
        self,
        dim: _Dims = None,
        unbiased: _bool | None = None,
        keepdim: _bool = False,
        *,
        correction: _float | None = None,
    ) -> Tensor:
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    @overload
    def max(self) -> Tensor: ...
    @overload
    def max(self, dim: _int, keepdim: _bool = False) -> return_types.max: ...
    @overload
    def max(self, dim: Tensor) -> Tensor: ...
    @_numpy_aliases
    def max(self, dim: Any = None, keepdim: _bool = False) -> Any:
        """The largest value, or ``(values, indices)`` along ``dim``: see :func:`lucid.max`."""
        return _ops.max(self, dim, keepdim)

    @overload
    def min(self) -> Tensor: ...
    @overload
    def min(self, dim: _int, keepdim: _bool = False) -> return_types.min: ...
    @overload
    def min(self, dim: Tensor) -> Tensor: ...
    @_numpy_aliases
    def min(self, dim: Any = None, keepdim: _bool = False) -> Any:
        """The smallest value, or ``(values, indices)`` along ``dim``: see :func:`lucid.min`."""
        return _ops.min(self, dim, keepdim)

    @_numpy_aliases
    def amax(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.amax(self, dim, keepdim)

    @_numpy_aliases
    def amin(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.amin(self, dim, keepdim)

    @_numpy_aliases
    def argmax(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor:
        return _ops.argmax(self, dim, keepdim)

    @_numpy_aliases
    def argmin(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor:
        return _ops.argmin(self, dim, keepdim)

    @_numpy_aliases
    def sort(
        self, dim: _int = -1, descending: _bool = False, stable: _bool = False
    ) -> return_types.sort:
        return _ops.sort(self, dim, descending, stable)

    @_numpy_aliases
    def topk(
        self, k: _int, dim: _int = -1, largest: _bool = True, sorted: _bool = True
    ) -> return_types.topk:
        return _ops.topk(self, k, dim, largest, sorted)

    @_numpy_aliases
    def logsumexp(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.logsumexp(self, dim, keepdim)

    @_numpy_aliases
    def softmax(self, dim: _int = -1) -> Tensor:
        return _ops.softmax(self, dim)

    @_numpy_aliases
    def log_softmax(self, dim: _int = -1) -> Tensor:
        return _ops.log_softmax(self, dim)

    @_numpy_aliases
    def cumsum(self, dim: _int) -> Tensor:
        return _ops.cumsum(self, dim)

    @_numpy_aliases
    def norm(self, p: Any = "fro", dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.norm(self, p, dim, keepdim)

    @_numpy_aliases
    def any(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    @_numpy_aliases
    def all(self, dim: _Dims = None, keepdim: _bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    # ---------------------------------------------------------- elementwise ---

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _ops.rsqrt(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def erf(self) -> Tensor:
        return _ops.erf(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        return _ops.gelu(self, approximate)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def clip(self, min: _float | None = None, max: _float | None = None) -> Tensor:
        return _ops.clip(self, min, max)

    clamp = clip

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)


# ------------------------------------------------------------- Function ---


class Function:
    """Base class of every differentiable operation, built-in or user-defined.

    Subclasses define two static methods that work on NumPy arrays:

    - ``forward(ctx, *inputs, **options) -> ndarray`` computes the output.
      Positional arguments are the inputs (tensors arrive as arrays, Python
      scalars as given); settings that are not differentiable, such as an
      axis, are keyword arguments. Arrays needed later go through
      ``ctx.save_for_backward``; anything else can be stored on ``ctx``.
    - ``backward(ctx, grad) -> ndarray | tuple`` returns one gradient per
      positional input (``None`` where there is none, e.g. for an input with
      ``ctx.needs_input_grad[i]`` false), each of that input's shape.
      ``lucid.autograd.unbroadcast`` undoes broadcasting; ``ctx.input_shapes``
      holds each input's shape (``None`` for a non-tensor).

    Call ``MyFunction.apply(*inputs, **options)``, never ``forward`` itself.
    When grad mode is off or no input requires a gradient, ``apply`` records
    nothing: the context and what it saved are freed at once, and
    ``ctx.needs_input_grad`` is empty during ``forward``, so a forward can skip
    work that only ``backward`` would use. ``backward`` must not modify
    ``grad`` in place: the same array may also flow to other inputs.

    Examples
    --------
    >>> import numpy as np, lucid
    >>> class Cube(lucid.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_arrays
    ...         return 3 * x**2 * grad
    >>> x = lucid.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad.tolist()
    [12.0]
    """

    # Filled in by ``apply`` on the instance that becomes the graph node.
    saved_arrays: tuple[np.ndarray, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()
    # True on an op whose output shares its first input's storage.
    _is_view = False

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError("a Function subclass must define forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep ``arrays`` for ``backward``; read them back as ``ctx.saved_arrays``."""
        self.saved_arrays = arrays

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the operation on ``args`` and, if gradients are needed, record it."""
        ctx = cls()
        record = False
        if _grad_state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    record = True
                    break
        if record:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        out = cls.forward(ctx, *[a.data if isinstance(a, Tensor) else a for a in args], **kwargs)
        if type(out) is not np.ndarray or out.dtype.kind not in "fiub":
            out = _forward_result(cls, out)
        result = Tensor._from_array(out, requires_grad=record)
        if cls._is_view and isinstance(args[0], Tensor):
            # Views share storage, so they share the version counter too: an
            # in-place change through either is seen by both.
            result._version = args[0]._version
        if record:
            ctx._record(args, result)
        return result

    # ----------------------------------------------------------- graph node ---

    def _record(self, args: tuple[Any, ...], result: Tensor) -> None:
        # Edges point at the producing node of each input, or at the leaf
        # tensor itself: never at a non-leaf Tensor, so in-place rebinding of
        # a tensor cannot create a cycle.
        parents: list[Any] = []
        shapes: list[tuple[int, ...] | None] = []
        dtypes: list[np.dtype | None] = []
        for a in args:
            if isinstance(a, Tensor):
                parents.append((a._ctx if a._ctx is not None else a) if a.requires_grad else None)
                shapes.append(a.data.shape)
                dtypes.append(a.data.dtype)
            else:
                parents.append(None)
                shapes.append(None)
                dtypes.append(None)
        self.parents = tuple(parents)
        self.input_shapes = tuple(shapes)
        self.input_dtypes = tuple(dtypes)
        # Remember the version of every tensor whose storage backward will
        # read, to refuse a backward through data changed in place since.
        checked: list[tuple[_Version, int, str]] = []
        for saved in self.saved_arrays:
            for i, a in enumerate(args):
                if isinstance(a, Tensor) and a.data is saved:
                    checked.append((a._version, a._version.value, f"input {i}"))
            if result.data is saved:
                checked.append((result._version, result._version.value, "output"))
        self.version_checks = checked
        self.freed = False
        result._ctx = self

    def _check_versions(self) -> None:
        for counter, expected, which in self.version_checks:
            if counter.value != expected:
                raise RuntimeError(
                    f"a tensor needed to compute gradients ({which} of {type(self).__name__}) "
                    f"was modified in place: its version is {counter.value}, expected "
                    f"{expected}. Use an out-of-place operation (x = x + y) instead."
                )


def _forward_result(fn: type[Function], out: Any) -> np.ndarray:
    """A forward's result as an array of numbers, or an error naming the Function."""
    if isinstance(out, np.ndarray | np.generic | _int | _float):
        arr = np.asarray(out)
        if arr.dtype.kind in "fiub":
            return arr
    raise TypeError(
        f"{fn.__name__}.forward returned {type(out).__name__} {getattr(out, 'dtype', '')}".rstrip()
        + "; it must return a NumPy array of numbers (floating, integer or bool), e.g. "
        "np.asarray(result)"
    )


# ---------------------------------------------------------------- backward ---


def _topological_order(root: Function) -> list[Function]:
    """Nodes reachable from ``root``, each after all nodes that consume it."""
    order: list[Function] = []
    visited: set[int] = {id(root)}
    stack: list[tuple[Function, int]] = [(root, 0)]
    # Iterative post-order DFS: deep models exceed Python's recursion limit.
    while stack:
        node, i = stack.pop()
        parents = node.parents
        while i < len(parents):
            p = parents[i]
            i += 1
            if isinstance(p, Function) and id(p) not in visited:
                visited.add(id(p))
                stack.append((node, i))
                stack.append((p, 0))
                break
        else:
            order.append(node)
    order.reverse()
    return order


# Set by the first register_post_accumulate_grad_hook(): until then no backward
# spends time looking for hooked leaves.
_grad_hooks_used = False


class _PendingHooks:
    """Leaves with post-accumulate hooks, and how many gradients each still awaits."""

    def __init__(self, order: list[Function]) -> None:
        self.leaves: dict[int, Tensor] = {}
        self.waiting: dict[int, int] = {}
        self.received: set[int] = set()
        if not _grad_hooks_used:
            return
        for node in order:
            for parent in node.parents:
                if isinstance(parent, Tensor) and getattr(parent, "_grad_hooks", None):
                    self.leaves[id(parent)] = parent
                    self.waiting[id(parent)] = self.waiting.get(id(parent), 0) + 1

    def arrived(self, leaf: Tensor, accumulated: bool) -> None:
        key = id(leaf)
        if accumulated:
            self.received.add(key)
        self.waiting[key] -= 1
        if self.waiting[key] == 0:
            del self.waiting[key]
            if key in self.received:
                _run_grad_hooks(leaf)

    def finish(self) -> None:
        # A node that got no gradient never passes one on: leaves still waiting
        # for it are complete now, and fire if anything reached them.
        for key in list(self.waiting):
            if key in self.received:
                _run_grad_hooks(self.leaves[key])
        self.waiting.clear()


def _run_grad_hooks(leaf: Tensor) -> None:
    for hook in list(leaf._grad_hooks.values()):
        hook(leaf)


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool) -> None:
    """Propagate ``grad`` from ``root`` to every leaf that requires a gradient."""
    if root._ctx is None:
        _accumulate(root, grad)
        if getattr(root, "_grad_hooks", None):
            _run_grad_hooks(root)
        return
    grads: dict[int, np.ndarray] = {id(root._ctx): grad}
    order = _topological_order(root._ctx)
    hooked = _PendingHooks(order)
    for node in order:
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time ({type(node).__name__} "
                "has already freed its saved arrays); pass retain_graph=True to the first "
                "backward() if you need to call it twice"
            )
        node._check_versions()
        input_grads = type(node).backward(node, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.parents):
            raise RuntimeError(
                f"{type(node).__name__}.backward returned {len(input_grads)} gradients, "
                f"expected {len(node.parents)} (one per input of forward)"
            )
        edges = zip(node.parents, node.input_shapes, node.input_dtypes, input_grads, strict=True)
        for parent, shape, dtype, pg in edges:
            if parent is None or pg is None:
                if hooked.waiting and id(parent) in hooked.waiting:
                    hooked.arrived(parent, accumulated=False)
                continue
            pg = np.asarray(pg)
            if pg.shape != shape:
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned a gradient of shape "
                    f"{pg.shape!r} for an input of shape {shape!r}"
                )
            if pg.dtype != dtype:
                # A float32 input of a mixed-precision op gets a float32 gradient,
                # so float64 never leaks into the rest of its graph.
                pg = pg.astype(dtype)
            if isinstance(parent, Tensor):
                _accumulate(parent, pg)
                if hooked.waiting and id(parent) in hooked.waiting:
                    hooked.arrived(parent, accumulated=True)
            else:
                key = id(parent)
                previous = grads.get(key)
                grads[key] = pg if previous is None else previous + pg
        if not retain_graph:
            node.saved_arrays = ()
            node.freed = True
    if hooked.waiting:
        hooked.finish()


# Accumulation into a leaf's .grad holds a lock, as in PyTorch: threads that
# back-propagate into the same leaves at once would otherwise lose updates
# (NumPy releases the GIL inside ``+=``, and two threads could both find
# ``grad`` unset). Leaves share 64 locks by address, so threads working on
# different parameters rarely wait; an uncontended lock costs a fraction of
# a microsecond per leaf.
_GRAD_LOCKS = tuple(threading.Lock() for _ in range(64))


def _accumulate(leaf: Tensor, grad: np.ndarray) -> None:
    grad = grad.astype(leaf.data.dtype, copy=False)
    with _GRAD_LOCKS[(id(leaf) >> 4) & 63]:
        if leaf.grad is None:
            # Copy: a backward may hand the same array to several inputs.
            leaf.grad = Tensor._from_array(np.array(grad, copy=True))
        else:
            leaf.grad.data += grad


# The one import cycle of the engine, documented here: the ops build on
# Tensor and Function, and Tensor's methods call the ops. Imported last, when
# both classes exist.
from lucid import _ops  # noqa: E402
