"""The autograd graph: ``Function`` (one node per differentiable op) and backward."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lucid.autograd._grad_mode import _state as _grad_state


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
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
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
        parents, shapes, dtypes = [], [], []
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


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool) -> None:
    """Propagate ``grad`` from ``root`` to every leaf that requires a gradient."""
    if root._ctx is None:
        _accumulate(root, grad)
        return
    grads: dict[int, np.ndarray] = {id(root._ctx): grad}
    for node in _topological_order(root._ctx):
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
            else:
                key = id(parent)
                previous = grads.get(key)
                grads[key] = pg if previous is None else previous + pg
        if not retain_graph:
            node.saved_arrays = ()
            node.freed = True


def _accumulate(leaf: Tensor, grad: np.ndarray) -> None:
    grad = grad.astype(leaf.data.dtype, copy=False)
    if leaf.grad is None:
        # Copy: a backward may hand the same array to several inputs.
        leaf.grad = Tensor._from_array(np.array(grad, copy=True))
    else:
        leaf.grad.data += grad


def _reduced_axes(full: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``full`` that broadcasting ``shape`` to it created or stretched."""
    extra = len(full) - len(shape)
    stretched = (extra + i for i, n in enumerate(shape) if n == 1 and full[extra + i] != 1)
    return (*range(extra), *stretched)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Every op's backward uses this one helper (or :func:`unbroadcast_product`)
    for broadcast inputs.
    """
    if grad.shape == shape:
        return grad
    return sum_axes(grad, _reduced_axes(grad.shape, shape)).reshape(shape)


def unbroadcast_product(x: np.ndarray, y: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``unbroadcast(x * y, shape)``, without writing out the product when it is summed.

    The gradient of a product with respect to a broadcast operand (a scale,
    a bias-like weight) is a sum of products: ``einsum`` computes it in one
    pass over the inputs.
    """
    full = np.broadcast_shapes(np.shape(x), np.shape(y))
    if full == shape or np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(x * y, shape)
    operands: list[Any] = []
    for arr in (x, y):
        arr = np.asarray(arr)
        offset = len(full) - arr.ndim
        # einsum does not stretch size-1 axes: drop them and their labels.
        kept = [i for i in range(arr.ndim) if arr.shape[i] == full[offset + i]]
        operands += [arr.reshape([arr.shape[i] for i in kept]), [offset + i for i in kept]]
    reduced = set(_reduced_axes(full, shape))
    out = np.einsum(*operands, [i for i in range(len(full)) if i not in reduced])
    return out.reshape(shape)


# Rows up to this long are summed by BLAS in ``sum_axes``; longer rows keep
# NumPy's pairwise summation, which is more accurate there and as fast.
_BLAS_ROW_LIMIT = 1024


def sum_axes(a: np.ndarray, axes: tuple[int, ...], keepdims: bool = False) -> np.ndarray:
    """``np.sum(a, axis=axes, keepdims=keepdims)``, faster for the common reductions.

    NumPy sums each row of a reduction over the last axis separately, which
    costs most of the time when rows are short (the channels of a layer norm,
    the keys of an attention softmax), and adds up leading axes (a bias
    gradient over batch and tokens) row after row. A matrix-vector product
    with ones does the same additions in one BLAS call, 3-5x faster, and as
    accurately.
    """
    if a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous or a.ndim < 2:
        return np.sum(a, axis=axes, keepdims=keepdims)
    if axes == (a.ndim - 1,) and 1 < a.shape[-1] <= _BLAS_ROW_LIMIT:
        out = np.matmul(a, np.ones(a.shape[-1], a.dtype))
    elif axes and axes == tuple(range(len(axes))) and len(axes) < a.ndim:
        rest = a.shape[len(axes) :]
        rows = math.prod(a.shape[: len(axes)])
        out = (np.ones(rows, a.dtype) @ a.reshape(rows, math.prod(rest))).reshape(rest)
    else:
        return np.sum(a, axis=axes, keepdims=keepdims)
    return np.expand_dims(out, axes) if keepdims else out


# Imported last: _tensor imports this module, and Function must exist by then.
from lucid._tensor import Tensor, _Version  # noqa: E402
