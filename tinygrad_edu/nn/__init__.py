"""Neural-network building blocks with PyTorch's names: `Module`, layers, `functional`, `init`.

Everything here is a composition of Tensor ops: no layer or loss has a backward rule of its own.

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

from tinygrad_edu.nn import functional, init
from tinygrad_edu.nn.layers import MLP, Dropout, Linear, ReLU, Sigmoid, Tanh
from tinygrad_edu.nn.module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential, StateDictError

__all__ = [
    "MLP",
    "Dropout",
    "IncompatibleKeys",
    "Linear",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "functional",
    "init",
]
