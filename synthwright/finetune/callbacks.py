"""Trainer callbacks: keep the adapter of the best validation loss, and show progress with rich."""

from __future__ import annotations

import math
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
from transformers import TrainerCallback


class KeepBest(TrainerCallback):
    """Snapshots the trainable (adapter) weights at each new best validation loss and puts them back at the end.

    transformers' `load_best_model_at_end` does the same through checkpoints on disk (optimizer state
    included); an adapter is a few MB, so memory is cheaper and nothing is left behind.
    """

    def __init__(self, min_delta: float = 0.0):
        self.min_delta = min_delta
        self.best: float = math.inf
        self.best_step: int | None = None
        self.initial: float | None = None
        self.evals: list[dict[str, float]] = []
        self._weights: dict[str, Any] | None = None

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if loss is None:
            return
        self.evals.append({"step": state.global_step, "epoch": round(state.epoch or 0.0, 3), "val_loss": float(loss)})
        if self.initial is None:
            self.initial = float(loss)
        if loss < self.best - self.min_delta or self._weights is None:
            self.best, self.best_step = float(loss), state.global_step
            self._weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def restore(self, model: Any) -> None:
        if self._weights is None:
            return
        params = dict(model.named_parameters())
        for name, value in self._weights.items():
            params[name].data.copy_(value)


class RichProgress(TrainerCallback):
    """A step bar with the latest train loss, validation loss and best validation loss."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self.train_loss = "-"
        self.val_loss = "-"
        self.best = math.inf

    def on_train_begin(self, args, state, control, **kwargs):
        self._progress = Progress(
            TextColumn("[bold]distill"), BarColumn(), MofNCompleteColumn(),
            TextColumn("train loss {task.fields[train]} · val loss {task.fields[val]} (best {task.fields[best]})"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task("distill", total=state.max_steps, train="-", val="-", best="-")

    def on_step_end(self, args, state, control, **kwargs):
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._progress is None or not logs:
            return
        if "loss" in logs:
            self.train_loss = f"{float(logs['loss']):.3f}"
        if "eval_loss" in logs:
            loss = float(logs["eval_loss"])
            self.val_loss = f"{loss:.3f}"
            better = loss < self.best
            self.best = min(self.best, loss)
            # One line per evaluation as well, so a log file (no live bar) still shows the curve.
            self._progress.console.print(f"[dim]step {state.global_step}/{state.max_steps} · train loss {self.train_loss}"
                                         f" · val loss {self.val_loss}{' (best)' if better else ''}[/]",
                                         highlight=False)
        self._progress.update(self._task, train=self.train_loss, val=self.val_loss,
                              best=f"{self.best:.3f}" if self.best < math.inf else "-")

    def on_train_end(self, args, state, control, **kwargs):
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
            self._progress.stop()
            self._progress = None
