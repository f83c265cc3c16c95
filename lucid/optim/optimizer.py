"""``Optimizer``: the base class holding parameter groups, per-parameter state and checkpoints."""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeAlias

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import enable_grad

ParamsT: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state, checkpoints.

    Subclasses pass their options' defaults to ``__init__``, check one group's
    options in ``_check_group`` and implement ``step``, which updates each
    parameter's ``.data`` in place from its ``.grad``.

    Parameters
    ----------
    params:
        The tensors to optimize (e.g. ``model.parameters()``), or dicts that each
        hold a ``"params"`` list and options overriding ``defaults`` for that group.
    defaults:
        The value of every option, for the groups that do not set it.

    Attributes
    ----------
    param_groups:
        One dict per group: ``"params"`` (a list of tensors) and every option.
        Schedulers change ``group["lr"]`` here.
    state:
        Per-parameter state (momentum buffers, moment estimates...), keyed by
        the parameter tensor.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0, 2.0], requires_grad=True)
    >>> b = lucid.Tensor([0.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.5]
    """

    # What a parameter's state may hold, which ``load_state_dict`` checks entry by entry:
    # "moment" is a floating tensor of the parameter's shape, "square" the same with
    # every element >= 0 (a running mean of squares), "count" a non-negative int.
    _state_kinds: ClassVar[Mapping[str, str]] = {}

    def __init__(self, params: ParamsT, defaults: Mapping[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of tensors or of parameter-group dicts, got a single "
                "Tensor; pass [tensor] or model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError(
                "the optimizer got an empty parameter list; pass the tensors to optimize, "
                "e.g. model.parameters() of a model that has parameters"
            )
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------- groups ---

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own options (defaults fill the rest).

        Useful to start training layers that were frozen until now.

        Parameters
        ----------
        param_group:
            A dict with a ``"params"`` entry (a tensor or an iterable of
            tensors) and any options to set for this group.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0], requires_grad=True)
        >>> head = lucid.Tensor([2.0], requires_grad=True)
        >>> opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> opt.add_param_group({"params": [head], "lr": 0.01})
        >>> opt.param_groups[1]["lr"], opt.param_groups[1]["momentum"]
        (0.01, 0.9)
        """
        if not isinstance(param_group, Mapping):
            raise TypeError(
                f"a parameter group must be a dict with a 'params' entry, got "
                f"{type(param_group).__name__}; pass either tensors only or dicts only"
            )
        if "params" not in param_group:
            raise ValueError(
                f"a parameter group needs a 'params' entry, got keys {sorted(param_group)}"
            )
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        else:
            params = list(params)
        owner = {id(p): i for i, g in enumerate(self.param_groups) for p in g["params"]}
        seen: set[int] = set()
        for i, p in enumerate(params):
            _check_param(p, i)
            if id(p) in seen:
                raise ValueError(
                    f"params[{i}] appears twice in the same parameter group; list each tensor once"
                )
            if id(p) in owner:
                raise ValueError(
                    f"params[{i}] already belongs to parameter group {owner[id(p)]}; a tensor "
                    "can be in only one group"
                )
            seen.add(id(p))
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        group["params"] = params
        self._check_options(group)
        self.param_groups.append(group)

    def _check_options(self, group: dict[str, Any]) -> None:
        """Raise ``TypeError`` or ``ValueError`` if an option of ``group`` is of a wrong kind."""
        for name, default in self.defaults.items():
            _check_option_type(name, group[name], default)
        if "initial_lr" in group:
            _check_option_type("initial_lr", group["initial_lr"], 0.0)
        self._check_group(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` if one of ``group``'s options is out of range."""

    def _required_state(self, group: Mapping[str, Any]) -> set[str]:
        """The entries a parameter's non-empty state must hold, given its group's options."""
        return set(self._state_kinds)

    # --------------------------------------------------------------- step ---

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every optimized parameter.

        Parameters
        ----------
        set_to_none:
            Set ``.grad`` to ``None`` (frees the memory, and the parameter is
            skipped by ``step`` until it gets a gradient again) instead of
            filling it with zeros.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0, 2.0], requires_grad=True)
        >>> (w * w).sum().backward()
        >>> opt = lucid.optim.SGD([w], lr=0.1)
        >>> opt.zero_grad(set_to_none=False)
        >>> w.grad.tolist()
        [0.0, 0.0]
        >>> opt.zero_grad()
        >>> w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    # A gradient that is itself part of a graph is cut from it before zeroing.
                    if p.grad._ctx is not None:
                        p.grad = p.grad.detach()
                    p.grad.requires_grad = False
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s result.

        Parameters
        ----------
        closure:
            A function that recomputes the loss (running ``backward``) and
            returns it; it runs with gradient recording enabled, before the update.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        """Run the optional closure that recomputes the loss and its gradients."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _grads(self) -> list[list[tuple[Tensor, np.ndarray]]]:
        """For each group, ``(parameter, gradient array)`` of the parameters that have a gradient.

        Every gradient is checked before ``step`` changes anything, so a bad one
        leaves all parameters and all state as they were.
        """
        grads = []
        for i, group in enumerate(self.param_groups):
            pairs = []
            for j, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.data.shape:
                    raise ValueError(
                        f"param_groups[{i}]['params'][{j}], a parameter of shape "
                        f"{p.data.shape!r}, has a gradient of shape {grad.shape!r}; assign "
                        ".grad a tensor of the parameter's shape"
                    )
                if grad.dtype.kind != "f":
                    raise TypeError(
                        f"param_groups[{i}]['params'][{j}] has a gradient of dtype {grad.dtype}; "
                        f"assign .grad a floating tensor (the parameter is {p.data.dtype})"
                    )
                # Another floating dtype is computed in the parameter's own.
                pairs.append((p, grad.astype(p.data.dtype, copy=False)))
            grads.append(pairs)
        return grads

    # --------------------------------------------------------- checkpoints ---

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer: per-parameter state and group options.

        The layout is PyTorch's: ``"state"`` maps each parameter's index (its
        position across all groups, in order) to its state, and
        ``"param_groups"`` lists each group's options with ``"params"`` as
        those indices. Arrays are copied, so later steps do not change it.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0, 2.0], requires_grad=True)
        >>> opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = lucid.Tensor([1.0, 1.0])
        >>> opt.step()
        >>> sd = opt.state_dict()
        >>> sd["param_groups"][0]["params"], list(sd["state"][0])
        ([0], ['momentum_buffer'])
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = [index.setdefault(id(p), len(index)) for p in group["params"]]
            options = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            groups.append({**options, "params": ids})
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in self.state[p].items()}
            for group in self.param_groups
            for p in group["params"]
            if p in self.state
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a snapshot taken by ``state_dict`` (of an optimizer built the same way).

        Everything is checked before anything changes, and on error the
        optimizer is left as it was: the group count and each group's
        parameter count, each option's type and range, and each parameter's
        state entry by entry (no unknown or missing entries; moments are
        floating tensors of the parameter's shape, Adam's running means of
        squares are >= 0, ``step`` is a non-negative int). Floating state is
        cast to its parameter's dtype, and arrays are copied. PyTorch's Adam
        keeps ``step`` as a 0-d tensor: one holding a whole number is
        converted to an int.

        Parameters
        ----------
        state_dict:
            A dict with ``"state"`` and ``"param_groups"``, as returned by
            ``state_dict``.

        Raises
        ------
        TypeError
            An entry of the wrong type or dtype; the message names it.
        ValueError
            Counts, shapes, keys or values that do not fit this optimizer.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0, 2.0], requires_grad=True)
        >>> opt = lucid.optim.Adam([w], lr=0.1)
        >>> w.grad = lucid.Tensor([1.0, 1.0])
        >>> opt.step()
        >>> fresh = lucid.optim.Adam([w], lr=0.1)
        >>> fresh.load_state_dict(opt.state_dict())
        >>> fresh.state[w]["step"]
        1
        """
        new_groups = self._load_groups(state_dict)
        by_index = {
            idx: (p, group)
            for group, saved in zip(new_groups, state_dict["param_groups"], strict=True)
            for idx, p in zip(saved["params"], group["params"], strict=True)
        }
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise TypeError(
                f"the state dict's 'state' must be a dict of parameter index to state, got "
                f"{type(saved_state).__name__}"
            )
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for idx, entries in saved_state.items():
            if idx not in by_index:
                raise ValueError(
                    f"the state dict has state for parameter index {idx!r}, which none of its "
                    f"parameter groups lists (they list {sorted(by_index)})"
                )
            p, group = by_index[idx]
            new_state[p] = self._load_param_state(idx, entries, p, group)
        # Everything is checked: only now does the optimizer change.
        self.param_groups = new_groups
        self.state = new_state

    def _load_groups(self, state_dict: Any) -> list[dict[str, Any]]:
        """The parameter groups ``state_dict`` describes, checked against this optimizer's."""
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            found = sorted(map(repr, state_dict)) if isinstance(state_dict, Mapping) else None
            raise ValueError(
                f"expected an optimizer state dict with keys 'state' and 'param_groups', got "
                f"{f'keys {found}' if found is not None else type(state_dict).__name__}; pass "
                "the result of optimizer.state_dict()"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, (list, tuple)):
            raise TypeError(
                f"the state dict's 'param_groups' must be a list, got {type(saved_groups).__name__}"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state dict has {len(saved_groups)} parameter group(s) but this optimizer "
                f"has {len(self.param_groups)}; build the optimizer with the same parameter "
                "groups as the one that was saved"
            )
        seen: set[int] = set()
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            where = f"param_groups[{i}] of the state dict"
            if not isinstance(saved, Mapping) or "params" not in saved:
                raise ValueError(
                    f"{where} must be a dict with a 'params' list, got {_brief(saved)}"
                )
            ids = saved["params"]
            if not isinstance(ids, (list, tuple)) or not all(_is_int(k) for k in ids):
                raise TypeError(
                    f"{where} lists params {_brief(ids)}; expected a list of int indices"
                )
            if seen & set(ids) or len(set(ids)) != len(ids):
                raise ValueError(f"{where} lists a parameter index twice: {ids!r}")
            seen.update(ids)
            if len(ids) != len(group["params"]):
                raise ValueError(
                    f"parameter group {i} of the state dict has {len(ids)} parameter(s) but "
                    f"this optimizer's group {i} has {len(group['params'])}; build the "
                    "optimizer with the same parameters, in the same order, as the saved one"
                )
            options = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group = {**group, **options, "params": group["params"]}
            try:
                self._check_options(new_group)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{where}: {e}") from None
            new_groups.append(new_group)
        return new_groups

    def _load_param_state(
        self, idx: int, entries: Any, param: Tensor, group: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A checked copy of one parameter's saved state, cast to the parameter's dtype."""
        where = f"the state of parameter {idx!r}"
        if not isinstance(entries, Mapping):
            raise TypeError(f"{where} must be a dict, got {type(entries).__name__}")
        unknown = sorted(set(entries) - set(self._state_kinds), key=repr)
        if unknown:
            raise ValueError(
                f"{where} has entries {unknown!r}, which {type(self).__name__} does not keep "
                f"(it keeps {sorted(self._state_kinds)})"
            )
        missing = sorted(self._required_state(group) - set(entries)) if entries else []
        if missing:
            raise ValueError(
                f"{where} lacks {missing!r}; a {type(self).__name__} state has "
                f"{sorted(self._required_state(group))}"
            )
        return {
            key: _load_state_value(
                self._state_kinds[key], value, param, f"state {key!r} of parameter {idx!r}"
            )
            for key, value in entries.items()
        }

    # --------------------------------------------------------------- repr ---

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)


# ------------------------------------------------------------- helpers ---

_SET_MESSAGE = (
    "optimizer parameters must be an ordered collection, got a set (its order changes between "
    "runs, and so would the state dict's parameter indices); pass a list"
)


def _check_param(p: Any, i: int) -> None:
    """Raise if ``p``, item ``i`` of a group's params, cannot be optimized."""
    if isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], Tensor):
        raise TypeError(
            f"params[{i}] is a (name, tensor) pair; pass model.parameters() rather than "
            "model.named_parameters()"
        )
    if not isinstance(p, Tensor):
        raise TypeError(f"the optimizer can only optimize Tensors, but params[{i}] is a {type(p)}")
    if not p.is_leaf:
        raise ValueError(
            f"params[{i}] was computed from other tensors (it is not a leaf); optimize the "
            "leaves, or make a leaf with .detach().requires_grad_()"
        )
    if p.data.dtype.kind != "f":
        raise TypeError(
            f"only floating tensors can be optimized, params[{i}] has dtype {p.data.dtype}"
        )


def _check_non_negative(group: Mapping[str, Any], *names: str) -> None:
    """Raise ``ValueError`` naming the first of the group's options ``names`` that is below 0."""
    for name in names:
        value = group[name]
        if not value >= 0:  # written so that NaN fails too
            raise ValueError(f"{name} must be >= 0, got {value!r}")


def _brief(value: Any) -> str:
    """``repr(value)`` on one short line, for error messages (a tensor's repr spans lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_option_type(name: str, value: Any, default: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is of the kind of the option's ``default``."""
    if isinstance(default, bool):
        ok, expected = isinstance(value, (bool, np.bool_)), "True or False"
    elif isinstance(default, (int, float)):
        ok, expected = _is_real(value), "a real number"
    elif isinstance(default, tuple):
        ok = isinstance(value, (tuple, list)) and all(map(_is_real, value))
        expected = "a tuple of real numbers"
    else:
        return
    if not ok:
        raise TypeError(f"{name} must be {expected}, got {_brief(value)} ({type(value).__name__})")


def _load_state_value(kind: str, value: Any, param: Tensor, where: str) -> Any:
    """A checked copy of one saved state value of the given kind (see ``_state_kinds``)."""
    if kind == "count":
        # PyTorch keeps Adam's step as a 0-d float tensor: one holding a whole number is
        # accepted and converted to lucid's int.
        if isinstance(value, (Tensor, np.ndarray)) and value.shape == ():
            number = value.item()
            if isinstance(number, float) and math.isfinite(number) and number.is_integer():
                value = int(number)
            elif not isinstance(number, bool):
                value = number
        if not _is_int(value):
            raise TypeError(
                f"{where} must be an int (or a 0-d tensor holding one), got {_brief(value)} "
                f"({type(value).__name__})"
            )
        if value < 0:
            raise ValueError(f"{where} must be >= 0, got {value!r}")
        return int(value)
    if not isinstance(value, (Tensor, np.ndarray)):
        raise TypeError(f"{where} must be a Tensor, got {type(value).__name__}")
    arr = value.data if isinstance(value, Tensor) else value
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{where} has dtype {arr.dtype}; it must be floating, like its parameter "
            f"({param.data.dtype})"
        )
    if arr.shape != param.data.shape:
        raise ValueError(
            f"{where} has shape {arr.shape!r} but the parameter has shape {param.data.shape!r}; "
            "the state dict belongs to another model"
        )
    if kind == "square" and not (arr >= 0).all():  # written so that NaN fails too
        raise ValueError(
            f"{where} holds negative or NaN values; a running mean of squared gradients is "
            ">= 0, so the state dict is corrupt"
        )
    return Tensor._from_array(arr.astype(param.data.dtype, copy=True))


def _copy_value(value: Any) -> Any:
    """An independent copy of one state value (tensors get their own storage)."""
    if isinstance(value, Tensor):
        return Tensor._from_array(value.data.copy())
    return copy.deepcopy(value)
