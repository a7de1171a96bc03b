"""An engine that answers from a content-addressed cache of earlier calls and asks its inner engine the rest.

The key is a SHA-256 of the engine's identity (what `describe()` says, without how it batches and packs, plus the size
and modification time of a local model's files), the request (messages and seed), the sampling settings and
the schema: another model, other weights at the same path, other sampling or another schema never hit.
Calls that failed in the engine (finish reason `error`) are not cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthwright.core.store import CallCache
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)


def model_files(path: str) -> list[tuple[str, int, int]]:
    """(name, size, mtime) of a local model's files; empty for a Hub id, an API model or an engine that names no
    model (an empty path would be the working directory)."""
    if not path:
        return []
    p = Path(path).expanduser()
    if p.is_file():
        st = p.stat()
        return [(p.name, st.st_size, st.st_mtime_ns)]
    if p.is_dir():
        return sorted((f.relative_to(p).as_posix(), f.stat().st_size, f.stat().st_mtime_ns)
                      for f in p.rglob("*") if f.is_file())
    return []


class CachedEngine(Engine):
    def __init__(self, inner: Engine, cache: CallCache):
        self.inner = inner
        self.cache = cache
        self.spec = inner.spec
        self.batch_size = getattr(inner, "batch_size", 64)
        self.hits = self.misses = 0
        info = {k: v for k, v in inner.describe().items() if k not in ("batch_size", "packed_layers")}
        self.identity = json.dumps({**info, "files": model_files(str(info.get("model") or ""))}, sort_keys=True, default=str)

    def key(self, request: ChatRequest, sampling: Sampling, schema: type[BaseModel] | None) -> str:
        body = {"engine": self.identity, "request": request.model_dump(mode="json"),
                "sampling": sampling.model_dump(mode="json"),
                "schema": schema.model_json_schema() if schema is not None else None}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        sampling = sampling or Sampling()
        keys = [self.key(r, sampling, schema) for r in requests]
        found = self.cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        out: list[Generation | None] = [None] * len(requests)
        for i, k in enumerate(keys):
            if k in found:
                row = found[k]
                parsed, error = parse_into(schema, row["text"], row["finish_reason"] or "stop")
                out[i] = Generation(text=row["text"], parsed=parsed, error=error, finish_reason=row["finish_reason"],
                                    prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
                                    seconds=0.0)
        if todo:
            made = self.inner.generate([requests[i] for i in todo], schema=schema, sampling=sampling)
            for i, gen in zip(todo, made):
                out[i] = gen
            self.cache.put([(keys[i], gen) for i, gen in zip(todo, made) if gen.finish_reason != "error"])
        self.hits += len(requests) - len(todo)
        self.misses += len(todo)
        return out  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()
