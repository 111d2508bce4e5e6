"""Progress reporting: one protocol for every library function that takes a while.

    def train(..., progress: Progress = no_progress):
        counter = StageCounter(progress, "train", total=len(batches))
        for batch in batches:
            ...
            counter.advance()

A reporter is any callable ``progress(stage, done, total)``: ``stage`` names the work (a pipeline
stage, "epoch 3/10", "fit"), ``done`` counts the units finished so far in that stage (frames,
person-frames, steps, images; it only rises), ``total`` is the count the stage will reach, or
None when it is not known in advance. A stage may begin with ``done = 0``; it ends when ``done``
reaches ``total`` or another stage begins.

Library code calls a reporter and never draws anything itself: the ``hmr`` CLI builds the one
that draws tqdm bars (``hmr.commands.runtime.cli_progress``; ``--quiet`` gets a silent one). The module sits in ``body_models`` so that ``lifting`` and ``hmr`` share it.
Functions that once took ``progress: bool`` still do (``as_progress``): False is silence, True
prints plain lines to stderr (``LineProgress``), as this package imports no bar library.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """``progress(stage, done, total)``: ``done`` units of ``stage`` finished, of ``total`` (None:
    unknown)."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The silent reporter: the default everywhere."""


class LineProgress:
    """Plain progress on a text stream (stderr by default), for library callers without a CLI:
    one line per stage, rewritten in place on a terminal (at most every ``interval`` seconds) and
    printed every ``interval`` seconds elsewhere, and always when the stage ends."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.2 if self.tty else 10.0)
        self.stage: str | None = None
        self.shown: float | None = None  # when the current stage's line was last written

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.close()
            self.stage, self.shown = stage, None
        finished = total is not None and done >= total
        if not finished and self.shown is not None and now - self.shown < self.interval:
            return
        self.shown = now
        line = f"{stage}: {done}/{total}" if total is not None else f"{stage}: {done}"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if finished:
            self._end_line()
            self.stage = None
        self.stream.flush()

    def _end_line(self) -> None:
        if self.tty:
            self.stream.write("\n")

    def close(self) -> None:
        """End the current stage's line (call when the work is over)."""
        if self.stage is not None and self.shown is not None:
            self._end_line()
            self.stream.flush()
        self.stage = None


def as_progress(progress: Progress | bool | None) -> Progress:
    """The reporter a ``progress`` argument means: a callable as given; True a ``LineProgress``
    on stderr; False or None ``no_progress``."""
    if progress is None or progress is False:
        return no_progress
    if progress is True:
        return LineProgress()
    if not callable(progress):
        raise TypeError(f"progress must be a callable progress(stage, done, total) or a bool, got {progress!r}")
    return progress


class StageCounter:
    """Counts the units of one stage and reports the running count to a reporter.

    Args:
        progress: the reporter.
        stage: the stage's name.
        total: the units it will reach, or None when unknown.
        start: report ``done = 0`` at once, so a bar appears when the work begins.
    """

    def __init__(self, progress: Progress, stage: str, total: int | None, start: bool = True) -> None:
        self.progress, self.stage = progress, stage
        self.total = None if total is None else int(total)
        self.done = 0
        if start:
            self.progress(stage, 0, self.total)

    def advance(self, units: int = 1) -> None:
        """``units`` more finished."""
        self.done += int(units)
        self.progress(self.stage, self.done, self.total)

    def reach(self, done: int) -> None:
        """The count is now ``done`` (reported only when it rose)."""
        if int(done) > self.done:
            self.done = int(done)
            self.progress(self.stage, self.done, self.total)
