"""The autograd graph: ``Function`` (one node per differentiable op) and backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid.autograd._grad_mode import is_grad_enabled


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
      ``lucid.autograd.unbroadcast`` undoes broadcasting.

    Call ``MyFunction.apply(*inputs, **options)``, never ``forward`` itself.
    When grad mode is off or no input requires a gradient, ``apply`` records
    nothing: the context and what it saved are freed at once.

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
        record = is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        if record:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        out = cls.forward(ctx, *raw, **kwargs)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        result = Tensor._from_array(out, requires_grad=record)
        if getattr(cls, "_is_view", False) and isinstance(args[0], Tensor):
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
        self.parents = tuple(
            (a._ctx if a._ctx is not None else a)
            if isinstance(a, Tensor) and a.requires_grad
            else None
            for a in args
        )
        self.input_shapes = tuple(a.shape if isinstance(a, Tensor) else None for a in args)
        self.out_shape = result.data.shape
        self.out_dtype = result.data.dtype
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
        for parent, shape, pg in zip(node.parents, node.input_shapes, input_grads, strict=True):
            if parent is None or pg is None:
                continue
            pg = np.asarray(pg)
            if pg.shape != shape:
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned a gradient of shape "
                    f"{pg.shape!r} for an input of shape {shape!r}"
                )
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


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Every op's backward uses this one helper for broadcast inputs.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


# Imported last: _tensor imports this module, and Function must exist by then.
from lucid._tensor import Tensor, _Version  # noqa: E402
