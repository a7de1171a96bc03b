"""Live progress for long runs: rich bars on a terminal, plain lines anywhere else, nothing when disabled.

Each phase with counts (planning's phrase requests, a replay's stored responses, generation's accepted
samples) shows a rich bar when stderr is a terminal (or in Jupyter). When it is not (a file, a pipe, a CI
log), or with SYNTHWRIGHT_PROGRESS=plain, the phase writes plain lines to stderr instead: one when it
starts, one at most every `interval` seconds while it runs (SYNTHWRIGHT_PROGRESS_INTERVAL, default 30), and
one when it ends:

    planning: 24/60 phrases, 41.0 tokens/s, ETA 1m02s
    generating: 96/400 samples accepted, 120 generated (80% accepted), 35.2 tokens/s, ETA 4m10s

A line is due `interval` seconds after the last one. `update` writes it when an update finds it due, and a
daemon ticker thread (one per plain phase, stopped when the phase ends) writes it when no update comes: a
single batch that runs for longer than the interval still gets its line. Interval 0 writes a line on every
update, without a ticker. SYNTHWRIGHT_PROGRESS=rich keeps the bars whatever stderr is.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from synthwright.core.errors import ConfigError

DEFAULT_INTERVAL = 30.0  # seconds between plain lines
MIN_TICK = 0.05  # the ticker never wakes more often than this


def duration(seconds: float) -> str:
    """45s, 4m10s, 1h05m."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def plain_wanted(console: Console) -> bool:
    """Plain lines: SYNTHWRIGHT_PROGRESS=plain, or (unless it says rich) a console that is no terminal nor Jupyter."""
    mode = os.environ.get("SYNTHWRIGHT_PROGRESS", "").strip().lower()
    if mode in ("plain", "rich"):
        return mode == "plain"
    return not (console.is_terminal or console.is_jupyter)


def interval_from_env() -> float:
    raw = os.environ.get("SYNTHWRIGHT_PROGRESS_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"SYNTHWRIGHT_PROGRESS_INTERVAL must be a number of seconds (0 or more), got {raw!r}.")
    return value


@dataclass
class PhaseCounts:
    """What one phase has done so far. `samples`: generation, whose `done` counts accepted samples of `total`."""

    name: str
    unit: str
    total: int
    done: int
    t0: float
    samples: bool = False
    tokens: int | None = None  # None: the phase does not count tokens
    generated: int = 0
    accepted: int = 0
    cost: float | None = None

    def __post_init__(self) -> None:
        self.done0 = self.done  # done before this phase (a resumed run, cached answers)

    def tokens_per_s(self, now: float) -> float:
        return (self.tokens or 0) / max(now - self.t0, 1e-9)

    def eta(self, now: float) -> str:
        remaining = self.total - self.done
        if remaining <= 0:
            return "0s"
        progressed = self.accepted if self.samples else self.done - self.done0
        if progressed <= 0:
            return "unknown"
        return duration(remaining * (now - self.t0) / progressed)

    def line(self, now: float, stage: str = "running") -> str:
        """The plain line at `stage`: 'start' (counts only), 'running' (with ETA) or 'end' (with the time taken)."""
        if self.samples:
            parts = [f"{self.name}: {self.done}/{self.total} samples accepted"]
            parts.append(f"{self.generated} generated ({self.accepted / self.generated:.0%} accepted)"
                         if self.generated else "0 generated")
        else:
            parts = [f"{self.name}: {self.done}/{self.total} {self.unit}"]
        if stage == "start":
            return ", ".join(parts)
        if stage == "running" and (self.generated == 0 if self.samples else self.done == self.done0):
            return ", ".join(parts) + f", no batch finished yet ({duration(now - self.t0)})"
        if self.tokens is not None:
            parts.append(f"{self.tokens_per_s(now):.1f} tokens/s")
        if self.cost is not None:
            parts.append(f"cost {self.cost:.4g}")
        parts.append(f"took {duration(now - self.t0)}" if stage == "end" else f"ETA {self.eta(now)}")
        return ", ".join(parts)


class RunProgress:
    """Accepted/target bar plus generated, rejected, tokens/s; ETA from the acceptance rate. Plain lines when stderr
    is not a terminal (see the module's docstring); `interval` (seconds) overrides SYNTHWRIGHT_PROGRESS_INTERVAL and
    `plain` the choice between lines and bars."""

    def __init__(self, enabled: bool = True, console: Console | None = None, *, plain: bool | None = None,
                 interval: float | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.plain = enabled and (plain_wanted(self.console) if plain is None else plain)
        self.interval = (interval_from_env() if enabled else DEFAULT_INTERVAL) if interval is None else interval
        self.generated = self.rejected = self.tokens = 0  # the whole run's
        self.started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None
        self._phase: PhaseCounts | None = None
        self._lock = threading.RLock()
        self._last_line = 0.0
        self._halt: threading.Event | None = None
        self._ticker: threading.Thread | None = None

    def start(self, description: str, total: int, done: int, slots_total: int, slots_done: int) -> None:
        """Generation: `done` of `total` samples accepted before it (a resumed run)."""
        if not self.enabled:
            return
        self.stop()
        self._open(PhaseCounts("generating", "samples", total, done, time.monotonic(), samples=True, tokens=0))
        if self.plain:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("slots {task.fields[slots]} · generated {task.fields[generated]} · rejected {task.fields[rejected]}"
                       " · {task.fields[rate]} tok/s{task.fields[cost]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=done, generated=0, rejected=0,
                                             rate="-", slots=f"{slots_done}/{slots_total}", cost="")

    def planning(self, done: int, total: int, tokens: int = 0) -> None:
        """The planner's phrase requests (scenarios, personas) while they are answered; `tokens`: generated so far."""
        self.counting("planning", "phrases", done, total, tokens)

    def replaying(self, done: int, total: int) -> None:
        """A replay's stored responses, re-parsed and re-filtered."""
        self.counting("replaying", "stored responses", done, total)

    def counting(self, name: str, unit: str, done: int, total: int, tokens: int | None = None) -> None:
        """`done` of `total` `unit` in phase `name` (`tokens`: generated so far in it; None: not counted). The first
        call opens the phase (closing any other), the one that reaches `total` closes it."""
        if not self.enabled:
            return
        phase = self._phase
        if phase is None or phase.name != name or phase.samples:
            self.stop()
            phase = self._open(PhaseCounts(name, unit, total, done, time.monotonic(), tokens=tokens))
            if not self.plain:
                self._progress = Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(),
                                          TextColumn(f"{unit}{{task.fields[rate]}}"), TimeElapsedColumn(),
                                          console=self.console)
                self._progress.start()
                self._task = self._progress.add_task(name, total=total, completed=done, rate="")
        with self._lock:
            phase.done, phase.total = done, total
            if tokens is not None:
                phase.tokens = tokens
        if self._progress is not None:
            rate = "" if tokens is None else f" · {phase.tokens_per_s(time.monotonic()):.0f} tok/s"
            self._progress.update(self._task, completed=done, total=total, rate=rate)
        self._line_if_due()
        if done >= total:
            self.stop()

    def phase(self, text: str) -> None:
        self._say(text, "dim")

    def note(self, text: str) -> None:
        """A line the user should notice (a warning), in whatever phase the run is."""
        self._say(text, "yellow")

    def _say(self, text: str, style: str) -> None:
        if not self.enabled:
            return
        if self.plain:
            self._write(text)
        else:
            self.console.print(f"[{style}]{text}[/]")

    def update(self, *, accepted: int, generated: int, rejected: int, tokens: int, slots_done: int, slots_total: int,
               cost: float | None = None) -> None:
        self.generated += generated
        self.rejected += rejected
        self.tokens += tokens
        phase = self._phase
        if phase is None or not phase.samples:
            return
        with self._lock:
            phase.done += accepted
            phase.accepted += accepted
            phase.generated += generated
            phase.tokens = (phase.tokens or 0) + tokens
            phase.cost = cost
        if self._progress is not None:
            self._bar_update(phase, accepted, slots_done, slots_total, cost)
        self._line_if_due()

    def _bar_update(self, phase: PhaseCounts, accepted: int, slots_done: int, slots_total: int,
                    cost: float | None) -> None:
        task = self._progress.tasks[0]
        done = task.completed + accepted
        spent = "" if cost is None else (f" · cost {cost:.4g}" + (f" (projected {cost * task.total / done:.4g})"
                                                                   if done and task.total else ""))
        self._progress.update(self._task, advance=accepted, generated=self.generated, rejected=self.rejected,
                              rate=f"{phase.tokens_per_s(time.monotonic()):.0f}", slots=f"{slots_done}/{slots_total}",
                              cost=spent)

    def stop(self) -> None:
        """Ends the phase in progress, if any: its bar, or its ticker and last plain line."""
        if self._halt is not None:
            self._halt.set()
            if self._ticker is not None and self._ticker is not threading.current_thread():
                self._ticker.join()
            self._halt = self._ticker = None
        with self._lock:
            phase, self._phase = self._phase, None
            if phase is not None and self.plain:
                self._write(phase.line(time.monotonic(), "end"))
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _open(self, phase: PhaseCounts) -> PhaseCounts:
        self._phase = phase
        if self.plain:
            self._write(phase.line(phase.t0, "start"))
            if self.interval > 0:
                self._halt = threading.Event()
                self._ticker = threading.Thread(target=self._tick, args=(self._halt,), name="synthwright-progress",
                                                daemon=True)
                self._ticker.start()
        return phase

    def _tick(self, halt: threading.Event) -> None:
        while True:
            with self._lock:
                wait = self._last_line + self.interval - time.monotonic()
            if halt.wait(max(wait, MIN_TICK)):
                return
            self._line_if_due()

    def _line_if_due(self) -> None:
        if not self.plain:
            return
        with self._lock:
            now = time.monotonic()
            if self._phase is not None and now - self._last_line >= self.interval:
                self._write(self._phase.line(now))

    def _write(self, line: str) -> None:
        with self._lock:
            out = self.console.file
            out.write(line + "\n")
            out.flush()
            self._last_line = time.monotonic()
