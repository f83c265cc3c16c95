"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid._tensor import Tensor, _to_array
from lucid.nn._meta import building_placeholders, placeholder


class Parameter(Tensor):
    """A tensor that is a module's learnable weight.

    Assigning a ``Parameter`` to a ``Module`` attribute registers it, so it
    shows up in ``parameters()`` and ``state_dict()``. It requires a gradient
    unless told otherwise. Built from a tensor, it shares that tensor's data.
    Inside :func:`lucid.nn.meta_init` it holds a placeholder of the same
    shape and dtype instead, which allocates no memory.

    Parameters
    ----------
    data:
        A tensor or anything ``numpy.asarray`` accepts (floating data becomes
        float32). ``None`` gives an empty float32 parameter.
    requires_grad:
        Whether the optimizer should see gradients for it.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.nn.Parameter(lucid.Tensor([1.0, 2.0]))
    >>> w.requires_grad
    True
    >>> w
    Parameter containing:
    tensor([1., 2.], requires_grad=True)
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            array = data.data
        else:
            array = _to_array(data)
        if building_placeholders():
            array = placeholder(array.shape, array.dtype)
        super().__init__(array, dtype=array.dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
