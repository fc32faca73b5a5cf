"""tinygrad_edu against hand-written NumPy, PyTorch and MyGrad, in one interleaved run (issue 12).

Workloads, float32, every system written the way its users write it (see systems.py):
- one SGD training step of a 784 -> 256 -> 10 ReLU MLP with softmax cross-entropy (mean) at
  batch 1, 32, 128 and 1024, and of a 16 -> 16 -> 10 one at batch 8; every system gets the
  batch as an ndarray and wraps it without a copy;
- the per-op overhead: forward + backward of a chain of 1,000 elementwise ops on a (10,) vector,
  in microseconds per op;
- the peak memory (tracemalloc) of one training step at batch 128 and 1024, for the systems
  whose arrays NumPy allocates.

Each workload's systems run interleaved in rotating rounds (harness.py). In a turn a system
runs one uncounted step, then N steps, each timed (N: as many hand-written steps as fit in
`--turn-ms`); the turn's median step is that round's sample. Ratios are paired by round: each round's sample
over the hand-written step's sample of that same round; the table shows the median of those
ratios. BLAS and PyTorch run with their default threads unless `--threads` says otherwise,
and the header says which. Before timing, every system's step is checked to update
the weights as the hand-written step does. Run:

    .venv/bin/python benchmarks/bench.py [--rounds 20] [--quick] [--threads N] [--without torch mygrad]
"""

from __future__ import annotations

import argparse
import gc
import sys

import harness  # first: it sets OMP_WAIT_POLICY before PyTorch loads
from handwritten import chain_inputs, make_batch
from systems import REFERENCE, System, available_systems, check_same_update

MLP = (784, 256, 10)
SMALL = (16, 16, 10)
WORKLOADS = [
    ("B=1", MLP, 1),
    ("B=32", MLP, 32),
    ("B=128", MLP, 128),
    ("B=1024", MLP, 1024),
    ("16→16→10, B=8", SMALL, 8),
]
MEMORY_BATCHES = (128, 1024)
LR = 0.01

# Issue 12's targets for tinygrad_edu, both ways of writing its step.
OURS = ("tinygrad", "tinygrad-nn")
STEP_TARGETS = {"B=1": 1.6, "B=32": 1.25, "B=128": 1.15, "B=1024": 1.05, "16→16→10, B=8": 3.0}
PER_OP_TARGET_US = 3.0
MEMORY_TARGET = 1.2
WRITINGS_APART = 0.1  # the two ways of writing the step: at most this far apart, as ratios


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    harness.add_timing_arguments(parser)
    parser.add_argument("--chain", type=int, default=1000, help="ops in the elementwise chain (default: 1000)")
    parser.add_argument(
        "--without", nargs="+", default=[], choices=["torch", "mygrad", "tinygrad-nn"], help="leave systems out"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = harness.parse_timing_arguments(parser, argv)
    if args.chain < 2:
        parser.error(f"--chain must be at least 2, got {args.chain}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    systems, skipped = available_systems(tuple(args.without))
    harness.set_threads(args.threads)
    print("# tinygrad_edu against its peers (issue 12)\n")
    print("\n".join(harness.describe_machine()))
    print(f"command: {' '.join(sys.argv)}")
    for key, reason in skipped.items():
        print(f"skipped {key}: {reason}")
    check_same_update(systems, MLP)
    check_same_update(systems, SMALL, batch=8)
    print(f"checked: one step of each system leaves the weights the hand-written step leaves ({', '.join(systems)})")
    print(
        f"method: {args.rounds} interleaved rounds per workload, the order rotating each round; a turn is 1 uncounted "
        f"step, then ~{args.turn_ms:g} ms of steps, each timed ({args.clock} time), the turn's median step being "
        "the round's sample; ratio = median over the rounds of (system's sample / hand-written step's sample in "
        "the same round)"
    )
    steps = measure_steps(systems, args)
    chains = measure_chains(systems, args)
    per_op_us = {key: chains.median(key) / args.chain * 1e6 for key in chains.seconds}
    print_step_tables(systems, steps, chains, args.chain)
    memory = {} if args.no_memory else measure_memory(systems)
    if memory:
        print_memory_table(systems, memory)
    print_targets(systems, steps, per_op_us, memory)
    print(f"\nload average after: {harness.load_average():.1f}")
    return 0


def run_interleaved(contenders: dict, args: argparse.Namespace) -> harness.Samples:
    clock = harness.CLOCKS[args.clock]
    calls = harness.calls_to_last(contenders[REFERENCE], args.turn_ms / 1e3, clock)
    return harness.interleaved(contenders, REFERENCE, rounds=args.rounds, calls=calls, clock=clock)


def measure_steps(systems: dict[str, System], args: argparse.Namespace) -> dict[str, harness.Samples]:
    """Each workload's interleaved samples of the training steps, by column title."""
    results = {}
    for column, sizes, batch in WORKLOADS:
        x, y, weights = make_batch(sizes, batch, seed=batch)
        results[column] = run_interleaved(
            {key: system.trainer(x, y, weights, LR).step for key, system in systems.items()}, args
        )
        print(f"  measured the step at {column}", file=sys.stderr, flush=True)
    return results


def measure_chains(systems: dict[str, System], args: argparse.Namespace) -> harness.Samples:
    """The interleaved samples of the forward+backward chain, for each system with its own engine."""
    x0, a = chain_inputs()
    contenders = {
        key: (lambda chain=system.chain: chain(x0, a, args.chain))
        for key, system in systems.items()
        if system.chain is not None
    }
    return run_interleaved(contenders, args)


def measure_memory(systems: dict[str, System]) -> dict[str, dict[int, int]]:
    """Peak bytes of one training step by system and batch size, for the systems whose arrays
    NumPy allocates (tracemalloc does not see PyTorch's allocator)."""
    peaks: dict[str, dict[int, int]] = {key: {} for key, system in systems.items() if system.numpy_memory}
    for batch in MEMORY_BATCHES:
        x, y, weights = make_batch(MLP, batch, seed=batch)
        for key in peaks:
            step = systems[key].trainer(x, y, weights, LR).step
            gc.collect()
            peaks[key][batch] = harness.peak_traced_bytes(step)
    return peaks


def print_step_tables(
    systems: dict[str, System], steps: dict[str, harness.Samples], chains: harness.Samples, chain: int
) -> None:
    columns = [column for column, _, _ in WORKLOADS]
    rows = [
        [
            system.label,
            *(f"{steps[column].ratio(key):.2f}×" for column in columns),
            per_op_cell(chains, key, chain) if key in chains.seconds else "(same engine)",
        ]
        for key, system in systems.items()
    ]
    print("\n## Training step: time over the hand-written NumPy step's (median of per-round ratios)\n")
    per_op_title = f"per-op µs, fwd+bwd ({chain:,}-op chain on (10,)), and ratio"
    print(harness.markdown_table(["system", *columns, per_op_title], rows))
    rows = [[system.label, *(median_cell(steps[column], key) for column in columns)] for key, system in systems.items()]
    print("\n## Training step: median ms per step (interquartile range of the per-round ratios)\n")
    print(harness.markdown_table(["system", *columns], rows))


def per_op_cell(chains: harness.Samples, key: str, chain: int) -> str:
    return f"{chains.median(key) / chain * 1e6:.2f} ({chains.ratio(key):.1f}×)"


def median_cell(samples: harness.Samples, key: str) -> str:
    low, high = samples.ratio_spread(key)
    return f"{samples.median(key) * 1e3:.3f} ({low:.2f}–{high:.2f}×)"


def print_memory_table(systems: dict[str, System], memory: dict[str, dict[int, int]]) -> None:
    reference = memory[REFERENCE]
    rows = [
        [systems[key].label, *(f"{peaks[b] / 1e6:.2f} ({peaks[b] / reference[b]:.2f}×)" for b in MEMORY_BATCHES)]
        for key, peaks in memory.items()
    ]
    print("\n## Peak memory of one training step (tracemalloc): MB, and ratio to the hand-written step's\n")
    print(harness.markdown_table(["system", *(f"B={b}" for b in MEMORY_BATCHES)], rows))
    blind = [system.label for system in systems.values() if not system.numpy_memory]
    if blind:
        print(f"(not measured: {', '.join(blind)}: tracemalloc does not see its allocator)")


def print_targets(
    systems: dict[str, System],
    steps: dict[str, harness.Samples],
    per_op_us: dict[str, float],
    memory: dict[str, dict[int, int]],
) -> None:
    print("\n## Issue 12's targets for tinygrad_edu\n")
    ours = [key for key in OURS if key in systems]
    for key in ours:
        for column, target in STEP_TARGETS.items():
            print(f"- {key}, step {column}: {verdict(steps[column].ratio(key), target, '×')}")
        if key in per_op_us:
            print(f"- {key}, per op: {verdict(per_op_us[key], PER_OP_TARGET_US, ' µs')}")
        for batch in MEMORY_BATCHES if key in memory else ():
            ratio = memory[key][batch] / memory[REFERENCE][batch]
            print(f"- {key}, peak memory B={batch}: {verdict(ratio, MEMORY_TARGET, '×')}")
    if len(ours) == 2:
        for column in STEP_TARGETS:
            apart = abs(steps[column].ratio(ours[0]) - steps[column].ratio(ours[1]))
            print(f"- the two ways of writing the step apart, {column}: {verdict(apart, WRITINGS_APART, '×')}")


def verdict(value: float, target: float, unit: str) -> str:
    """'met (...)' or 'MISSED by ...' for a value that should be at most `target`."""
    if value <= target:
        return f"met ({value:.2f}{unit} ≤ {target:.2f}{unit})"
    return f"MISSED by {value - target:.2f}{unit} ({value:.2f}{unit} > {target:.2f}{unit})"


if __name__ == "__main__":
    sys.exit(main())
