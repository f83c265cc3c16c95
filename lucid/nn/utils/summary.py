"""Model inspection: ``summary`` (a table of layers) and ``count_macs``.

Both run one forward pass on random input in evaluation mode and without
recording a graph, then put the model's training flags back as they were.
Both work on a model built under :func:`lucid.nn.meta_init`, whose weights
allocate no memory: the shapes, counts and MACs are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd import no_grad
from lucid.nn._functional import counting
from lucid.nn.modules.module import Module


@contextmanager
def _trial_forward(model: Module) -> Iterator[None]:
    """Evaluation mode, no graph; restores every module's training flag afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        for module, mode in modes:
            module.training = mode


def _random_input(input_shape: Sequence[int], dtype: Any) -> Tensor:
    # A private generator: inspecting a model must not move lucid's random stream.
    draws = np.random.default_rng(0).standard_normal(tuple(input_shape))
    return Tensor(draws.astype(dtype))


def _describe(output: Any) -> str:
    """A tensor's shape; sequences item by item; numbers as they are."""
    if isinstance(output, Tensor):
        return str(tuple(output.shape))
    if isinstance(output, list | tuple):
        return "[" + ", ".join(_describe(o) for o in output) + "]"
    if isinstance(output, int | float):
        return repr(output)
    return "-"


def _own_parameters(module: Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def summary(model: Module, input_shape: Sequence[int], dtype: Any = np.float32) -> str:
    """Print and return a table of the model's layers, their output shapes and parameters.

    Every sub-module that runs during one forward pass on random input of
    ``input_shape`` (batch axis included) gets a row, indented by depth, in
    call order; a container that is never called itself (a ``ModuleList``)
    gets a row without a shape before its first child. ``Param #`` counts
    the parameters a module holds itself, so the column adds up to the total.

    Parameters
    ----------
    model:
        The model to inspect.
    input_shape:
        Shape of the input tensor, batch axis included.
    dtype:
        Dtype of the random input.

    Returns
    -------
    The table, as printed.

    Examples
    --------
    >>> from lucid import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> _ = summary(model, (1, 4))
    Layer (type)    Output shape    Param #
    =======================================
    0 (Linear)      (1, 8)               40
    1 (ReLU)        (1, 8)                0
    2 (Linear)      (1, 2)               18
    =======================================
    Total params: 58
    Trainable params: 58
    Non-trainable params: 0
    """
    rows: list[list[Any]] = []
    open_rows: list[list[Any]] = []
    shown: set[str] = set()
    handles = []
    for name, module in model.named_modules():
        if module is model:
            continue

        def before(m: Module, args: Any, name: str = name) -> None:
            parts = name.split(".")
            for depth in range(1, len(parts)):
                parent = ".".join(parts[:depth])
                if parent not in shown:
                    shown.add(parent)
                    container = model.get_submodule(parent)
                    rows.append([parent, type(container).__name__, "-", _own_parameters(container)])
            shown.add(name)
            row = [name, type(m).__name__, "-", _own_parameters(m)]
            rows.append(row)
            open_rows.append(row)

        def after(m: Module, args: Any, output: Any) -> None:
            open_rows.pop()[2] = _describe(output)

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    try:
        with _trial_forward(model):
            model(_random_input(input_shape, dtype))
    finally:
        for handle in handles:
            handle.remove()

    header = ("Layer (type)", "Output shape", "Param #")
    cells = [
        ("  " * name.count(".") + f"{name.rsplit('.', 1)[-1]} ({kind})", shape, f"{count:,}")
        for name, kind, shape, count in rows
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(3)]
    widths = [widths[0] + 4, widths[1] + 4, max(widths[2], len(header[2]))]

    def line(cols: Sequence[str]) -> str:
        return f"{cols[0]:<{widths[0]}}{cols[1]:<{widths[1]}}{cols[2]:>{widths[2]}}"

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    rule = "=" * sum(widths)
    table = "\n".join(
        [
            line(header),
            rule,
            *(line(c) for c in cells),
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
        ]
    )
    print(table)
    return table


def count_macs(model: Module, input_shape: Sequence[int], dtype: Any = np.float32) -> int:
    """Multiply-accumulates of one forward pass on input of ``input_shape`` (batch included).

    Counted: ``lucid.nn.functional.linear`` (so ``Linear``), ``conv1d`` and
    ``conv2d`` (so the conv layers), and ``scaled_dot_product_attention``.
    Matrix products written with ``@`` or ``lucid.matmul`` in a model's own
    code are not counted.

    Examples
    --------
    >>> from lucid import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    >>> count_macs(model, (1, 1, 8, 8)) == 4 * 6 * 6 * 9 + 144 * 10
    True
    """
    with _trial_forward(model), counting.counting() as total:
        model(_random_input(input_shape, dtype))
    return total[0]
