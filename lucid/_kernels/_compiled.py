"""Which kernels run: the compiled (numba) ones when installed and worth it, else NumPy.

The heavy steps of a transformer are BLAS matmuls; what remains (GELU,
LayerNorm, softmax, bias and residual adds) NumPy runs one operation at a
time on one core, with a temporary array per step. ``lucid._kernels._numba``
does each in one vectorised pass, splitting large arrays over the cores.
numba is optional: this module imports it on the first call that can use
it (never at ``import lucid``), and the callers keep their NumPy path for
when it is absent, disabled with ``LUCID_DISABLE_NUMBA=1``, or not worth it
(small or non-float32 arrays).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from lucid._kernels._threads import kernel_threads

# Below this many elements NumPy is as fast, and nothing gets compiled.
MIN_SIZE = 1 << 14

_module: ModuleType | None = None
_loaded = False


def _load() -> ModuleType | None:
    global _module, _loaded
    if not _loaded:
        _loaded = True
        if os.environ.get("LUCID_DISABLE_NUMBA", "").strip().lower() in ("", "0", "false", "no"):
            try:
                from lucid._kernels import _numba
            except ImportError:
                _numba = None  # type: ignore[assignment]
            _module = _numba
    return _module


def compiled(
    first: np.ndarray,
    *others: np.ndarray | None,
    min_size: int = MIN_SIZE,
    floats: tuple[type[np.floating], ...] = (np.float32,),
) -> ModuleType | None:
    """The compiled kernels if they can work on these arrays, else ``None``.

    They can when numba is available and every array given is C-contiguous
    and of the first one's dtype, one of ``floats`` (float32 unless a kernel
    also compiles for others), the first having at least ``min_size``
    elements.
    """
    if first.size < min_size or first.dtype not in floats:
        return None
    for a in (first, *others):
        if a is not None and (a.dtype != first.dtype or not a.flags.c_contiguous):
            return None
    module = _load()
    # Kernel dispatch is where the thread count follows the load (BLAS's too).
    kernel_threads()
    return module


@contextlib.contextmanager
def numpy_only() -> Iterator[None]:
    """Within this block every operation takes its NumPy path (tests compare the two)."""
    global _module, _loaded
    saved = _module, _loaded
    _module, _loaded = None, True
    try:
        yield
    finally:
        _module, _loaded = saved
