"""From samples to a batch: ``default_collate`` and ``default_convert``, as PyTorch's."""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._creation import from_numpy, tensor
from lucid._ops import stack
from lucid._tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERROR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _rebuild(elem: Any, items: Any) -> Any:
    """A container of ``elem``'s type holding ``items`` (a plain one if that type cannot)."""
    try:
        return type(elem)(items)
    except TypeError:
        # Mappings and sequences whose constructor takes other arguments.
        return dict(items) if isinstance(elem, collections.abc.Mapping) else list(items)


def _stack(batch: Sequence[Tensor]) -> Tensor:
    shapes = {t.shape for t in batch}
    if len(shapes) > 1:
        raise RuntimeError(
            f"default_collate: cannot stack tensors of shapes {sorted(shapes)} into one batch; "
            "give every sample the same shape (e.g. with a Resize transform) or pass a collate_fn"
        )
    return stack(batch, 0)


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, recursing into dicts, tuples and lists.

    As ``torch.utils.data.default_collate``: tensors and NumPy arrays are
    stacked along a new first dimension into a lucid tensor; Python floats
    become a float64 tensor, ints an int64 (bools a bool) tensor; strings and
    bytes stay the sequence they came in; a mapping becomes a mapping of batches; a namedtuple
    a namedtuple of batches; any other sequence is transposed and collated
    position by position (tuples give a list, as in PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> from lucid.data import default_collate
    >>> images, labels = default_collate([(np.zeros((2, 2)), 0), (np.ones((2, 2)), 1)])
    >>> images.shape, labels.tolist()
    ((2, 2, 2), [0, 1])
    >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
    {'x': tensor([1.5, 2.5], dtype=float64), 'name': ['a', 'b']}
    """
    if not isinstance(batch, collections.abc.Sequence) or not batch:
        raise TypeError(f"default_collate takes a non-empty list of samples, got {batch!r}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray | np.generic) and not isinstance(elem, np.str_ | np.bytes_):
        if elem.dtype.kind in "OSUV":
            raise TypeError(_ERROR.format(f"numpy array of dtype {elem.dtype}"))
        return _stack([from_numpy(np.array(b)) for b in batch])
    if isinstance(elem, bool):
        return tensor(batch, dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return tensor(batch, dtype=np.int64)
    if isinstance(elem, numbers.Real):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, [(key, default_collate([d[key] for d in batch])) for key in elem])
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) > 1:
            raise RuntimeError(
                f"each element in list of batch should be of equal size, got sizes {sorted(sizes)}"
            )
        transposed = [default_collate(samples) for samples in zip(*batch, strict=True)]
        return transposed if isinstance(elem, tuple) else _rebuild(elem, transposed)
    raise TypeError(_ERROR.format(type(elem).__name__))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays into lucid tensors, recursing into containers; the rest stays.

    The ``collate_fn`` a :class:`~lucid.data.DataLoader` uses with
    ``batch_size=None`` (no batching), as ``torch.utils.data.default_convert``.

    Examples
    --------
    >>> import numpy as np
    >>> from lucid.data import default_convert
    >>> default_convert({"x": np.arange(3), "y": 7})
    {'x': tensor([0, 1, 2]), 'y': 7}
    """
    if isinstance(data, np.ndarray | np.generic) and not isinstance(data, np.str_ | np.bytes_):
        return data if data.dtype.kind in "OSUV" else from_numpy(np.array(data))
    if isinstance(data, str | bytes):
        return data
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, [(key, default_convert(value)) for key, value in data.items()])
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _rebuild(data, [default_convert(d) for d in data])
    return data
