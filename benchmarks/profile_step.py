"""Where one system's training step spends its time: cProfile over many steps of bench.py's step.

Prints the time per step without the profiler (for scale: cProfile slows Python-heavy code
several times over, NumPy's kernels not at all), then the top functions. Run:

    .venv/bin/python benchmarks/profile_step.py [--system tinygrad] [--batch 1] [--steps 2000] [--top 20] [--timer cpu]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import harness  # first: it sets OMP_WAIT_POLICY before PyTorch loads
from bench import MLP, SMALL
from handwritten import make_batch
from systems import OPTIONAL, SYSTEMS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", choices=list(SYSTEMS), default="tinygrad", help="(default: tinygrad)")
    parser.add_argument("--batch", type=int, default=1, help="(default: 1)")
    parser.add_argument("--small", action="store_true", help="the 16 -> 16 -> 10 network instead of 784 -> 256 -> 10")
    parser.add_argument("--steps", type=int, default=2000, help="profiled steps (default: 2000)")
    parser.add_argument("--top", type=int, default=20, help="functions to list (default: 20)")
    parser.add_argument("--sort", default="tottime", help="a pstats sort key: tottime, cumtime, ncalls")
    parser.add_argument(
        "--timer", choices=["wall", "cpu"], default="wall", help="cpu: this thread's CPU time (steadier when busy)"
    )
    parser.add_argument("--threads", type=int, default=None, help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps = 100
    if args.steps < 1 or args.batch < 1:
        parser.error("--steps and --batch must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.system in OPTIONAL:
        module, reason = harness.optional_module(OPTIONAL[args.system])
        if module is None:
            raise SystemExit(reason)
    harness.set_threads(args.threads)
    sizes = SMALL if args.small else MLP
    x, y, weights = make_batch(sizes, args.batch, seed=args.batch)
    step = SYSTEMS[args.system].trainer(x, y, weights, 0.01).step
    for _ in range(20):  # warm-up: allocator, caches, lazy imports
        step()
    clock = time.thread_time if args.timer == "cpu" else time.perf_counter
    start = clock()
    for _ in range(args.steps):
        step()
    per_step = (clock() - start) / args.steps

    profiler = cProfile.Profile(clock)
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()

    print(f"# {SYSTEMS[args.system].label}: step of {sizes[0]}→{sizes[1]}→{sizes[2]}, batch {args.batch}\n")
    print("\n".join(harness.describe_machine()))
    print(f"command: {' '.join(sys.argv)}")
    print(f"{per_step * 1e6:.1f} µs ({args.timer} time) per step without the profiler; {args.steps} steps profiled\n")
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
