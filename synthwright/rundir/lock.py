"""One writer per run directory (or any folder a command writes): an OS advisory lock on a small file.

The lock is `flock` on `.synthwright-writer.lock` in the folder (or, for a folder that is replaced
as a whole, such as an export or a student, on `.NAME.synthwright-writer.lock` beside it). The kernel
drops it when its holder exits, however it exits (`kill -9` included), so a lock left by a dead
process never blocks. The file only says who holds it (pid, host, since when, command line) for the
message a second writer gets; it is removed when the holder releases it. Readers never take it.

On a platform without `fcntl` (Windows) nothing is locked.
"""

from __future__ import annotations

import errno
import functools
import inspect
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

from synthwright.core.errors import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".synthwright-writer.lock"
_HELD: dict[int, "WriterLock"] = {}  # fd -> lock, so a forked child can drop its copies


class RunDirBusy(ConfigError):
    """Another process is writing the folder; `holder` is what it wrote into the lock file (pid, host, since, command)."""

    def __init__(self, message: str, *, holder: dict[str, Any]):
        super().__init__(message, retryable=True)
        self.holder = holder


class WriterLock:
    """A held writer lock; `release()` (or leaving the `with` block) gives it up. Releasing twice is harmless."""

    def __init__(self, path: Path, fd: int | None):
        self.path = path
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.pop(fd, None)
        try:
            if _same_file(fd, self.path):
                self.path.unlink()  # before unlocking, so no one locks a file that is about to go
        except OSError:
            pass
        os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown: the OS drops the lock anyway
            pass


def lock_path(folder: str | Path, *, beside: bool = False) -> Path:
    """Where the lock of `folder` lives: inside it, or (`beside`) next to it for folders replaced as a whole."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}{LOCK_NAME}" if beside else folder / LOCK_NAME


def hold_writer(folder: str | Path, *, beside: bool = False, flag: str = "--out") -> WriterLock:
    """Become the one writer of `folder`, or raise RunDirBusy naming the process that is.

    `flag` is the option a user would change to write somewhere else; it goes into the message.
    """
    folder = Path(folder)
    path = lock_path(folder, beside=beside)
    if fcntl is None:
        return WriterLock(path, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunDirBusy(busy_message(folder, holder, flag), holder=holder) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous holder removed the file between our open and our lock: lock the new one
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "command": _command_line()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    lock = WriterLock(path, fd)
    _HELD[fd] = lock
    return lock


def writes_to(where: str | Callable[[dict[str, Any]], Any], *, beside: bool = False, flag: str = "--out"):
    """Decorate a library function so it holds the writer lock of the folder it writes while it runs.

    `where` names the argument holding the folder, or computes it from the bound arguments; a folder of
    None (nothing written) takes no lock.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            folder = bound.arguments[where] if isinstance(where, str) else where(bound.arguments)
            if folder is None:
                return fn(*args, **kwargs)
            with hold_writer(folder, beside=beside, flag=flag):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def writer_of(folder: str | Path) -> dict[str, Any] | None:
    """Who is writing `folder` now, as its lock file says (pid, host, since, command), or None; takes no lock."""
    path = lock_path(folder)
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not holder.get("pid"):
        return None
    if holder.get("host") in (None, socket.gethostname()):
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return None  # killed without releasing: the kernel dropped its lock
        except (PermissionError, ValueError):
            pass
    return holder


def busy_message(folder: Path, holder: dict[str, Any], flag: str) -> str:
    if holder.get("pid"):
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["since"])) if holder.get("since") else "?"
        who = f"pid {holder['pid']} on {holder.get('host') or '?'}, since {since}"
        if holder.get("command"):
            who += f": {holder['command']}"
    else:
        who = "it is just starting"
    return (f"'{folder}' is being written by another synthwright process ({who}); wait for it to finish or stop it"
            f" (a stopped writer's lock goes with it), or pass another {flag}.")


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 8192, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False


def _command_line() -> str:
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    if args[0] in ("cli.py", "__main__.py", "-m"):
        args[0] = "synthwright"
    return " ".join(args)[:300]


def _drop_in_child() -> None:
    """A forked child gets copies of the descriptors; closing them keeps a lock from outliving its holder."""
    for fd, lock in list(_HELD.items()):
        lock._fd = None
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)
