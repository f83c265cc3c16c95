"""The layer classes of ``lucid.nn``, one file per family."""

from lucid.nn.modules.activation import GELU, ReLU, Sigmoid, SiLU, Softmax, Tanh
from lucid.nn.modules.container import ModuleDict, ModuleList, Sequential
from lucid.nn.modules.conv import Conv1d, Conv2d
from lucid.nn.modules.dropout import Dropout, DropPath
from lucid.nn.modules.flatten import Flatten
from lucid.nn.modules.linear import Identity, Linear
from lucid.nn.modules.loss import CrossEntropyLoss, MSELoss, NLLLoss
from lucid.nn.modules.module import Module, RemovableHandle
from lucid.nn.modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from lucid.nn.modules.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from lucid.nn.modules.sparse import Embedding
from lucid.nn.modules.upsampling import Upsample

__all__ = [
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "DropPath",
    "Dropout",
    "Embedding",
    "Flatten",
    "GroupNorm",
    "Identity",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Upsample",
]
