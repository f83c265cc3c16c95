"""``Module``: the base class of every layer and model, with PyTorch's registration semantics."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import numpy as np

from lucid._tensor import Tensor, to_dtype
from lucid.nn._meta import is_meta, placeholder
from lucid.nn.parameter import Parameter

M = TypeVar("M", bound="Module")

# ---------------------------------------------------------------- hooks ---


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``remove()`` unregisters the hook.

    Also a context manager: the hook is removed when the ``with`` block ends.
    """

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )


def _indent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first (for nesting a child's repr)."""
    first, *rest = text.split("\n")
    pad = " " * spaces
    return "\n".join([first, *(pad + line for line in rest)])


# --------------------------------------------------------------- Module ---


class Module:
    """Base class for layers and models.

    Subclasses call ``super().__init__()`` first, then assign parameters,
    sub-modules and buffers as attributes, and define ``forward``. Calling
    the module runs its forward pre-hooks, ``forward`` and forward hooks.

    Examples
    --------
    >>> import lucid
    >>> from lucid import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = nn.Linear(4, 8)
    ...         self.fc2 = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    >>> model(lucid.zeros(3, 4)).shape
    (3, 2)
    >>> model
    TwoLayer(
      (fc1): Linear(in_features=4, out_features=8, bias=True)
      (fc2): Linear(in_features=8, out_features=2, bias=True)
    )
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module | None]
    _forward_pre_hooks: dict[int, Callable[..., Any]]
    _forward_hooks: dict[int, Callable[..., Any]]

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these registries to exist.
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", {})
        set_(self, "_buffers", {})
        set_(self, "_non_persistent_buffers", set())
        set_(self, "_modules", {})
        set_(self, "_forward_pre_hooks", {})
        set_(self, "_forward_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(); define forward() in the subclass"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            new_args = hook(self, args)
            if new_args is not None:
                args = new_args if isinstance(new_args, tuple) else (new_args,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            new_output = hook(self, args, output)
            if new_output is not None:
                output = new_output
        return output

    # ------------------------------------------------------ registration ---

    def _require_init(self, what: str, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} {name!r} before Module.__init__() has run; call "
                f"super().__init__() at the start of {type(self).__name__}.__init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._require_init("parameter", name)
            self._forget(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._require_init("module", name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in d and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}; assign a lucid.nn.Parameter or None"
                )
            self._parameters[name] = None
        elif "_modules" in d and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to sub-module {name!r} of "
                    f"{type(self).__name__}; assign a lucid.nn.Module or None"
                )
            self._modules[name] = None
        elif "_buffers" in d and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to buffer {name!r} of "
                    f"{type(self).__name__}; assign a lucid.Tensor or None"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if not self._forget(name):
            object.__delattr__(self, name)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> bool:
        """Drop ``name`` from the registries (but ``keep``) and the instance dict.

        Returns whether it was anywhere. Keeping the registry being assigned
        to preserves the entry's position, hence the order of ``state_dict()``.
        """
        found = False
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            if registry is not keep and name in registry:
                del registry[name]
                found = True
        self._non_persistent_buffers.discard(name)
        return found

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        names.update(self._parameters, self._buffers, self._modules)
        return sorted(names)

    def _check_new_name(self, kind: str, name: str, registry: Mapping[str, Any]) -> None:
        self._require_init(kind, name)
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
        if name not in registry and hasattr(self, name):
            raise KeyError(
                f"attribute {name!r} already exists on {type(self).__name__}; pick another "
                f"name for the {kind}"
            )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or ``None``, a declared but absent parameter) under ``name``."""
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot register a {type(param).__name__} as parameter {name!r}; wrap it: "
                "lucid.nn.Parameter(tensor)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Parameters
        ----------
        name:
            Attribute name of the buffer.
        tensor:
            The buffer, or ``None``.
        persistent:
            Whether the buffer is part of ``state_dict()``.

        Examples
        --------
        >>> import lucid
        >>> m = lucid.nn.Module()
        >>> m.register_buffer("steps", lucid.zeros(1))
        >>> m.register_buffer("cache", lucid.zeros(2), persistent=False)
        >>> list(m.state_dict())
        ['steps']
        """
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot register a {type(tensor).__name__} as buffer {name!r}; pass a "
                "lucid.Tensor or None"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child called ``name`` (same as assigning the attribute)."""
        self._check_new_name("module", name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a lucid.nn.Module")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` (``""`` is this module)."""
        module: Module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(module).__name__} has no sub-module {part!r} (looking up {target!r})"
                )
            module = child
        return module

    # --------------------------------------------------------- iteration ---

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, with dotted names; a module reached twice comes once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and all below it, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names, each once."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, each once."""
        for _, child in self.named_children():
            yield child

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with dotted names; a parameter shared by several modules comes once.

        Examples
        --------
        >>> from lucid import nn
        >>> a = nn.Linear(2, 2)
        >>> model = nn.Sequential(a, nn.ReLU(), a)
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias']
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (only this module's own with ``recurse=False``), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Buffers (persistent or not) with dotted names, each once."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers (persistent or not), each once."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------- modes ---

    def train(self: M, mode: bool = True) -> M:
        """Set training mode here and in every sub-module; returns ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode) expects a bool, got {mode!r}")
        self.training = mode
        # Through each child's train(): a layer may override it (e.g. to keep
        # BatchNorm frozen).
        for child in self.children():
            child.train(mode)
        return self

    def eval(self: M) -> M:
        """Set evaluation mode (``train(False)``): dropout off, BatchNorm uses running stats."""
        return self.train(False)

    def apply(self: M, fn: Callable[[Module], None]) -> M:
        """Call ``fn`` on every sub-module (children first) and then on ``self``; returns ``self``.

        Examples
        --------
        >>> from lucid import nn
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        >>> def zero_bias(m):
        ...     if isinstance(m, nn.Linear):
        ...         nn.init.zeros_(m.bias)
        >>> float(model.apply(zero_bias)[1].bias.sum())
        0.0
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to ``None`` by default, as PyTorch does)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.data.fill(0)

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Set ``requires_grad`` on every parameter (e.g. to freeze a model); returns ``self``."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------- dtype ---

    def _cast_floating(self: M, dtype: np.dtype) -> M:
        # Parameters keep their identity (an optimizer may hold them): only
        # their storage changes. Integer buffers such as counters stay as they are.
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for tensor in registry.values():
                    if tensor is None or tensor.data.dtype.kind != "f":
                        continue
                    if tensor.data.dtype != dtype:
                        # A placeholder stays one: astype would allocate it in full.
                        tensor.data = (
                            placeholder(tensor.shape, dtype)
                            if is_meta(tensor)
                            else tensor.data.astype(dtype)
                        )
                        tensor._version.value += 1
                    if tensor.grad is not None and tensor.grad.data.dtype != dtype:
                        tensor.grad.data = tensor.grad.data.astype(dtype)
        return self

    def to(
        self: M, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False
    ) -> M:
        """Convert floating parameters and buffers to a dtype; returns ``self``.

        Takes what ``torch.nn.Module.to`` takes: a dtype (``lucid.float64``,
        also ``"float64"``), a device (``"cpu"`` or ``lucid.device("cpu")``,
        accepted and ignored, since lucid runs on the CPU), a tensor, or the
        keywords ``dtype=``/``device=``.

        Examples
        --------
        >>> import lucid
        >>> layer = lucid.nn.Linear(2, 2).to(lucid.float64)
        >>> layer.weight.dtype
        dtype('float64')
        >>> layer.to("cpu") is layer
        True
        """
        target = to_dtype(args, dtype, device)
        if target is not None and target.kind != "f":
            raise TypeError(
                f"to() converts parameters to a floating dtype, got {target}; integer "
                "parameters cannot hold gradients"
            )
        return self if target is None else self._cast_floating(target)

    def float(self: M) -> M:
        """Convert floating parameters and buffers to float32; returns ``self``."""
        return self._cast_floating(np.dtype(np.float32))

    def double(self: M) -> M:
        """Convert floating parameters and buffers to float64; returns ``self``."""
        return self._cast_floating(np.dtype(np.float64))

    # -------------------------------------------------------------- hooks ---

    def register_forward_pre_hook(
        self, hook: Callable[[Module, tuple[Any, ...]], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``.

        A hook returning something other than ``None`` replaces the positional
        arguments (a single value is wrapped in a tuple).
        """
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(
        self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
    ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``.

        A hook returning something other than ``None`` replaces the output.

        Examples
        --------
        >>> import lucid
        >>> layer = lucid.nn.Linear(3, 2)
        >>> shapes = []
        >>> handle = layer.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
        >>> _ = layer(lucid.zeros(5, 3))
        >>> handle.remove()
        >>> _ = layer(lucid.zeros(1, 3))
        >>> shapes
        [(5, 2)]
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -------------------------------------------------------- state dict ---

    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        # Every module's own entries, then its children's: shared modules and
        # parameters appear under each of their names, as in PyTorch.
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_items(f"{prefix}{name}.")

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name.

        The values share data with the model but are detached from the graph
        (``keep_vars=True`` gives the parameters themselves).

        Examples
        --------
        >>> from lucid import nn
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm2d(3))
        >>> list(model.state_dict())  # doctest: +NORMALIZE_WHITESPACE
        ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var',
         '1.num_batches_tracked']
        """
        return OrderedDict(
            (name, value if keep_vars else value.detach())
            for name, value in self._state_items(prefix)
        )

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module.

        Every key is checked before anything is copied, so a failed load
        leaves the module unchanged. Values may be lucid tensors or NumPy
        arrays; they are cast to the dtype of the tensor they are copied into.

        Parameters
        ----------
        state_dict:
            Dotted name to tensor, as ``state_dict()`` returns.
        strict:
            Raise when keys are missing or unexpected. Shapes must match
            whatever ``strict`` says.

        Returns
        -------
        A named tuple ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        RuntimeError
            Listing every missing, unexpected (when ``strict``) and mis-shaped key.

        Examples
        --------
        >>> from lucid import nn
        >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        >>> b.load_state_dict({"weight": a.weight}, strict=False)
        _IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict expects a mapping of names to tensors, got "
                f"{type(state_dict).__name__}"
            )
        own = dict(self._state_items())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        problems: list[str] = []
        arrays: dict[str, np.ndarray] = {}
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            try:
                array = value.data if isinstance(value, Tensor) else np.asarray(value)
            except Exception as e:
                problems.append(f"{name}: cannot read a {type(value).__name__} as an array ({e})")
                continue
            if array.dtype.kind not in "fiub":
                problems.append(f"{name}: expected numeric data, got dtype {array.dtype}")
            elif is_meta(target):
                problems.append(
                    f"{name}: the model was built under lucid.nn.meta_init() and holds no "
                    "storage; build it outside meta_init() to load weights"
                )
            elif array.shape != target.shape:
                problems.append(
                    f"size mismatch for {name}: the checkpoint has shape {array.shape}, the "
                    f"model has {target.shape}"
                )
            else:
                arrays[name] = array
        if strict:
            if missing:
                problems.insert(0, "missing key(s): " + ", ".join(map(repr, missing)))
            if unexpected:
                problems.insert(
                    bool(missing), "unexpected key(s): " + ", ".join(map(repr, unexpected))
                )
        if problems:
            hint = (
                "; pass strict=False to load a partial state dict"
                if strict and (missing or unexpected)
                else ""
            )
            raise RuntimeError(
                f"error(s) loading state_dict into {type(self).__name__}{hint}; nothing was "
                "copied:\n\t" + "\n\t".join(problems)
            )
        for name, array in arrays.items():
            target = own[name]
            np.copyto(target.data, array, casting="unsafe")
            target._version.value += 1
        return _IncompatibleKeys(missing, unexpected)

    # -------------------------------------------------------------- repr ---

    def extra_repr(self) -> str:
        """This module's settings for ``repr`` (override in layers, e.g. ``in_features=4``)."""
        return ""

    def _child_lines(self) -> list[str]:
        return [
            f"({name}): {_indent(repr(child), 2)}"
            for name, child in self._modules.items()
            if child is not None
        ]

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = self._child_lines()
        if not child_lines and len(extra_lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(extra_lines + child_lines)
        return f"{type(self).__name__}(\n  {body}\n)"
