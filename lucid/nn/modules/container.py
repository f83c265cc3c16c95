"""Containers: ``Sequential``, ``ModuleList`` and ``ModuleDict``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, overload

from lucid.nn.modules.module import Module, _indent


def _index(i: int, length: int, what: str) -> int:
    if not -length <= i < length:
        raise IndexError(f"index {i} is out of range for a {what} of length {length}")
    return i % length


class Sequential(Module):
    """Modules called one after another, each on the previous one's output.

    Built from modules (named ``"0"``, ``"1"``, ...) or from an ordered dict
    of names to modules.

    Examples
    --------
    >>> import lucid
    >>> from lucid import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> model(lucid.zeros(2, 4)).shape
    (2, 1)
    >>> model[0]
    Linear(in_features=4, out_features=8, bias=True)
    """

    def __init__(self, *args: Module | Mapping[str, Module]) -> None:
        super().__init__()
        first = args[0] if len(args) == 1 else None
        if isinstance(first, Mapping):
            for name, child in first.items():
                self.add_module(name, child)
        else:
            for i, arg in enumerate(args):
                self.add_module(str(i), arg)  # type: ignore[arg-type]

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)  # type: ignore[misc]
        return x

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Module | Sequential:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))  # type: ignore[arg-type]
        return items[_index(index, len(items), "Sequential")][1]  # type: ignore[return-value]

    def __setitem__(self, index: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)
        doomed = keys[index] if isinstance(index, slice) else [keys[_index(index, len(keys), "")]]
        for key in doomed:
            del self._modules[key]
        # Renumber so that the names stay "0", "1", ... when they were numbers.
        if all(key.isdigit() for key in keys):
            modules = list(self._modules.values())
            self._modules.clear()
            for i, module in enumerate(modules):
                self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of sub-modules, registered so their parameters are found.

    Examples
    --------
    >>> from lucid import nn
    >>> blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    >>> len(blocks), len(list(blocks.parameters()))
    (3, 6)
    >>> blocks
    ModuleList(
      (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)
    )
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...
    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])  # type: ignore[arg-type]
        return modules[_index(index, len(modules), "ModuleList")]  # type: ignore[return-value]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_index(index, len(modules), "ModuleList")]
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end; returns ``self``."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def _child_lines(self) -> list[str]:
        # Runs of identical blocks print once, as "(2-17): 16 x Block(...)".
        lines: list[str] = []
        items = [(name, repr(child)) for name, child in self._modules.items()]
        start = 0
        while start < len(items):
            end = start
            while end + 1 < len(items) and items[end + 1][1] == items[start][1]:
                end += 1
            text = _indent(items[start][1], 2)
            if end == start:
                lines.append(f"({items[start][0]}): {text}")
            else:
                count = end - start + 1
                lines.append(f"({items[start][0]}-{items[end][0]}): {count} x {text}")
            start = end + 1
        return lines


class ModuleDict(Module):
    """A dict of sub-modules by name, registered so their parameters are found.

    Examples
    --------
    >>> from lucid import nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 10), "box": nn.Linear(4, 4)})
    >>> list(heads.keys()), heads["box"].out_features
    (['cls', 'box'], 4)
    """

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()  # type: ignore[return-value]

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()  # type: ignore[return-value]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or from (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove the entry ``key`` and return its module."""
        return self._modules.pop(key)  # type: ignore[return-value]

    def clear(self) -> None:
        self._modules.clear()
