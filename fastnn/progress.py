"""A small progress bar for the terminal (stderr): count, rate, running values, time left."""

from __future__ import annotations

import sys
import time


class Progress:
    """``bar.update(n, loss=0.12)`` after each batch, ``bar.close()`` at the end.

    Redraws at most ten times a second; prints nothing when disabled.
    """

    def __init__(self, total: int, label: str = "", unit: str = "it", enabled: bool = True,
                 stream=None, width: int = 24) -> None:
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.steps = self.count = self.drawn = 0
        self.values: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def update(self, count: int = 1, **values: float) -> None:
        self.steps += 1
        self.count += count
        self.values.update(values)
        now = time.perf_counter()
        if self.enabled and (now - self.last >= 0.1 or self.steps == self.total):
            self._draw(now)

    def _draw(self, now: float) -> None:
        self.last, self.drawn = now, self.steps
        elapsed = max(now - self.start, 1e-9)
        done = min(self.steps / self.total, 1.0) if self.total else 1.0
        filled = int(done * self.width)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        left = elapsed / done - elapsed if done > 0 else 0.0
        shown = " ".join(f"{k} {v:.4f}" for k, v in self.values.items())
        self.stream.write(f"\r{self.label} [{bar}] {self.steps}/{self.total} {shown} "
                          f"{self.count / elapsed:,.0f} {self.unit}/s {elapsed:.1f}s<{left:.1f}s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            if self.drawn != self.steps:
                self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
