"""Optimisers: `SGD` and `Adam`, with PyTorch's update rules, updating parameters in place.

A step reads each parameter's `.grad`, updates `p.data` in place with NumPy and records nothing
in the graph. Temporary arrays come from a few scratch buffers that the optimiser keeps (one
per shape), so a step allocates almost nothing.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()          # grad = 2w = [2, -4]
>>> opt.step()
>>> w.tolist()
[0.800000011920929, -1.600000023841858]
>>> opt.zero_grad(); w.grad is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import enable_grad, no_grad
from tinygrad_edu.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: keeps `param_groups` (a list of dicts with "params" and the hyperparameters,
    which schedulers change, e.g. `group["lr"]`) and per-parameter `state`.

    `params` is an iterable of Tensors (`model.parameters()`), or of dicts
    `{"params": [...], "lr": ...}` for per-group hyperparameters, as in PyTorch. Frozen
    parameters (`requires_grad=False`) are accepted and skipped while they have no `.grad`.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors; wrap a single tensor in a list: [w]")
        if hasattr(params, "named_parameters"):
            raise TypeError(f"{name}: pass the model's parameters, {name}(model.parameters(), ...), not the model")
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratch_buffers: dict[tuple[tuple[int, ...], np.dtype, int], np.ndarray] = {}
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name}: got an empty list of parameters; did the model register any? (see named_parameters())"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest)."""
        name = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) was computed by '{p.op}' (it is not a leaf), so "
                    "backward() never fills its .grad; optimise leaf tensors created with requires_grad=True, "
                    "e.g. (tg.randn(3) * 0.1).requires_grad_() rather than tg.randn(3, requires_grad=True) * 0.1"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears more than once")
            seen.add(id(p))
        new_group = {**self.defaults, **group, "params": params}
        self._check_hyperparameters(new_group)
        self.param_groups.append(new_group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        for key in ("lr", "momentum", "weight_decay", "eps"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, got {group[key]}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (`.grad = None`, as PyTorch does by default);
        `set_to_none=False` fills the gradients with zeros instead."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure`, if given, recomputes and
        returns the loss (evaluated with gradients on); `step` returns what it returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():  # the update itself is never part of a graph
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _scratch(self, array: np.ndarray, slot: int = 0) -> np.ndarray:
        """A reusable temporary array shaped like `array` (one per shape, dtype and slot)."""
        key = (array.shape, array.dtype, slot)
        buffer = self._scratch_buffers.get(key)
        if buffer is None:
            buffer = self._scratch_buffers[key] = np.empty_like(array, order="C")
        return buffer

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join([*lines, ")"])


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and L2 weight decay.

    For each parameter p with gradient g, as `torch.optim.SGD` (dampening 0, not Nesterov):

        g = g + weight_decay * p
        b = g at the first step, then b = momentum * b + g       (only when momentum > 0)
        p = p - lr * b                                           (or p - lr * g without momentum)
    """

    def __init__(self, params: ParamsT, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            data, step = p.data, p.grad.data
            scratch = self._scratch(data)
            if weight_decay:
                np.multiply(data, weight_decay, out=scratch)
                scratch += step
                step = scratch
            if momentum:
                state = self.state.get(p)
                if state is None:
                    buffer = np.array(step, order="C")  # a copy: the first step's gradient
                    self.state[p] = {"momentum_buffer": buffer}
                else:
                    buffer = state["momentum_buffer"]
                    buffer *= momentum
                    buffer += step
                step = buffer
            np.multiply(step, lr, out=scratch)  # never into p.grad: the caller may still read it
            data -= scratch


class Adam(Optimizer):
    """Adam, with PyTorch's update (L2 weight decay added to the gradient, as `torch.optim.Adam`).

    At step t for each parameter p with gradient g:

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g            (first moment)
        v = beta2 * v + (1 - beta2) * g²           (second moment)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The (1 - beta^t) factors correct the bias of m and v towards zero in the first steps.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            data, grad = p.data, p.grad.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            a, b = self._scratch(data, 0), self._scratch(data, 1)
            if weight_decay:
                np.multiply(data, weight_decay, out=a)
                a += grad
                grad = a
            # m += (1 - beta1) (g - m): the same arithmetic as PyTorch's lerp_
            np.subtract(grad, m, out=b)
            b *= 1 - beta1
            m += b
            v *= beta2
            np.multiply(grad, grad, out=b)
            b *= 1 - beta2
            v += b
            step_size = lr / (1 - beta1**t)
            np.sqrt(v, out=b)
            b /= math.sqrt(1 - beta2**t)
            b += eps
            np.divide(m, b, out=b)
            b *= step_size
            data -= b
