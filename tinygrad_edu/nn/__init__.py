"""Neural-network building blocks with PyTorch's names: `Module`, layers, `functional`, `init`, `utils`.

Everything here is a composition of Tensor ops: no layer or loss has a backward rule of its own
(the one exception is `erf`, for the exact GELU: see `primitives.py`).

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn
>>> import tinygrad_edu.nn.functional as F
>>> tg.manual_seed(0)
>>> model = nn.MLP([2, 8, 2])
>>> loss = F.cross_entropy(model(tg.randn(4, 2)), np.array([0, 1, 1, 0]))
>>> loss.backward()
>>> [name for name, p in model.named_parameters() if p.grad is not None]
['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']
"""

from tinygrad_edu.nn import functional, init, utils
from tinygrad_edu.nn.convolution import AvgPool2d, Conv2d, MaxPool2d
from tinygrad_edu.nn.layers import (
    GELU,
    MLP,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Tanh,
    Unflatten,
)
from tinygrad_edu.nn.module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential, StateDictError
from tinygrad_edu.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "GELU",
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "IncompatibleKeys",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
