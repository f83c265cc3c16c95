"""Switches that turn graph recording on and off (``no_grad`` and friends)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    # Grad mode is per thread, as in PyTorch: a data-loading thread switching
    # it off must not change what the training thread records. A new thread
    # starts from these class defaults.
    enabled = True
    inference = False


# Read directly by Function.apply, on every operation.
_state = _State()


def is_grad_enabled() -> bool:
    """Return ``True`` when operations currently record the autograd graph."""
    return _state.enabled


def is_inference_mode_enabled() -> bool:
    """Return ``True`` inside :class:`inference_mode`."""
    return _state.inference


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit.

    Used as a decorator, the mode is set on each call of the function and
    restored when it returns.
    """

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._previous: list[tuple[bool, bool]] = []

    def _apply(self) -> None:
        _state.enabled = self._enabled

    def __enter__(self) -> None:
        self._previous.append((_state.enabled, _state.inference))
        self._apply()

    def __exit__(self, *exc: object) -> None:
        _state.enabled, _state.inference = self._previous.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # A new manager per call: the function may run in several threads
            # (or recursively) at once, each restoring its own mode.
            with self._clone():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _clone(self) -> _GradMode:
        return type(self)(self._enabled)


class _NoParamDecorator(_GradMode):
    # ``@no_grad`` without parentheses: called with the function, return
    # the decorated function (as torch.no_grad does).
    def __new__(cls, orig_func: Any = None) -> Any:
        # (inference_mode's first argument is a bool mode instead.)
        if orig_func is None or isinstance(orig_func, bool):
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecorator):
    """Disable graph recording: nothing is kept alive for backward.

    A context manager, or a decorator with or without parentheses
    (``@lucid.no_grad`` and ``@lucid.no_grad()``).

    Examples
    --------
    >>> import lucid
    >>> x = lucid.ones(3, requires_grad=True)
    >>> with lucid.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @lucid.no_grad
    ... def double(t):
    ...     return t * 2
    >>> double(x).requires_grad
    False
    """

    def __init__(self, orig_func: Callable[..., Any] | None = None) -> None:
        super().__init__(False)

    def _clone(self) -> _GradMode:
        return no_grad()


class enable_grad(_NoParamDecorator):
    """Re-enable graph recording inside a ``no_grad`` block (also a decorator)."""

    def __init__(self, orig_func: Callable[..., Any] | None = None) -> None:
        super().__init__(True)

    def _clone(self) -> _GradMode:
        return enable_grad()


class inference_mode(_NoParamDecorator):
    """Graph recording off for inference, as ``torch.inference_mode``.

    lucid has no separate inference tensors: this is :class:`lucid.autograd.no_grad` that
    also sets :func:`is_inference_mode_enabled`. ``inference_mode(False)``
    changes nothing.

    Examples
    --------
    >>> import lucid
    >>> with lucid.inference_mode():
    ...     y = lucid.ones(2, requires_grad=True) * 2
    >>> y.requires_grad, lucid.is_inference_mode_enabled()
    (False, False)
    """

    def __init__(self, mode: Any = True) -> None:
        self._mode = bool(mode)
        super().__init__(not self._mode)

    def _apply(self) -> None:
        if self._mode:
            _state.enabled = False
            _state.inference = True

    def _clone(self) -> _GradMode:
        return inference_mode(self._mode)


class set_grad_enabled(_GradMode):
    """Set graph recording on or off: as a plain call, a context manager or a decorator.

    As in PyTorch, the call itself switches the mode (``lucid.set_grad_enabled(False)``
    stays in effect until switched back); as a context manager the previous
    mode returns at the end of the block, and as a decorator the mode is set
    only while the function runs.

    Parameters
    ----------
    mode:
        ``True`` to record the graph, ``False`` not to.

    Examples
    --------
    >>> import lucid
    >>> _ = lucid.set_grad_enabled(False)
    >>> lucid.is_grad_enabled()
    False
    >>> _ = lucid.set_grad_enabled(True)
    >>> with lucid.set_grad_enabled(False):
    ...     lucid.is_grad_enabled()
    False
    >>> lucid.is_grad_enabled()
    True
    """

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        # The mode before this call: what ``with`` restores at the end.
        self._before = _state.enabled
        _state.enabled = self._enabled

    def __enter__(self) -> None:
        self._previous.append((self._before, _state.inference))
        self._apply()

    def __call__(self, fn: F) -> F:
        # Used as a decorator, the switch made by __init__ must not stick:
        # each call of ``fn`` switches (and restores) for itself.
        _state.enabled = self._before
        return super().__call__(fn)
