"""What every `synthwright` command shares: one error path from library errors to a red sentence and an exit code.

Lives apart from `synthwright.cli.app` so sub-command modules (synthwright.cli.modalities) can use it
without importing the top-level command, which imports them.
"""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
import sys
from typing import Any, Callable

import typer
from rich.console import Console
from rich.markup import escape

from synthwright.core.errors import ConfigError, SynthwrightError

err = Console(stderr=True)
# A path the user gave that cannot be created or written (a file where a folder should be, no permission, a
# read-only disk): one sentence naming the path, like any bad input.
PATH_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EROFS}


def cli_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one red sentence and the error's exit code: the CLI's only error path."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except SynthwrightError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (OSError, sqlite3.OperationalError) as exc:
            if getattr(exc, "errno", None) in PATH_ERRNOS and getattr(exc, "filename", None):
                err.print(f"[bold red]error:[/] cannot write '{escape(str(exc.filename))}' ({exc.strerror}); give a path"
                          " in a folder you can write to (e.g. another --out) and run the same command again.",
                          highlight=False, soft_wrap=True)
                raise typer.Exit(ConfigError.exit_code) from None
            if getattr(exc, "errno", None) != errno.ENOSPC and "full" not in str(exc):
                raise
            err.print("[bold red]error:[/] the disk is full; free some space and run the same command again"
                      " (everything accepted so far is kept in the run store).", soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]: everything accepted so far is kept; run the same command to resume.")
            raise typer.Exit(130) from None

    return wrapper


def _quiet_libraries() -> None:
    """Library logs and tqdm bars off (the CLI shows rich progress), without importing anything heavy."""
    for name, value in (("TOKENIZERS_PARALLELISM", "false"), ("TQDM_DISABLE", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1")):
        os.environ.setdefault(name, value)
    if "datasets" in sys.modules:  # already imported (the Python API, tests): env vars come too late
        sys.modules["datasets"].disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
