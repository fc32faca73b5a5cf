"""Progress within one training epoch: a tqdm bar on a terminal, a few plain lines in a log.

>>> lines = []
>>> bar = EpochProgress("lines", total=400, batches=100, desc="epoch 1/1", log=lines.append)
>>> for _ in range(100):
...     bar.update(4, loss=0.5)
>>> bar.close()
>>> [line.split()[2] for line in lines], bar.mean_loss
(['100/400', '200/400', '300/400'], 0.5)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Log = Callable[[str], None] | None


def progress_mode(progress: bool | str | None, log: Log) -> str:
    """ "bar", "lines" or "off" for `fit(progress=...)`: None picks a tqdm bar on a terminal and
    plain lines otherwise (CI logs and pipes get lines they can keep, not carriage returns)."""
    if log is None or progress is False:
        return "off"
    if progress in ("bar", "lines"):
        return progress
    if progress is None and not sys.stdout.isatty():
        return "lines"
    try:
        import tqdm  # noqa: F401
    except ImportError:  # the `progress` extra is optional
        return "lines"
    return "bar"


class EpochProgress:
    """Counts the images and the mean loss of one epoch and shows them in the chosen `mode`.

    "bar": a tqdm bar (images, images per second, the running loss) that disappears at the end
    of the epoch; "lines": a line at 25, 50 and 75% of epochs of at least 100 batches (shorter
    ones end before anyone waits for them); "off": nothing.
    """

    def __init__(self, mode: str, total: int, batches: int, desc: str, log: Log) -> None:
        self.mode, self.total, self.desc, self.log = mode, total, desc, log
        self.done, self.loss_sum, self.batches = 0, 0.0, 0
        self.start = time.perf_counter()
        self.marks = [total * q // 4 for q in (1, 2, 3)] if batches >= 100 else []
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, desc=desc, unit=" img", unit_scale=True, leave=False, dynamic_ncols=True, file=sys.stdout
            )

    @property
    def mean_loss(self) -> float:
        """The mean loss per image so far."""
        return self.loss_sum / max(self.done, 1)

    def update(self, n: int, loss: float) -> None:
        """`n` more images, whose mean loss was `loss`."""
        self.done += n
        self.loss_sum += loss * n
        self.batches += 1
        if self.bar is not None:
            if self.batches % 10 == 0:  # the postfix costs a string format: not on every batch
                self.bar.set_postfix_str(f"loss {self.mean_loss:.4f}", refresh=False)
            self.bar.update(n)
        elif self.mode == "lines" and self.marks and self.done >= self.marks[0]:
            self.marks.pop(0)
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            self.log(f"  {self.desc}  {self.done:>6}/{self.total} images  loss {self.mean_loss:.4f}  {rate:,.0f} img/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
