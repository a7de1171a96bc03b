"""The run's teachers: the engines that write samples, loaded on first use.

A teacher is a ready engine the caller passed, or one built from its spec in the recipe: on a pool of Ray actors
when the run has a Ray config (the engines themselves know nothing of Ray), and answered from a folder of earlier
calls first when the run has a call cache (engines/cache.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from synthwright.core.errors import ConfigError
from synthwright.core.store import CallCache
from synthwright.engines import Engine, load_engine
from synthwright.engines.cache import CachedEngine
from synthwright.recipe.model import Recipe
from synthwright.scale.ray_pool import RayConfig


def load_model(spec: Any, ray: RayConfig | None = None, **options: Any) -> Engine:
    """The engine a spec names, on a pool of Ray actors (each holding one such engine) when `ray` is given."""
    if ray is not None and not isinstance(spec, Engine):
        from synthwright.scale import RayEnginePool

        return RayEnginePool(spec, options, ray)
    return load_engine(spec, **options)


class Teachers:
    """The recipe's teachers by index (a mixture has several), each loaded the first time it is asked for.

    `given` replaces the specs with ready engines (one for all teachers, or a list with one per teacher); `cache`
    (or $SYNTHWRIGHT_CALL_CACHE) is a folder of earlier model calls; `on_phase` hears "loading teacher …".
    Use it as a context manager: on exit it closes the call cache and the Ray pools it started.
    """

    def __init__(self, recipe: Recipe, given: Engine | list[Engine] | None = None, *, ray: RayConfig | None = None,
                 cache: str | Path | None = None, on_phase: Callable[[str], None] = lambda _: None):
        self.specs = recipe.teachers
        if given is not None and not isinstance(given, list):
            given = [given] * len(self.specs)
        if given is not None and len(given) != len(self.specs):
            raise ConfigError(f"run() got {len(given)} engines for a mixture of {len(self.specs)} teachers;"
                              " pass one per teacher.")
        self.given = given
        self.ray = ray
        self.cache_dir = cache or os.environ.get("SYNTHWRIGHT_CALL_CACHE") or None
        self.call_cache = CallCache(self.cache_dir) if self.cache_dir else None
        self.on_phase = on_phase
        self.loaded: dict[int, Engine] = {}

    def __call__(self, i: int = 0) -> Engine:
        if i not in self.loaded:
            if self.given is not None and self.given[i] is not None:
                engine = self.given[i]
            else:
                teacher = self.specs[i]
                self.on_phase(f"loading teacher {teacher.model} …")
                engine = load_model(teacher.model, self.ray, **teacher.options)
            self.loaded[i] = CachedEngine(engine, self.call_cache) if self.call_cache is not None else engine
        return self.loaded[i]

    @property
    def given_spec(self) -> str | None:
        """The first ready engine's spec, when the caller passed engines (a judge naming it reuses the teacher)."""
        return self.given[0].spec if self.given is not None else None

    def load_judge(self, spec: Any, **options: Any) -> Engine:
        """A judge's own engine: on a Ray pool of its own when the teachers run on Ray."""
        return load_model(spec, self.ray.for_judge() if self.ray is not None else None, **options)

    def cache_stats(self) -> dict[str, Any] | None:
        if self.call_cache is None:
            return None
        cached = [e for e in self.loaded.values() if isinstance(e, CachedEngine)]
        return {"dir": str(self.cache_dir), "hits": sum(e.hits for e in cached), "misses": sum(e.misses for e in cached)}

    def __enter__(self) -> "Teachers":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.call_cache is not None:
            self.call_cache.close()
        if self.ray is not None:
            for i, engine in self.loaded.items():
                if self.given is None or self.given[i] is None:
                    engine.close()
