"""lucid: a small, readable deep-learning stack on NumPy with reverse-mode autograd."""

from importlib.metadata import PackageNotFoundError, version

from lucid import autograd
from lucid._ops import add, div, matmul, mean, mul, neg, permute, pow, reshape, sub, sum, swapaxes
from lucid._tensor import (
    Tensor,
    bool_,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from lucid.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

try:
    __version__ = version("lucid")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "Tensor",
    "__version__",
    "add",
    "autograd",
    "bool_",
    "div",
    "enable_grad",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "matmul",
    "mean",
    "mul",
    "neg",
    "no_grad",
    "permute",
    "pow",
    "reshape",
    "set_grad_enabled",
    "sub",
    "sum",
    "swapaxes",
    "uint8",
]
