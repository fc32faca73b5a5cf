"""What one backward rule costs as the engine runs it.

tanh's backward rule called as the engine calls it (on ndarrays, recording off), against the same
rule written out in NumPy, and against evaluating it with Tensor operations, on a (10,) vector
(where Python overhead is everything) and a (100,000,) one (where NumPy's kernels are). The
contenders run in interleaved rounds (harness.py); the table shows medians and the median of the
per-round ratios to the NumPy version. The per-op overhead of a whole forward+backward and the
training steps against PyTorch and MyGrad are in bench.py. Run:

    .venv/bin/python benchmarks/bench_engine.py [--rounds 20] [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import harness
import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import ops


def rule_contenders(n: int) -> dict[str, Callable[[], object]]:
    x = tg.Tensor(np.random.default_rng(0).random(n, dtype=np.float32), requires_grad=True)
    ctx, out = x.tanh()._ctx, np.tanh(x.data)
    grad = np.ones(n, dtype=np.float32)

    def engine() -> object:
        return ops.Tanh.backward(ctx, grad)

    def numpy() -> object:
        return grad * (1 - out * out)

    def tensor_ops() -> object:
        g, t = tg.from_numpy(grad), tg.from_numpy(out)
        return g * (1 - t * t)

    return {"numpy": numpy, "engine's rule": engine, "tensor ops": tensor_ops}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    harness.add_timing_arguments(parser)
    args = harness.parse_timing_arguments(parser, argv)
    harness.set_threads(args.threads)
    print("\n".join(harness.describe_machine()))
    rows = []
    for n in (10, 100_000):
        contenders = rule_contenders(n)
        with tg.no_grad():  # as in backward(): the engine switches recording off for the whole pass
            clock = harness.CLOCKS[args.clock]
            calls = harness.calls_to_last(contenders["numpy"], args.turn_ms / 1e3, clock)
            samples = harness.interleaved(contenders, "numpy", rounds=args.rounds, calls=calls, clock=clock)
        cells = [f"{samples.median(key) * 1e6:.2f} µs ({samples.ratio(key):.2f}×)" for key in contenders]
        rows.append([f"tanh backward, n={n:,}", *cells])
    print()
    print(harness.markdown_table(["rule", *contenders], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
