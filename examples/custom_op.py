"""A user-defined op (a Function with forward and backward), checked with gradcheck.

Teaches: how to add an op to the engine, `class MyOp(tg.Function)` with
`forward(ctx, x)` in NumPy that saves what the derivative needs, and `backward(ctx, grad)`
that returns grad · (local derivative); and how gradcheck catches a wrong backward, here one
that forgets a factor, naming the input, the worst element and both values.

    python examples/custom_op.py [--small]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tinygrad_edu as tg


class SiLU(tg.Function):
    """silu(x) = x·σ(x) (also called swish); its derivative is σ(x)·(1 + x·(1 − σ(x)))."""

    @staticmethod
    def forward(ctx, x):
        s = 1.0 / (1.0 + np.exp(-x))
        ctx.save_for_backward(x, s)  # the backward needs x and σ(x): keep them, don't recompute
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))


class WrongSiLU(SiLU):
    """The same forward, and a backward that forgets the x·(1 − σ(x)) term: a plausible slip."""

    @staticmethod
    def backward(ctx, grad):
        _, s = ctx.saved_tensors
        return grad * s


def main(n: int = 6) -> None:
    x = tg.Tensor(np.linspace(-3, 3, n), requires_grad=True)  # float64: finite differences need it
    y = SiLU.apply(x)
    print(f"silu({np.round(x.numpy(), 2)}) = {np.round(y.numpy(), 3)}  (op name: {y.op!r})")
    y.sum().backward()
    print(f"its gradient: {np.round(x.grad.numpy(), 3)}")

    assert tg.gradcheck(SiLU.apply, (x,))
    print("gradcheck(SiLU): backward agrees with finite differences")

    try:
        tg.gradcheck(WrongSiLU.apply, (x,))
    except tg.GradcheckError as error:
        print("gradcheck(WrongSiLU) caught the wrong backward:")
        print("  " + str(error).replace("\n", "\n  "))
    else:
        raise AssertionError("gradcheck should have caught WrongSiLU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer points (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    main(n=4 if args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1" else 6)
