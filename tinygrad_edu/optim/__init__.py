"""Optimisers and learning-rate schedules with PyTorch's names and update rules.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn, optim
>>> import tinygrad_edu.nn.functional as F
>>> tg.manual_seed(0)
>>> model = nn.MLP([2, 8, 2])
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> x, y = tg.randn(16, 2), np.arange(16) % 2
>>> for step in range(3):
...     opt.zero_grad()
...     loss = F.cross_entropy(model(x), y)
...     loss.backward()
...     opt.step()
"""

from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
