"""Optimisers: `SGD`, `Adam`, `AdamW` and `RMSprop`, with PyTorch's update rules and defaults.

A step reads each parameter's `.grad` and changes the parameter in place, under `no_grad`, with
NumPy: nothing is recorded in the graph, and, as with any in-place change, the parameter's
version goes up, so a backward through a graph that saved the parameter before the step raises
instead of using the new values. Adam, AdamW and RMSprop work in buffers the optimiser keeps
(their moments, and scratch arrays shared by parameters of one shape); SGD makes one temporary
per parameter, `lr * g`, freed at once (measured as fast, and nothing kept between steps).

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
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import enable_grad, no_grad
from tinygrad_edu.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Optimizer:
    """Base class: keeps `param_groups` (a list of dicts with "params" and the hyperparameters,
    which schedulers change, e.g. `group["lr"]`) and per-parameter `state`.

    `params` is an iterable of Tensors (`model.parameters()`), or of dicts
    `{"params": [...], "lr": ...}` for per-group hyperparameters, as in PyTorch. Frozen
    parameters (`requires_grad=False`) are accepted and skipped while they have no `.grad`.
    Hyperparameters are checked when a group is added: a negative or infinite learning rate, or
    betas outside [0, 1), is a `ValueError` at once rather than NaN weights later.
    """

    # The hyperparameters that are numbers >= 0 and finite, in every optimiser that has them.
    _NON_NEGATIVE = ("lr", "momentum", "weight_decay", "eps")

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors; wrap a single tensor in a list: [w]")
        if hasattr(params, "named_parameters"):
            raise TypeError(f"{name}: pass the model's parameters, {name}(model.parameters(), ...), not the model")
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        # Scratch arrays: one per (shape, dtype, slot), shared by the parameters of that shape,
        # and, for speed, each parameter's own entry pointing at them.
        self._scratch_by_shape: dict[tuple[tuple[int, ...], np.dtype, int], np.ndarray] = {}
        self._scratch_of: tuple[dict[Tensor, np.ndarray], ...] = ({}, {})  # slot -> parameter -> array
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
        """Refuse values that cannot give a sensible step, naming the value and the valid range."""
        for key in self._NON_NEGATIVE:
            if key in group:
                self._check_range(key, group[key], ">= 0 and finite", lambda v: 0 <= v < math.inf)

    def _check_range(self, key: str, value: Any, rule: str, valid: Callable[[float], bool]) -> None:
        if not _is_number(value) or not valid(float(value)):
            raise ValueError(f"{type(self).__name__}: {key} must be {rule} (a number); got {value!r}")

    def _check_betas(self, betas: Any) -> None:
        try:
            ok = len(betas) == 2 and all(_is_number(b) and 0.0 <= b < 1.0 for b in betas)
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{type(self).__name__}: betas must be two numbers in [0, 1), the decay rates of the moving "
                f"averages of the gradient and of its square, e.g. (0.9, 0.999); got {betas!r}"
            )

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

    def _scratch(self, p: Tensor, slot: int = 0) -> np.ndarray:
        """A reusable array shaped like `p` for the arithmetic of a step (one per shape, dtype and
        slot, shared by every parameter of that shape: the step makes no temporary arrays)."""
        buffer = self._scratch_of[slot].get(p)
        data = p.data
        if buffer is None or buffer.shape != data.shape or buffer.dtype != data.dtype:  # first step, or p.to()
            key = (data.shape, data.dtype, slot)
            buffer = self._scratch_by_shape.get(key)
            if buffer is None:
                buffer = self._scratch_by_shape[key] = np.empty_like(data, order="C")
            self._scratch_of[slot][p] = buffer
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
            grad = p.grad
            if grad is None:
                continue
            step = grad.data
            if weight_decay:
                step = step + weight_decay * p.data
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
            # One temporary, freed at once: a scratch buffer kept per parameter measured no faster
            # here and would stay in memory between steps. Never into p.grad: the caller may read it.
            p -= lr * step  # in place, and p's version goes up


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
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        self._check_betas(group["betas"])
        group["betas"] = tuple(group["betas"])

    # AdamW changes only this: where the weight decay goes.
    _decoupled_weight_decay = False

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            data, grad = p.data, grad.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            a, b = self._scratch(p, 0), self._scratch(p, 1)
            if weight_decay and self._decoupled_weight_decay:
                p *= 1.0 - lr * weight_decay  # AdamW: shrink the weights themselves, apart from the gradient
            elif weight_decay:
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
            p -= b  # in place, and p's version goes up


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as `torch.optim.AdamW`.

    Adam adds weight_decay · p to the gradient, so the decay is divided by sqrt(v) like the
    gradient and large-gradient weights are barely decayed. AdamW shrinks the weights directly,
    before the Adam step, by the same factor for all:

        p = p · (1 - lr · weight_decay)
        (then Adam's update with the plain gradient g)

    Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Hinton), with PyTorch's update and defaults (`torch.optim.RMSprop`).

    For each parameter p with gradient g, a moving average of g² scales the step of each weight:

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g²
        s = sqrt(v) + eps          (centered: s = sqrt(v - ḡ²) + eps, with ḡ = alpha ḡ + (1 - alpha) g)
        b = momentum * b + g / s,  p = p - lr * b      (with momentum > 0)
        p = p - lr * g / s                              (without)

    Defaults: lr 1e-2, alpha 0.99, eps 1e-8, no weight decay, no momentum, not centered.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        self._check_range("alpha", group["alpha"], "in [0, 1]", lambda v: 0.0 <= v <= 1.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            data, grad = p.data, grad.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(data)}
            if momentum and "momentum_buffer" not in state:  # also when a group turns momentum on later
                state["momentum_buffer"] = np.zeros_like(data)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(data)
            state["step"] += 1
            square_avg = state["square_avg"]
            a, b = self._scratch(p, 0), self._scratch(p, 1)
            if weight_decay:
                np.multiply(data, weight_decay, out=a)
                a += grad
                grad = a
            square_avg *= alpha
            np.multiply(grad, grad, out=b)
            b *= 1 - alpha
            square_avg += b
            if centered:
                grad_avg = state["grad_avg"]
                np.subtract(grad, grad_avg, out=b)  # ḡ += (1 - alpha)(g - ḡ), PyTorch's lerp_
                b *= 1 - alpha
                grad_avg += b
                np.multiply(grad_avg, grad_avg, out=b)
                np.subtract(square_avg, b, out=b)
                np.sqrt(b, out=b)
            else:
                np.sqrt(square_avg, out=b)
            b += eps
            if momentum:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                np.divide(grad, b, out=b)
                buffer += b
                np.multiply(buffer, lr, out=b)
            else:
                np.divide(grad, b, out=b)
                b *= lr
            p -= b  # in place, and p's version goes up
