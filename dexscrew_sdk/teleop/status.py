"""The operator's one-line live status, redrawn in place on a terminal and throttled."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StatusLine:
    """`show(text)` at every control step; draws at most `max_hz` times a second, only on a terminal."""

    def __init__(self, stream: TextIO | None = sys.stderr, max_hz: float = 10.0) -> None:
        self.stream = stream
        self.period_s = 1.0 / max_hz
        self._last = 0.0
        self._width = 0
        self.text = ""

    @property
    def live(self) -> bool:
        return self.stream is not None and self.stream.isatty()

    def show(self, text: str) -> None:
        self.text = text
        now = time.monotonic()
        if not self.live or now - self._last < self.period_s:
            return
        self._last = now
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)  # type: ignore[union-attr]
        self.stream.flush()  # type: ignore[union-attr]
        self._width = len(text)

    def close(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")  # type: ignore[union-attr]
            self.stream.flush()  # type: ignore[union-attr]
            self._width = 0
