"""Interleaved timing with paired ratios, peak memory, threads, and what machine it ran on.

How `interleaved` measures: every contender first runs once (imports, allocator, thread
pools). Then come `rounds` rounds; in each, every contender takes one turn, in an order that
rotates by one every round (A B C, B C A, C A B, ...) so that none always follows the same one.
A turn is one call that is not counted (it would run with the caches the previous contender just
filled, which a training loop never sees), then `calls` calls, each timed: the median of those
times is that round's sample, so that a neighbour's burst during a few calls does not count (nor
does a rare cost inside the contender, such as a full garbage collection). Ratios are paired by
round: a contender's sample divided by the reference's sample of the same round; the ratio
reported is the median of these per-round ratios, so a neighbour who slows a whole round down
slows both sides of each ratio alike.

>>> import time
>>> samples = interleaved({"fast": lambda: None, "slow": lambda: time.sleep(0.001)}, "fast", rounds=3, calls=2)
>>> samples.ratio("slow") > 10
True
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

# PyTorch's OpenMP threads spin for a while after each parallel call by default, stealing a core
# from whatever runs next, which in an interleaved run is another contender; they sleep instead
# with this (it has to be set before PyTorch loads, so importing this module sets it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def optional_module(name: str) -> tuple[ModuleType | None, str]:
    """The module, or None and the reason it could not be imported."""
    try:
        return importlib.import_module(name), ""
    except ImportError as error:
        return None, f"{name} is not installed ({error}); pip install {name} to include it"


def set_threads(threads: int | None) -> None:
    """Use `threads` threads in NumPy's BLAS (through threadpoolctl) and in PyTorch, if it is
    loaded; None leaves each library's own setting (from the environment, else one per core)."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise SystemExit(f"setting the BLAS threads needs threadpoolctl: pip install threadpoolctl ({error})") from None
    threadpool_limits(threads, user_api="blas")
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


# What a turn's calls are timed with. Wall time is what a user waits for; on a machine shared with
# other work it also counts the time the process waits for a core, which this process's CPU time
# does not (with one thread: with more, it also counts the time BLAS threads spend waiting).
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every interleaved benchmark: --rounds, --turn-ms, --threads, --clock, --quick."""
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds per measurement (default: 20)")
    parser.add_argument("--turn-ms", type=float, default=10.0, help="timed length of a turn (default: 10 ms)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="wall",
        help="cpu: process CPU time (with --threads 1)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 rounds of 1 ms turns")


def parse_timing_arguments(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse, with --quick applied and the timing options checked."""
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.turn_ms = 3, 1.0
    if args.rounds < 1 or args.turn_ms <= 0 or (args.threads is not None and args.threads < 1):
        parser.error("--rounds and --threads must be at least 1, and --turn-ms positive")
    return args


@dataclass
class Samples:
    """Seconds per call of each contender, one sample per round, and the reference contender."""

    reference: str
    seconds: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def ratios(self, name: str) -> list[float]:
        """Per round: this contender's time over the reference's time in the same round."""
        return [t / ref for t, ref in zip(self.seconds[name], self.seconds[self.reference])]

    def ratio(self, name: str) -> float:
        return statistics.median(self.ratios(name))

    def ratio_spread(self, name: str) -> tuple[float, float]:
        """The per-round ratios' lower and upper quartiles (both the median with fewer than 2)."""
        ratios = self.ratios(name)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        quartiles = statistics.quantiles(ratios, n=4)
        return quartiles[0], quartiles[2]


def calls_to_last(fn: Callable[[], object], seconds: float, clock: Callable[[], float] = time.perf_counter) -> int:
    """How many calls of `fn` take about `seconds` (at least one), from the fastest of three."""
    fn()
    fastest = math.inf
    for _ in range(3):
        start = clock()
        fn()
        fastest = min(fastest, clock() - start)
    return max(1, round(seconds / fastest))


def interleaved(
    contenders: dict[str, Callable[[], object]],
    reference: str,
    rounds: int,
    calls: int,
    settle: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> Samples:
    """Time the contenders in rotating interleaved rounds (see the module's docstring).

    `settle=False` drops the uncounted call of each turn, for calls long enough (a whole epoch)
    that the caches left by the previous contender do not matter; `clock` times the calls."""
    if reference not in contenders:
        raise ValueError(f"the reference {reference!r} is not among the contenders {list(contenders)}")
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for fn in contenders.values():
        fn()
    for round_ in range(rounds):
        for i in range(len(names)):
            name = names[(round_ + i) % len(names)]
            fn = contenders[name]
            if settle:
                fn()
            turn = []
            for _ in range(calls):
                start = clock()
                fn()
                turn.append(clock() - start)
            seconds[name].append(statistics.median(turn))
    return Samples(reference, seconds)


def peak_traced_bytes(step: Callable[[], object]) -> int:
    """Peak memory that Python and NumPy allocate (tracemalloc) during one call of `step`, above
    what was allocated before the first call.

    `step` runs twice under tracing and the second call is measured, so what one step leaves
    for the next (gradients kept in `.grad`) counts, as it does in a training loop. Memory that
    does not go through Python's or NumPy's allocators (PyTorch's) is not seen."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        step()
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()


def cpu_model() -> str:
    """The processor's model name, as `lscpu` shows it."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description() -> str:
    """NumPy's BLAS and the threads it uses now (threadpoolctl), or the environment's setting."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        setting = os.environ.get("OPENBLAS_NUM_THREADS", "not set: one per core")
        return f"BLAS threads: OPENBLAS_NUM_THREADS {setting} (pip install threadpoolctl for more)"
    pools = [
        f"{pool['internal_api']} {pool.get('version') or ''} {pool['num_threads']} threads"
        + (f" ({pool['architecture']} kernels)" if pool.get("architecture") else "")
        for pool in threadpool_info()
        if pool["user_api"] == "blas" and "numpy" in pool["filepath"]
    ]
    return "NumPy's BLAS: " + ("; ".join(pools) or "none found")


def load_average() -> float:
    """The system's load average over the last minute (NaN where there is none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def describe_machine() -> list[str]:
    """Date, processor, load, and the versions and thread settings of what is loaded."""
    lines = [
        f"date {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {cpu_model()}, {os.cpu_count()} cores; "
        f"load average {load_average():.1f}",
        f"Python {platform.python_version()}; numpy {np.__version__}; {blas_description()}",
    ]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        lines.append(
            f"torch {torch.__version__}: {torch.get_num_threads()} intra-op threads, "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'not set')}"
        )
    if "mygrad" in sys.modules:
        lines.append(f"mygrad {sys.modules['mygrad'].__version__}")
    return lines


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, the first column left-aligned and the others right-aligned.

    >>> print(markdown_table(["system", "B=1"], [["numpy", "1.00×"]]))
    | system | B=1 |
    |---|---:|
    | numpy | 1.00× |
    """
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
