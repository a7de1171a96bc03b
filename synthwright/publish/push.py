"""`push`: upload an export to a Hugging Face dataset repo in one commit, creating the repo if needed.

The token comes from huggingface_hub's own lookup (HF_TOKEN, then the file `hf auth login` writes). It is
handed to HfApi and nowhere else: never printed, logged, or written to the run store, the card or a file,
and the export is scanned for it before anything is uploaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthwright.core.errors import ConfigError, HubError

MANAGED_FOLDERS = ("data/", "plots/")  # files there that the new export lacks are deleted from the repo


@dataclass
class PushResult:
    """Where the dataset went."""

    repo_id: str
    url: str  # the dataset page
    commit_url: str
    commit: str  # the commit id
    revision: str
    files: list[str]  # uploaded, relative to the repo root
    deleted: list[str]  # stale files removed from data/ and plots/


def push_dataset(path: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                 license: str | None = None, endpoint: str | None = None, token: str | None = None,
                 commit_message: str | None = None) -> PushResult:
    """Upload a run (exported on the fly) or an export folder to the dataset repo `repo_id` in one commit.

    The repo is created when missing (`private` only applies then); pushing again replaces the files in
    place. `revision` names a branch, created from main when missing. `endpoint` defaults to HF_ENDPOINT,
    then huggingface.co; `token` defaults to huggingface_hub's lookup (HF_TOKEN, the saved login).
    """
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    path = Path(path)
    if "/" not in repo_id:
        raise ConfigError(f"--repo '{repo_id}' needs a namespace; write it as USER/NAME or ORG/NAME.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ConfigError(f"--repo '{repo_id}' is not a valid repo id; use USER/NAME with letters, digits, '-', '_' and '.'.") from None
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    token = token or get_token()
    if not token:
        raise HubError("No Hugging Face token was found; log in with `hf auth login` or set HF_TOKEN to a token with"
                       " write access, then push again.")
    if constants.is_offline_mode():
        raise HubError("HF_HUB_OFFLINE is set, so huggingface_hub will not reach the Hub; unset it to push.")

    with tempfile.TemporaryDirectory(prefix="synthwright-push-") as tmp:
        folder = _export_for_push(path, Path(tmp) / "export", license, repo_id)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        _refuse_secret(folder, files, token)
        api = HfApi(endpoint=endpoint, token=token)
        branch = revision or "main"
        with _hub_errors(repo_id, endpoint, token):
            repo_url = api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
            if branch != "main":
                api.create_branch(repo_id, branch=branch, repo_type="dataset", exist_ok=True)
            operations, deleted = _operations(api, repo_id, branch, folder, files)
            info = api.create_commit(repo_id, operations, repo_type="dataset", revision=branch,
                                     commit_message=commit_message or _message(folder, files))
    result = PushResult(repo_id=repo_id, url=str(repo_url), commit_url=info.commit_url, commit=info.oid,
                        revision=branch, files=files, deleted=deleted)
    _record(path, result, endpoint)
    return result


def _export_for_push(path: Path, dest: Path, license: str | None, repo_id: str) -> Path:
    """A run directory is exported into `dest`; an export folder (edited card and all) is pushed as it is."""
    from synthwright.publish.export import export_dataset, is_export

    if (path / "run.sqlite").is_file():
        return export_dataset(path, dest, license=license, repo_id=repo_id).path
    if path.is_dir() and is_export(path):
        if license:
            raise ConfigError(f"'{path}' is an export, so --license cannot change it; re-export the run with"
                              " --license, or edit the license in its README.md.")
        shutil.copytree(path, dest)
        return dest
    raise ConfigError(f"'{path}' is neither a synthwright run directory nor an export folder;"
                      " pass the --out of a `synthwright run` or the --to of a `synthwright export`.")


def _refuse_secret(folder: Path, files: list[str], token: str) -> None:
    if len(token) < 12:  # real tokens are ~37 characters; a short test value would match ordinary text
        return
    needle = token.encode()
    for rel in files:
        if needle in (folder / rel).read_bytes():
            raise HubError(f"'{rel}' contains your Hugging Face token, so nothing was pushed;"
                           " remove the token from the run's files (e.g. the recipe's options) and push again.")


def _operations(api: Any, repo_id: str, branch: str, folder: Path, files: list[str]) -> tuple[list, list[str]]:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        remote = api.list_repo_files(repo_id, repo_type="dataset", revision=branch)
    except (EntryNotFoundError, RevisionNotFoundError):
        remote = []  # a repo or branch without commits yet
    new = set(files)
    stale = sorted(p for p in remote if p.startswith(MANAGED_FOLDERS) and p not in new)
    ops: list = [CommitOperationDelete(path_in_repo=p) for p in stale]
    ops += [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(folder / rel)) for rel in files]
    return ops, stale


def _message(folder: Path, files: list[str]) -> str:
    from synthwright import __version__

    shards = [f for f in files if f.startswith("data/")]
    return f"Publish dataset with synthwright {__version__} ({len(shards)} data file{'s' * (len(shards) != 1)})"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level exception types of whichever HTTP client this huggingface_hub uses."""
    import importlib

    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                          ("requests", ("ConnectionError", "Timeout"))):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        found += [getattr(mod, n) for n in names if isinstance(getattr(mod, n, None), type)]
    return tuple(found)


class _hub_errors:
    """Turn huggingface_hub's exceptions into one-sentence HubErrors, with the token scrubbed from any text."""

    def __init__(self, repo_id: str, endpoint: str, token: str):
        self.repo_id, self.endpoint, self._token = repo_id, endpoint, token

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

        if isinstance(exc, OfflineModeIsEnabled):
            raise HubError("HF_HUB_OFFLINE is set, so huggingface_hub will not reach the Hub; unset it to push.") from None
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            status = exc.response.status_code
            if status == 401:
                raise HubError(f"The Hub at {self.endpoint} rejected the token (401 Unauthorized); log in again with"
                               " `hf auth login` or set HF_TOKEN to a valid token with write access.") from None
            if status == 403:
                raise HubError(f"The token may not write to '{self.repo_id}' (403 Forbidden); use a token with write"
                               " access to that namespace, or push to your own namespace.") from None
            if status == 404:
                raise HubError(f"The Hub at {self.endpoint} has no dataset repo '{self.repo_id}' this token can see"
                               " (404 Not Found); check --repo and the token's permissions.") from None
            detail = self._scrub(str(exc).splitlines()[0] if str(exc) else "")
            raise HubError(f"The Hub at {self.endpoint} answered {status} ({detail}); try again later or check"
                           " https://status.huggingface.co.", retryable=status >= 500 or status == 429) from None
        if isinstance(exc, _transport_errors()):
            raise HubError(f"Could not connect to the Hub at {self.endpoint} ({type(exc).__name__}); check your network"
                           " connection or HF_ENDPOINT and push again.", retryable=True) from None
        if isinstance(exc, ValueError) and "README.md" in str(exc):  # the Hub's own card validation
            raise HubError(f"The Hub rejected the dataset card: {self._scrub(str(exc))}; fix README.md and push again.") from None
        return False

    def _scrub(self, text: str) -> str:
        return " ".join(text.replace(self._token, "<token>").split())[:300]


def _record(path: Path, result: PushResult, endpoint: str) -> None:
    """Note the push in the run store (repo, revision, commit; never the token) when pushing a run."""
    if not (path / "run.sqlite").is_file():
        return
    from synthwright.core.store import RunStore

    store = RunStore(path / "run.sqlite")
    try:
        pushes = store.get("pushes", [])
        pushes.append({"repo_id": result.repo_id, "endpoint": endpoint, "revision": result.revision,
                       "commit": result.commit, "commit_url": result.commit_url, "time": time.time()})
        store.put("pushes", pushes)
    finally:
        store.close()
