"""Convolution and pooling from matrix products: `im2col`, `conv2d`, `max_pool2d`, `avg_pool2d`,
and the layers `Conv2d`, `MaxPool2d`, `AvgPool2d`. Shapes are PyTorch's: NCHW.

A convolution slides a small kernel over the image and takes a dot product at every position.
Written out as Tensor ops it becomes one matrix product:

1. `im2col` copies, for every output position, the C·kh·kw input values under the kernel into one
   column: a (C·kh·kw, OH·OW) matrix per image. It is made of kh·kw slices of the padded input,
   one per kernel offset (i, j), each a strided view `x[:, :, i::stride, j::stride]` cut to the
   output's size, stacked with `cat`.
2. The weight, (out_channels, C, kh, kw), reshaped to (out_channels, C·kh·kw), times those
   columns is the output, (out_channels, OH·OW) per image: ONE `@` for the whole batch.

The gradient needs no rule of its own: the matrix product's backward gives the weight's gradient
(the output's gradient times the columns, transposed) and the columns' gradient, and the backward
of each slice adds its share back at the place it was cut from (a "col2im"). Pooling reduces the
same windows with `maximum` or `+`, the window's rows first and then its columns.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
>>> im2col(x, 3).shape                      # 1·3·3 values under the kernel, at 2·2 positions
(1, 9, 4)
>>> w = tg.ones(1, 1, 3, 3, dtype="float64")
>>> conv2d(x, w).tolist()                   # sums of the 3x3 windows
[[[[45.0, 54.0], [81.0, 90.0]]]]
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError, ShapeError
from tinygrad_edu.factories import as_tensor, default_generator, from_numpy
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter, parameter_dtype
from tinygrad_edu.tensor import Tensor, cat

IntPair = int | tuple[int, int]


# ---------------------------------------------------------------- arguments


def _pair(value: Any, what: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each at least `minimum`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        h, w = pair
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or a pair (height, width) of ints, got {value!r}") from None
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f"{what} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(h), int(w)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions of a kernel in one dimension: floor((size + 2·padding - kernel) / stride) + 1.

    >>> output_size(28, 5, 1, 0), output_size(28, 3, 1, 1), output_size(7, 2, 2, 0)
    (24, 28, 3)
    """
    return (size + 2 * padding - kernel) // stride + 1


def _image_batch(x: Any, caller: str) -> tuple[Tensor, bool]:
    """`x` as a (N, C, H, W) Tensor, and whether it was a single (C, H, W) image (as PyTorch allows)."""
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{caller}: expected a Tensor of shape (N, C, H, W), got {type(x).__name__}")
    x = as_tensor(x)
    if x.ndim == 3:
        return x.unsqueeze(0), True
    if x.ndim != 4:
        hint = ""
        if x.ndim == 2 and math.isqrt(x.shape[1]) ** 2 == x.shape[1]:
            side = math.isqrt(x.shape[1])
            hint = f"; flattened one-channel images become a batch with x.reshape({x.shape[0]}, 1, {side}, {side})"
        raise ShapeError(
            f"{caller}: the input has shape {x.shape}, but it needs 4 dimensions (N, C, H, W) "
            f"(or 3 for a single image, (C, H, W)){hint}"
        )
    if x.dtype.kind != "f":
        raise DTypeError(f"{caller}: the input has dtype {x.dtype}; convert it to floating point, e.g. x.float()")
    return x, False


def _check_fits(caller: str, shape: tuple[int, ...], kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    height, width = shape[-2] + 2 * padding[0], shape[-1] + 2 * padding[1]
    if kernel[0] > height or kernel[1] > width:
        raise ShapeError(
            f"{caller}: the kernel is {kernel[0]}x{kernel[1]} but the (padded) input is only {height}x{width} "
            f"(input shape {shape}, padding {padding}); use a smaller kernel or more padding"
        )


# ---------------------------------------------------------------- windows


def pad2d(x: Tensor, padding: tuple[int, int], value: float = 0.0) -> Tensor:
    """`x` (..., H, W) with `padding` = (ph, pw) rows and columns of `value` added on each side.

    A composition: `cat` with constant blocks, so the gradient of the border is simply dropped.
    """
    ph, pw = padding
    if ph:
        rows = from_numpy(np.full((*x.shape[:-2], ph, x.shape[-1]), value, dtype=x.dtype))
        x = cat([rows, x, rows], axis=x.ndim - 2)
    if pw:
        columns = from_numpy(np.full((*x.shape[:-1], pw), value, dtype=x.dtype))
        x = cat([columns, x, columns], axis=x.ndim - 1)
    return x


def _window_slices(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], new_axis: bool) -> list[Tensor]:
    """One strided slice of `x` (N, C, H, W) per kernel offset (i, j), in row-major order: slice
    (i, j) is (N, C, OH, OW) with entry [n, c, r, s] = x[n, c, r·sh + i, s·sw + j], the input
    value under kernel offset (i, j) when the kernel is at output position (r, s).

    Slicing is a view, and its backward puts the gradient back where the slice was cut from.
    `new_axis` gives each slice a new axis 2 of length 1 (in the same op), ready for `cat`."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = output_size(x.shape[2], kh, sh, 0), output_size(x.shape[3], kw, sw, 0)
    axis = (None,) if new_axis else ()
    # The stop of each slice is the last row/column the kernel reaches from offset i (or j), plus one.
    return [
        x[(slice(None), slice(None), *axis, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))]
        for i in range(kh)
        for j in range(kw)
    ]


def _windows(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """(N, C, H, W) -> (N, C, kh·kw, OH, OW): the kh·kw window slices stacked along axis 2 by one `cat`."""
    slices = _window_slices(x, kernel, stride, new_axis=True)
    return slices[0] if len(slices) == 1 else cat(slices, axis=2)


def im2col(x: Tensor, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0) -> Tensor:
    """The "image to columns" matrix of each image: (N, C, H, W) -> (N, C·kh·kw, OH·OW).

    Column l of image n holds the C·kh·kw input values that the kernel covers at output position
    l (row-major over OH, OW), channel by channel, kernel row by kernel row: the same order as a
    weight (out, C, kh, kw) reshaped to (out, C·kh·kw), so that `W @ im2col(x)` is the convolution.
    (PyTorch calls it `torch.nn.functional.unfold`.)
    """
    x, _ = _image_batch(x, "im2col")
    kernel = _pair(kernel_size, "im2col: kernel_size", 1)
    stride, padding = _pair(stride, "im2col: stride", 1), _pair(padding, "im2col: padding", 0)
    _check_fits("im2col", x.shape, kernel, padding)
    windows = _windows(pad2d(x, padding), kernel, stride)
    n, c, k, oh, ow = windows.shape
    return windows.reshape(n, c * k, oh * ow)


# ---------------------------------------------------------------- functions


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1, padding: IntPair = 0
) -> Tensor:
    """2-D convolution (cross-correlation, as in every framework), as `torch.nn.functional.conv2d`.

    `input` (N, C, H, W) or (C, H, W), `weight` (out_channels, C, kh, kw), `bias` (out_channels,);
    the output is (N, out_channels, OH, OW) with OH = floor((H + 2·padding - kh) / stride) + 1.
    Computed as `weight.reshape(out, C·kh·kw) @ im2col(input)`: one matrix product for the batch.
    """
    x, single = _image_batch(input, "conv2d")
    weight = as_tensor(weight)
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must have shape (out_channels, in_channels, kh, kw), got {weight.shape}")
    out_channels, in_channels, kh, kw = weight.shape
    if x.shape[1] != in_channels:
        raise ShapeError(
            f"conv2d: the input has {x.shape[1]} channels (shape {tuple(input.shape)}, channels on axis "
            f"{0 if single else 1}) but the weight {weight.shape} expects {in_channels}; the layout is NCHW"
            + (" (channels first: for NHWC images use x.transpose(0, 3, 1, 2))" if x.shape[-1] == in_channels else "")
        )
    if x.dtype != weight.dtype:
        raise DTypeError(
            f"conv2d: the input has dtype {x.dtype} but the weight has {weight.dtype}; convert the input, "
            f"e.g. x.cast(np.{weight.dtype}), or the model, e.g. model.to(np.{x.dtype})"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ShapeError(f"conv2d: bias must have shape ({out_channels},), got {tuple(bias.shape)}")
    stride, padding = _pair(stride, "conv2d: stride", 1), _pair(padding, "conv2d: padding", 0)
    _check_fits("conv2d", x.shape, (kh, kw), padding)
    columns = im2col(x, (kh, kw), stride, padding)  # (N, C·kh·kw, OH·OW)
    out = weight.reshape(out_channels, in_channels * kh * kw) @ columns  # (N, out, OH·OW)
    if bias is not None:
        out = out + as_tensor(bias).reshape(out_channels, 1)
    n = x.shape[0]
    oh, ow = (output_size(x.shape[2 + d], (kh, kw)[d], stride[d], padding[d]) for d in (0, 1))
    out = out.reshape(n, out_channels, oh, ow)
    return out.squeeze(0) if single else out


def _pool(
    caller: str, reduce: str, input: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> Tensor:
    x, single = _image_batch(input, caller)
    kernel = _pair(kernel_size, f"{caller}: kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, f"{caller}: stride", 1)
    padding = _pair(padding, f"{caller}: padding", 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{caller}: padding {padding} must be at most half the kernel size {kernel} (as in PyTorch)")
    _check_fits(caller, x.shape, kernel, padding)
    # Max pooling pads with -inf, which never wins; average pooling with zeros, which count
    # towards the mean (PyTorch's count_include_pad=True).
    x = pad2d(x, padding, -np.inf if reduce == "max" else 0.0)
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = output_size(x.shape[2], kh, sh, 0), output_size(x.shape[3], kw, sw, 0)
    # A window's max (or sum) is the max over its kw columns of the max over its kh rows, so
    # reduce in two steps: first the kh row slices (whole rows: NumPy runs along W contiguously),
    # then the kw column slices of that. kh + kw slices and elementwise ops on whole arrays,
    # 1.5-2x faster here than the kh·kw window slices, and much faster than a reduction over a
    # window axis of length 2 (NumPy would loop over runs of 2).
    fold = Tensor.maximum if reduce == "max" else Tensor.__add__
    rows = [x[:, :, i : i + sh * (oh - 1) + 1 : sh, :] for i in range(kh)]
    out = functools.reduce(fold, rows)  # (N, C, OH, W): each row's max over the window's height
    columns = [out[:, :, :, j : j + sw * (ow - 1) + 1 : sw] for j in range(kw)]
    out = functools.reduce(fold, columns)  # (N, C, OH, OW)
    if reduce == "mean":
        out = out * (1.0 / (kh * kw))
    return out.squeeze(0) if single else out


def max_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """The largest value of each kh x kw window, channel by channel (`torch.nn.functional.max_pool2d`).

    `stride` defaults to the kernel size; padding adds -inf borders. The gradient goes to the
    largest element of each window; where several tie, they share it (PyTorch gives it all to
    one of them), which changes nothing after a ReLU, whose gradient is 0 at the tied zeros.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> max_pool2d(tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _pool("max_pool2d", "max", input, kernel_size, stride, padding)


def avg_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """The mean of each kh x kw window, channel by channel (`torch.nn.functional.avg_pool2d`).

    `stride` defaults to the kernel size; padded zeros count towards the mean, as PyTorch's default.
    """
    return _pool("avg_pool2d", "mean", input, kernel_size, stride, padding)


# ---------------------------------------------------------------- layers


class Conv2d(Module):
    """A 2-D convolution layer, as `torch.nn.Conv2d`: `weight` (out_channels, in_channels, kh, kw)
    and `bias` (out_channels,), applied to NCHW input with `conv2d`.

    Initialised as PyTorch does: weight and bias uniform in ±1/sqrt(fan_in), fan_in = in_channels·kh·kw.

    >>> import tinygrad_edu as tg
    >>> conv = Conv2d(1, 6, kernel_size=5, padding=2)
    >>> conv
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    >>> conv(tg.zeros(8, 1, 28, 28)).shape
    (8, 6, 28, 28)
    """

    weight: Tensor
    bias: Tensor | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        bias: bool = True,
        *,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = _positive(in_channels, "Conv2d: in_channels")
        self.out_channels = _positive(out_channels, "Conv2d: out_channels")
        self.kernel_size = _pair(kernel_size, "Conv2d: kernel_size", 1)
        self.stride = _pair(stride, "Conv2d: stride", 1)
        self.padding = _pair(padding, "Conv2d: padding", 0)
        dtype = parameter_dtype(dtype, "Conv2d")
        rng = generator if generator is not None else default_generator()
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)  # = U(±1/sqrt(fan_in))
        if bias:
            bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            self.bias = init.uniform_(Parameter(np.empty(self.out_channels, dtype=dtype)), -bound, bound, rng)
        else:
            self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> None:
        super().__init__()
        name = type(self).__name__
        _pair(kernel_size, f"{name}: kernel_size", 1)  # checked now, kept as given (as PyTorch does)
        if stride is not None:
            _pair(stride, f"{name}: stride", 1)
        _pair(padding, f"{name}: padding", 0)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over kh x kw windows (`torch.nn.MaxPool2d`); `stride` defaults to the kernel size.

    >>> import tinygrad_edu as tg
    >>> MaxPool2d(2)(tg.zeros(8, 6, 28, 28)).shape
    (8, 6, 14, 14)
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling over kh x kw windows (`torch.nn.AvgPool2d`); `stride` defaults to the kernel size."""

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
