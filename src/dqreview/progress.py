"""Progress of a long loop in the job's log: ``desc: done/total (pct) rate unit/s, ETA h:mm:ss``.

Snakemake keeps a rule's log file (``results/logs/<job>.log``, filled by :func:`dqreview.runner.setup_logging`
through the ``dqreview`` logger), not its stderr, so a tqdm bar alone never reaches it. :class:`Progress`
logs a line at most every ``every_s`` seconds of work, and once at the end, and shows a tqdm bar as well
only when stderr is a terminal. It reads a clock and nothing else: no random state, no effect on results.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from dqreview.errors import DQError

T = TypeVar("T")

log = logging.getLogger("dqreview.progress")


#: Seconds between progress lines, unless a caller or ``DQREVIEW_PROGRESS_S`` says otherwise.
EVERY_S = 10.0


def every_s_default() -> float:
    """``DQREVIEW_PROGRESS_S`` (seconds between progress lines) if set, else :data:`EVERY_S`."""
    value = os.environ.get("DQREVIEW_PROGRESS_S")
    if value is None or value == "":
        return EVERY_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:
        raise DQError(f"DQREVIEW_PROGRESS_S must be a number of seconds >= 0; got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (``?`` when unknown)."""
    if not seconds == seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return "?"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Count work done and log it at a steady cadence.

    Parameters
    ----------
    total : int or None
        Units of work in all (None: unknown, no percentage or ETA).
    desc : str
        What is being done (the log line's prefix).
    unit : str
        The unit of work (``step``, ``doc``, ``batch``).
    every_s : float, optional
        Least seconds between two log lines (the final line is always written); default the
        environment's ``DQREVIEW_PROGRESS_S``, else 10.
    initial : int
        Units already done (a resumed run); the rate counts only the work of this run.
    enabled : bool
        False: neither log lines nor a bar (quiet).
    brief : bool
        Write the final line only when a progress line was written before, so that a loop which is
        usually short (a k-means fit called many times) stays out of the log unless it runs long.
    bar : bool or None
        Show a tqdm bar on stderr; None: only when stderr is a terminal.
    logger : Logger, optional
        Where the lines go (default ``dqreview.progress``, which reaches the rule's log).
    clock : callable
        Seconds, monotonic (tests pass a fake clock).

    Examples
    --------
    >>> with Progress(total=len(batches), desc="t2v pool/shard-0", unit="batch") as p:  # doctest: +SKIP
    ...     for batch in batches:
    ...         work(batch)
    ...         p.update()
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        every_s: float | None = None,
        initial: int = 0,
        enabled: bool = True,
        brief: bool = False,
        bar: bool | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = None if total is None else int(total)
        self.desc, self.unit = desc, unit
        self.every_s = every_s_default() if every_s is None else float(every_s)
        self.initial = self.done = int(initial)
        self.enabled = enabled
        self.brief = brief
        self.lines = 0  # progress lines written
        self.log = logger or log
        self.clock = clock
        self.start = self.last = clock()
        self.postfix: dict[str, Any] = {}
        self.closed = False
        self._bar = None
        if enabled and (sys.stderr.isatty() if bar is None else bar):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, desc=desc, unit=unit, mininterval=1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Add ``n`` units done; ``postfix`` (e.g. ``loss=2.31``) is shown on the next line."""
        self.done += n
        if postfix:
            self.postfix.update(postfix)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            self.lines += 1
            self.log.info("%s", self.line(now))

    def rate(self, now: float | None = None) -> float:
        """Units per second of this run's work so far (0 before any time has passed)."""
        elapsed = (self.clock() if now is None else now) - self.start
        return (self.done - self.initial) / elapsed if elapsed > 0 else 0.0

    def eta(self, now: float | None = None) -> float:
        """Seconds left at the current rate (NaN when the total or the rate is unknown)."""
        rate = self.rate(now)
        if self.total is None or rate <= 0:
            return float("nan")
        return max(0, self.total - self.done) / rate

    def line(self, now: float | None = None) -> str:
        """``desc: done/total (pct) rate unit/s, ETA h:mm:ss[, key=value ...]``."""
        now = self.clock() if now is None else now
        if self.total:
            count = f"{self.done}/{self.total} ({100.0 * self.done / self.total:.0f}%)"
        else:
            count = f"{self.done}/{'?' if self.total is None else self.total}"
        text = (
            f"{self.desc}: {count} {self.rate(now):.3g} {self.unit}/s, ETA {format_duration(self.eta(now))}"
        )
        if self.postfix:
            text += ", " + ", ".join(f"{k}={_short(v)}" for k, v in self.postfix.items())
        return text

    def close(self) -> None:
        """Write the final line (with the elapsed time) and close the bar; idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._bar is not None:
            self._bar.close()
        if self.enabled and (self.lines or not self.brief):
            now = self.clock()
            self.log.info("%s; done in %s", self.line(now), format_duration(now - self.start))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def progress(
    items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it", **kwargs: Any
) -> Iterator[T]:
    """Iterate over ``items`` with a :class:`Progress` (``total`` defaults to ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, desc, unit, **kwargs) as p:
        for item in items:
            yield item
            p.update()
