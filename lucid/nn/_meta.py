"""Shape-only construction: ``meta_init()`` builds modules whose parameters allocate nothing.

PyTorch builds a model without memory for its weights under
``with torch.device("meta"):``. lucid has no devices; ``with
lucid.nn.meta_init():`` does the same job. Every :class:`~lucid.nn.Parameter`
made inside the block is backed by a read-only, zero-stride view of one shared
zero (``numpy.broadcast_to``), so it has its full shape and dtype but no
storage of its own, and the :mod:`lucid.nn.init` functions leave it alone.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from lucid._tensor import Tensor

__all__ = ["is_meta", "meta_init"]

# A context variable, not a global: a model built in one thread under
# meta_init() must not turn the parameters another thread builds into placeholders.
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("lucid_meta_init", default=False)

# One zero per dtype that every placeholder of that dtype is a view of: sharing
# memory with it is what marks an array as a placeholder.
_zeros: dict[np.dtype, np.ndarray] = {}


@contextmanager
def meta_init() -> Iterator[None]:
    """Build modules inside this block with placeholder parameters that allocate no memory.

    lucid's spelling of PyTorch's ``with torch.device("meta"):``. Each parameter
    keeps its shape and dtype, so ``numel()``, ``state_dict()`` shapes,
    :func:`lucid.nn.utils.summary` and :func:`lucid.nn.utils.count_macs` work,
    but its values are a read-only zero that the :mod:`lucid.nn.init`
    functions skip. Unlike PyTorch's meta tensors, a forward pass really runs
    (on those zeros), so activations are allocated and output shapes are real.
    Writing into a placeholder (an optimizer step, ``load_state_dict``) fails;
    build the model again outside the block to train or load weights.

    Buffers (such as batch-norm running statistics) are ordinary tensors, and
    the block applies to the current thread (context) only.

    Examples
    --------
    >>> from lucid import nn
    >>> with nn.meta_init():
    ...     layer = nn.Linear(10_000, 10_000)
    >>> layer.weight.numel(), nn.is_meta(layer.weight)
    (100000000, True)
    >>> layer.weight.data.strides
    (0, 0)
    """
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)


def building_placeholders() -> bool:
    """Whether parameters made now should be placeholders (inside :func:`meta_init`)."""
    return _active.get()


def placeholder(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A read-only zero-stride array of ``shape`` and ``dtype`` that owns no memory."""
    dtype = np.dtype(dtype)
    zero = _zeros.get(dtype)
    if zero is None:
        zero = _zeros.setdefault(dtype, np.zeros((), dtype))
    return np.broadcast_to(zero, shape)


def empty(shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """Storage for a new parameter: ``numpy.empty``, or a placeholder inside :func:`meta_init`.

    Layers allocate through this, so that a meta build never asks for the memory at all.
    """
    return placeholder(shape, dtype) if _active.get() else np.empty(shape, dtype)


def is_meta(tensor: Tensor | np.ndarray) -> bool:
    """Whether ``tensor`` is a placeholder made under :func:`meta_init` (or a view of one).

    Examples
    --------
    >>> import lucid
    >>> from lucid import nn
    >>> nn.is_meta(nn.Linear(2, 2).weight), nn.is_meta(lucid.zeros(3))
    (False, False)
    """
    array = tensor.data if isinstance(tensor, Tensor) else tensor
    zero = _zeros.get(array.dtype)
    return zero is not None and array.size > 0 and np.may_share_memory(array, zero)
