"""Reverse-mode automatic differentiation: custom functions, grad mode, gradient checks."""

from lucid._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from lucid._kernels import unbroadcast, unbroadcast_product
from lucid._tensor import Function
from lucid.autograd._gradcheck import GradcheckError, gradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "enable_grad",
    "gradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
    "unbroadcast_product",
]
