"""`Module`: the base class of layers and models, and the containers `ModuleList` and `Sequential`.

A Module registers the learnable tensors and the submodules assigned to it as attributes, so that
`parameters()` finds every weight of a model, however deeply nested. State that is not learned
but belongs to the model (BatchNorm's running statistics) is registered with `register_buffer`,
so that `state_dict()` saves it and `load_state_dict()` restores it.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn
>>> class TwoLayer(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.hidden = nn.Linear(3, 4)
...         self.out = nn.Linear(4, 2)
...     def forward(self, x):
...         return self.out(self.hidden(x).relu())
>>> model = TwoLayer()
>>> [name for name, p in model.named_parameters()]
['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
>>> model(tg.zeros(5, 3)).shape
(5, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

import numpy as np

from tinygrad_edu.dtypes import get_default_dtype
from tinygrad_edu.errors import DTypeError
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.hooks import record_module_call
from tinygrad_edu.tensor import Tensor

ModuleT = TypeVar("ModuleT", bound="Module")


class Parameter(Tensor):
    """A Tensor that requires grad: a learnable weight (`torch.nn.Parameter`).

    Any leaf Tensor with `requires_grad=True` assigned to a Module is registered as a parameter;
    this class makes the intent explicit, and a Parameter stays registered even when frozen
    (`requires_grad=False`), as in PyTorch. The data is copied, as `Tensor(data)` does.

    >>> p = Parameter([1.0, 2.0])
    >>> p.requires_grad, isinstance(p, Tensor)
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)


def parameter_dtype(dtype: Any, caller: str) -> np.dtype:
    """The dtype of a layer's new weights: `dtype`, or the default float dtype when None."""
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"{caller}: the weights need a float dtype, got {dtype}")
    return dtype


class StateDictError(RuntimeError):
    """`load_state_dict` found missing, unexpected or wrongly shaped entries (and changed nothing)."""


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(..., strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _is_parameter(value: object) -> bool:
    """A Parameter (even a frozen one, as in PyTorch), or any leaf Tensor that requires grad.

    Only leaves: a tensor computed in forward (e.g. `self.cache = h`) requires grad too, but it is
    an intermediate result, and its .grad is never filled, so it cannot be trained."""
    if isinstance(value, Parameter):
        return True
    return isinstance(value, Tensor) and value.requires_grad and value._ctx is None


class Module:
    """Base class of every layer and model: subclass it, assign layers and weights in
    `__init__` (after `super().__init__()`), and define `forward`. Call the module, not
    `forward`: `model(x)`.

    Attributes that are Modules, Parameters, or leaf Tensors with `requires_grad=True` are
    registered in the order they are assigned; `named_parameters()` lists a module's own
    parameters first, then those of its submodules, with dotted names (`layers.0.weight`), as
    PyTorch does.
    """

    training: bool
    _parameters: dict[str, Tensor]
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module]

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dictionaries to exist already.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        parameters = self.__dict__.get("_parameters")
        if parameters is None:
            if isinstance(value, (Module, Tensor)):
                raise AttributeError(
                    f"{type(self).__name__}: cannot assign '{name}' before Module.__init__() has run; "
                    f"call super().__init__() first in {type(self).__name__}.__init__"
                )
            object.__setattr__(self, name, value)
            return
        modules, buffers = self._modules, self._buffers
        if isinstance(value, Module):
            parameters.pop(name, None)
            self._forget_buffer(name)
            modules[name] = value
        elif _is_parameter(value):
            modules.pop(name, None)
            self._forget_buffer(name)
            parameters[name] = value
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}.{name} is a buffer (saved in state_dict), and can only be replaced by "
                    f"a Tensor or None, not a {type(value).__name__}; to change its values in place use "
                    f"`with tg.no_grad(): module.{name}.copy_(values)`"
                )
            buffers[name] = value
        else:
            self._check_plain_value(name, value)
            parameters.pop(name, None)
            modules.pop(name, None)
        # Registered values also live in __dict__, so that `self.weight` in forward is a plain
        # attribute lookup (no __getattr__ call on the hot path).
        object.__setattr__(self, name, value)

    def _check_plain_value(self, name: str, value: Any) -> None:
        """Refuse assignments that would silently drop a weight or a layer from the model."""
        where = f"{type(self).__name__}.{name}"
        if name in self._parameters and value is not None:
            reason = (
                "a Tensor that does not require grad"
                if isinstance(value, Tensor) and not value.requires_grad
                else f"a Tensor computed by '{value.op}' (not a leaf)"
                if isinstance(value, Tensor)
                else f"a {type(value).__name__}"
            )
            raise TypeError(
                f"{where} is a parameter, and cannot be replaced by {reason}: it would stop being trained. "
                "Assign a leaf Tensor with requires_grad=True (e.g. nn.Parameter(data)), assign None to "
                "remove it, or change its values in place with `.data[...] = ...`"
            )
        if name in self._modules and value is not None:
            raise TypeError(f"{where} is a submodule, and can only be replaced by a Module or None")
        if isinstance(value, (list, tuple)) and any(isinstance(v, Module) or _is_parameter(v) for v in value):
            raise TypeError(
                f"{where}: a plain {type(value).__name__} of modules or parameters is not registered, so "
                "parameters() and the optimiser would never see them. Use nn.ModuleList(...) or "
                "nn.Sequential(...) for modules, and assign each trainable Tensor as its own attribute."
            )

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._forget_buffer(name)
        object.__delattr__(self, name)

    def _forget_buffer(self, name: str) -> None:
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Register `param` under `name` (what assigning `self.name = param` does)."""
        if param is not None and not _is_parameter(param):
            raise TypeError(
                f"register_parameter('{name}'): expected a Parameter, a leaf Tensor with requires_grad=True, or None"
            )
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` under `name`; useful when the name is computed, e.g. `f"block{i}"`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module or None, got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register `tensor` as a buffer: state of the model that is not learned (no gradient, not
        in `parameters()`), such as BatchNorm's `running_mean`, as `torch.nn.Module.register_buffer`.

        A buffer is an attribute (`self.name`), moves with `to()`, and is saved by `state_dict()`
        and restored in place by `load_state_dict()`, unless `persistent=False`. `None` reserves
        the name (a BatchNorm that keeps no running statistics).

        >>> import tinygrad_edu as tg
        >>> from tinygrad_edu import nn
        >>> class Counter(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.register_buffer("calls", tg.zeros(()))
        >>> list(Counter().state_dict())
        ['calls']
        """
        where = f"{type(self).__name__}.register_buffer('{name}')"
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"{where}: call super().__init__() first in {type(self).__name__}.__init__")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{where}: a buffer name is a non-empty string without dots")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{where}: expected a Tensor or None, got {type(tensor).__name__}")
        if tensor is not None and tensor.requires_grad:
            raise TypeError(
                f"{where}: the tensor requires grad, so it is a parameter, not a buffer; assign it as an "
                "attribute (self.name = nn.Parameter(...)) to train it, or pass tensor.detach()"
            )
        if name in self._parameters or name in self._modules or (hasattr(self, name) and name not in self._buffers):
            raise KeyError(f"{where}: the name '{name}' is already taken by another attribute")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    # ------------------------------------------------------------ calling

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): a Module subclass defines forward(self, ...), "
            "which model(x) calls"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        for arg in args:
            if arg is output:
                # An input handed back unchanged (Dropout in eval mode): this call computed
                # nothing, so there is nothing to box, and the tensor stays with the call that made it.
                return output
        record_module_call(self, args, output)  # lets the graph drawer box this call's tensors
        return output

    # ------------------------------------------------------------ walking the tree

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`, "" for the root) and all modules below it, parents first.

        A module reachable twice (shared) is listed once, unless `remove_duplicate=False`.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules, with their attribute names."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """`(dotted name, parameter)` pairs: each module's own parameters, then its submodules'.

        A parameter shared by two layers is listed once (under its first name).
        """
        seen: set[int] = set()
        walk = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in walk:
            for name, param in module._parameters.items():
                if remove_duplicate:
                    if id(param) in seen:
                        continue
                    seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every learnable tensor of the model, in `named_parameters()` order: what optimisers take."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """`(dotted name, buffer)` pairs, in the order of `named_parameters()` (None buffers left out)."""
        seen: set[int] = set()
        walk = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in walk:
            for name, buffer in module._buffers.items():
                if buffer is None:
                    continue
                if remove_duplicate:
                    if id(buffer) in seen:
                        continue
                    seen.add(id(buffer))
                yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of the model (BatchNorm's running statistics, ...)."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self: ModuleT, fn: Callable[[Module], Any]) -> ModuleT:
        """Call `fn` on every submodule and then on this module (e.g. for a custom initialisation)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ training helpers

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters (`.grad = None`, as PyTorch does by default)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.data[...] = 0

    def train(self: ModuleT, mode: bool = True) -> ModuleT:
        """Put this module and every submodule in training mode (or evaluation mode if `mode` is False).

        It changes what `Dropout` does; it does not turn off gradient recording (use `no_grad`).
        """
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self: ModuleT) -> ModuleT:
        """Evaluation mode: `Dropout` passes its input through. Same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self: ModuleT, requires_grad: bool = True) -> ModuleT:
        """Freeze (`False`) or unfreeze every parameter; frozen ones get no `.grad`."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def to(self: ModuleT, dtype: Any) -> ModuleT:
        """Convert every parameter (and its gradient) and every floating-point buffer to the float
        `dtype`, as PyTorch's `module.to(dtype)` does (integer buffers such as BatchNorm's
        `num_batches_tracked` keep their dtype).

        Build the optimiser afterwards: its buffers have the dtype of the parameters it was given.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise DTypeError(
                f"{type(self).__name__}.to: parameters must stay floating point, got {dtype}; to feed integer "
                "data to a model, convert the data instead, e.g. x.float()"
            )
        for param in self.parameters():
            param.data = param.data.astype(dtype, copy=False)
            if param.grad is not None:
                param.grad = Tensor._wrap(param.grad.data.astype(dtype, copy=False))
        for buffer in self.buffers():
            if buffer.dtype.kind == "f":
                buffer.data = buffer.data.astype(dtype, copy=False)
        return self

    def double(self: ModuleT) -> ModuleT:
        """`to(np.float64)`: for checking gradients against finite differences."""
        return self.to(np.float64)

    def float(self: ModuleT) -> ModuleT:
        return self.to(np.float32)

    # ------------------------------------------------------------ saving and loading

    def _state_tensors(self) -> dict[str, Tensor]:
        """What `state_dict` holds, in PyTorch's order: each module's parameters, then its
        persistent buffers, module by module (parents first). A shared parameter is listed under
        every name it has, as in PyTorch."""
        state: dict[str, Tensor] = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                state[prefix + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    state[prefix + name] = buffer
        return state

    def state_dict(self) -> dict[str, Tensor]:
        """`{dotted name: tensor}` for every parameter and persistent buffer (BatchNorm's
        `running_mean`, `running_var`, `num_batches_tracked`), with PyTorch's names and order.

        As in PyTorch the tensors share memory with the model (they are detached, not copied),
        so an optimiser step changes them too; save them with `tinygrad_edu.save`, or copy them
        (`{k: tg.Tensor(v) for k, v in sd.items()}`) to keep a snapshot.
        """
        return {name: tensor.detach() for name, tensor in self._state_tensors().items()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the values of `state_dict` into the parameters and buffers, in place.

        Every problem is found before anything is copied, so on an error the model is unchanged,
        and the error lists all of them: missing keys, unexpected keys, wrong shapes, non-numeric
        values. `strict=False` accepts missing and unexpected keys and returns them (wrong shapes
        are always an error). Values are cast to each tensor's dtype, as in PyTorch.

        The copy is an in-place change, as an optimiser step is: each tensor's version goes up,
        so a backward through a graph that saved a parameter before the load refuses to run
        with the new values.

        >>> from tinygrad_edu import nn
        >>> a, b = nn.Linear(2, 3), nn.Linear(2, 3)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        """
        if not isinstance(state_dict, Mapping):
            hint = (
                " To load a file, use model.load_state_dict(tinygrad_edu.load(path))."
                if isinstance(state_dict, str)
                else ""
            )
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of name -> array, got "
                f"{type(state_dict).__name__}.{hint}"
            )
        own = self._state_tensors()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        problems, arrays = [], {}
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            try:
                array = value.data if isinstance(value, Tensor) else np.asarray(value)
            except Exception as error:  # an object NumPy cannot read as an array
                problems.append(f"{name}: cannot read a {type(value).__name__} as an array ({error})")
                continue
            if array.dtype.kind not in "biuf":
                problems.append(f"{name}: the value has dtype {array.dtype}, not a number")
            elif array.shape != tensor.shape:
                problems.append(f"{name}: the state dict has shape {array.shape}, the model has {tensor.shape}")
            else:
                # Converted now, before anything is written: a failure cannot leave half a model.
                arrays[name] = array.astype(tensor.dtype, copy=False)
        if problems or (strict and (missing or unexpected)):
            lines = [f"{type(self).__name__}.load_state_dict: cannot load this state dict (the model is unchanged):"]
            if missing:
                lines.append(f"  missing keys (in the model, not in the state dict): {', '.join(missing)}")
            if unexpected:
                lines.append(f"  unexpected keys (in the state dict, not in the model): {', '.join(unexpected)}")
            if problems:
                lines.append("  wrong values:\n    " + "\n    ".join(problems))
            lines.append(
                "Check that the model is built with the same layer sizes as the one that was saved. "
                "strict=False skips missing and unexpected keys, never wrong shapes."
            )
            raise StateDictError("\n".join(lines))
        with no_grad():  # in place (optimisers keep their references), each tensor's version bumped
            for name, array in arrays.items():
                own[name].copy_(array)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ display

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (e.g. `in_features=3, ...`)."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): {_indent(repr(module))}" for name, module in self.named_children()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


# ---------------------------------------------------------------- containers


class _Container(Module):
    """Shared by ModuleList and Sequential: submodules named "0", "1", ..., list-like access."""

    def _slice(self, index: slice) -> _Container:
        raise NotImplementedError

    def _check_module(self, module: Any, position: int) -> Module:
        if not isinstance(module, Module):
            what = type(module).__name__
            hint = (
                f"; pass the modules themselves, not a {what}: {type(self).__name__}(*layers)"
                if isinstance(module, (list, tuple))
                else "; wrap a function as a module, e.g. nn.ReLU() instead of relu"
                if callable(module)
                else ""
            )
            raise TypeError(f"{type(self).__name__}: item {position} is a {what}, not a Module{hint}")
        return module

    def append(self: ModuleT, module: Module) -> ModuleT:
        """Add `module` at the end."""
        self._check_module(module, len(self))
        setattr(self, str(len(self)), module)
        return self

    def extend(self: ModuleT, modules: Iterable[Module]) -> ModuleT:
        for module in modules:
            self.append(module)
        return self

    def _index(self, index: int) -> str:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {n} modules")
        return list(self._modules)[index % n]

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._slice(index)
        return self._modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._index(index), self._check_module(module, index))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(_Container):
    """A list of modules whose parameters are registered (a plain Python list's are not).

    >>> from tinygrad_edu import nn
    >>> blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    >>> len(blocks), len(list(blocks.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _slice(self, index: slice) -> ModuleList:
        return ModuleList(list(self._modules.values())[index])  # renumbered from 0, as in PyTorch


class Sequential(_Container):
    """Modules applied one after the other: `Sequential(a, b, c)(x)` is `c(b(a(x)))`.

    The submodules are named "0", "1", ...; pass a dict to choose the names.

    >>> import tinygrad_edu as tg
    >>> from tinygrad_edu import nn
    >>> net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> net(tg.zeros(4, 2)).shape, [name for name, _ in net.named_parameters()][:2]
    ((4, 1), ['0.weight', '0.bias'])
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for position, (name, module) in enumerate(modules[0].items()):
                setattr(self, str(name), self._check_module(module, position))
        elif len(modules) == 1 and isinstance(modules[0], list):
            self._check_module(modules[0], 0)  # raises, with the hint to unpack the list
        else:
            self.extend(modules)

    def _slice(self, index: slice) -> Sequential:
        return Sequential(dict(list(self._modules.items())[index]))  # keeps the names, as in PyTorch

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x
