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
    # starts from this class default.
    enabled = True


# Read directly by Function.apply, on every operation.
_state = _State()


def is_grad_enabled() -> bool:
    """Return ``True`` when operations currently record the autograd graph."""
    return _state.enabled


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(is_grad_enabled())
        _set(self._enabled)

    def __exit__(self, *exc: object) -> None:
        _set(self._previous.pop())

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = is_grad_enabled()
            _set(self._enabled)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(previous)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Disable graph recording: nothing is kept alive for backward.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.ones(3, requires_grad=True)
    >>> with lucid.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """Set graph recording on or off, as a context manager or decorator.

    Parameters
    ----------
    mode:
        ``True`` to record the graph, ``False`` not to.
    """
