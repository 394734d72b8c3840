"""Progress of a long run on stderr: done / total, share and rate."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``label: done / total (pct) rate/s`` at most every ``every`` seconds.

    On a terminal the line is rewritten in place; otherwise (a log file) each report is a line.
    """

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        stream: TextIO | None = None,
        every: float = 1.0,
    ) -> None:
        self.label = label
        self.total = total
        self.done = done
        self.started_at = done  # rows done before this run (resumed) do not count in the rate
        self.stream = stream or sys.stderr
        self.every = every
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._tty = self.stream.isatty()

    @property
    def elapsed(self) -> float:
        """Seconds since this run started."""
        return time.perf_counter() - self.t0

    @property
    def rate(self) -> float:
        """Rows per second in this run."""
        took = self.elapsed
        return (self.done - self.started_at) / took if took > 0 else 0.0

    def line(self) -> str:
        """The progress line."""
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"{self.label}: {self.done:,} / {self.total:,} ({pct:.0f}%)  {self.rate:,.0f}/s"

    def advance(self, n: int) -> None:
        """Count ``n`` more rows done; print if it is time."""
        self.done += n
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._print()

    def finish(self) -> None:
        """Print the final line."""
        self._print()
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def _print(self) -> None:
        if self._tty:
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
