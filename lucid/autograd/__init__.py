"""Reverse-mode automatic differentiation: custom functions, grad mode, gradient checks."""

from lucid.autograd._function import Function, unbroadcast
from lucid.autograd._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "Function",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]
