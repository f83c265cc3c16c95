"""The ground floor: numerics on NumPy arrays, in NumPy and (optionally) compiled with numba.

Everything here takes arrays and returns arrays and imports nothing from the
rest of lucid; the differentiable ops (``lucid._ops``) and ``lucid.nn`` sit
above it. numba is imported on first use only, never at ``import lucid``.

- ``_compiled``: the choice between the compiled kernels and NumPy.
- ``_numba``: the compiled kernels themselves.
- ``_gelu``: float32 erf and GELU with their derivatives.
- ``_broadcast``: summing gradients back over broadcast dimensions.
- ``_depthwise``: depthwise 2-D convolution, forward and backward.
- ``_adam``: the Adam/AdamW update of one parameter.
- ``_matmul``: matrix products split over lucid's threads.
- ``_threads``: how many threads the kernels and BLAS use, and the helper threads.
"""

from lucid._kernels._adam import adam_update
from lucid._kernels._broadcast import sum_axes, unbroadcast, unbroadcast_product
from lucid._kernels._compiled import MIN_SIZE, compiled, numpy_only
from lucid._kernels._depthwise import (
    conv_output_size,
    depthwise_conv2d,
    depthwise_conv2d_backward,
    pad_nhwc,
    tap,
)
from lucid._kernels._gelu import (
    LOG2E,
    erf,
    gelu,
    gelu_backward,
    gelu_tanh,
    times_derivative,
)
from lucid._kernels._matmul import matmul
from lucid._kernels._threads import kernel_threads

__all__ = [
    "LOG2E",
    "MIN_SIZE",
    "adam_update",
    "compiled",
    "conv_output_size",
    "depthwise_conv2d",
    "depthwise_conv2d_backward",
    "erf",
    "gelu",
    "gelu_backward",
    "gelu_tanh",
    "kernel_threads",
    "matmul",
    "numpy_only",
    "pad_nhwc",
    "sum_axes",
    "tap",
    "times_derivative",
    "unbroadcast",
    "unbroadcast_product",
]
