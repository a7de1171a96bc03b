"""A pool of Ray actors, each holding one engine, behind the ordinary Engine interface.

The driver keeps the plan and the run store; actors only generate. Batches stream back as they
finish and are written as they arrive. An actor that dies is replaced and its batches are sent
again: nothing was stored for them, so nothing is duplicated.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from ..engines.base import ChatRequest, Engine, Generation, Sampling, parse_into
from ..errors import ConfigError, EngineError, require


class RayConfig(BaseModel):
    """Where and how wide to run. `address`: 'local' starts a cluster in this process, 'auto' joins the running one."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(default="auto", description="Ray address: 'auto', 'local', or ray://host:port / host:port.")
    actors: int = Field(default=2, ge=1, description="Engine actors (one model each).")
    cpus_per_actor: float = Field(default=1.0, gt=0, description="CPUs each actor reserves; torch uses that many threads.")
    gpus_per_actor: float = Field(default=0.0, ge=0, description="GPUs each actor reserves (vLLM / CUDA engines).")
    in_flight_per_actor: int = Field(default=2, ge=1, description="Batches queued on an actor, so it never waits for the driver.")
    max_restarts: int = Field(default=5, ge=0, description="Dead actors replaced before the run gives up.")


class EngineActor:
    """Runs inside a Ray worker: loads the engine once, generates batches on request."""

    def __init__(self, spec: str, options: dict[str, Any], threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        from ..engines import load_engine

        self.engine = load_engine(spec, **options)

    def describe(self) -> dict[str, Any]:
        return self.engine.describe()

    def generate(self, requests: list[ChatRequest], schema: Any, sampling: Sampling) -> list[Generation]:
        gens = self.engine.generate(requests, schema=schema, sampling=sampling)
        for g in gens:
            g.parsed = None  # re-validated on the driver, against the driver's own schema class
        return gens


class RayEnginePool(Engine):
    def __init__(self, spec: str, options: dict[str, Any] | None = None, config: RayConfig | None = None):
        self.ray = require("ray", extra="ray", feature="Running on Ray (--ray)")
        self.config = config or RayConfig()
        self.spec = spec
        self.options = options or {}
        self.batch_size = int(self.options.get("batch_size", 64))
        self.restarts = 0
        if not self.ray.is_initialized():
            address = None if self.config.address == "local" else self.config.address
            try:
                self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                              ignore_reinit_error=True, logging_level="ERROR")
            except ConnectionError as exc:
                raise ConfigError(f"Cannot reach a Ray cluster at '{self.config.address}'; start one with"
                                  " `ray start --head` or pass --ray local.") from exc
        self._remote = self.ray.remote(num_cpus=self.config.cpus_per_actor,
                                       num_gpus=self.config.gpus_per_actor)(EngineActor)
        self.actors = [self._new_actor() for _ in range(self.config.actors)]
        self._info = self.ray.get([a.describe.remote() for a in self.actors])[0]  # every actor has loaded its model

    def _new_actor(self) -> Any:
        return self._remote.remote(self.spec, self.options, int(max(1, self.config.cpus_per_actor)))

    def describe(self) -> dict[str, Any]:
        return {**self._info, "ray": {"actors": self.config.actors, "cpus_per_actor": self.config.cpus_per_actor,
                                      "gpus_per_actor": self.config.gpus_per_actor}}

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        chunks = [requests[i:i + self.batch_size] for i in range(0, len(requests), self.batch_size)]
        done = dict(self.generate_batches(chunks, schema=schema, sampling=sampling))
        return [g for i in range(len(chunks)) for g in done[i]]

    def generate_batches(self, batches: Iterable[list[ChatRequest]], *, schema: type[BaseModel] | None = None,
                         sampling: Sampling | None = None) -> Iterator[tuple[int, list[Generation]]]:
        sampling = sampling or Sampling()
        source = enumerate(batches)
        exhausted = False
        in_flight: dict[Any, tuple[int, list[ChatRequest], int]] = {}  # ref → (index, batch, actor slot)
        retry: deque[tuple[int, list[ChatRequest]]] = deque()
        load = [0] * len(self.actors)

        def submit(index: int, batch: list[ChatRequest]) -> None:
            slot = min(range(len(self.actors)), key=load.__getitem__)
            ref = self.actors[slot].generate.remote(batch, schema, sampling)
            in_flight[ref] = (index, batch, slot)
            load[slot] += 1

        while True:
            while sum(load) < len(self.actors) * self.config.in_flight_per_actor:
                if retry:
                    submit(*retry.popleft())
                    continue
                if exhausted:
                    break
                try:
                    submit(*next(source))
                except StopIteration:
                    exhausted = True
            if not in_flight:
                return
            [ref], _ = self.ray.wait(list(in_flight), num_returns=1)
            index, batch, slot = in_flight.pop(ref)
            load[slot] -= 1
            try:
                gens = self.ray.get(ref)
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorUnavailableError):
                self._replace(slot)
                for other, (i, b, s) in list(in_flight.items()):
                    if s == slot:  # queued on the dead actor: send again
                        del in_flight[other]
                        load[slot] -= 1
                        retry.append((i, b))
                retry.appendleft((index, batch))
                continue
            for g in gens:
                if g.error is None and schema is not None:
                    g.parsed, g.error = parse_into(schema, g.text, g.finish_reason)
            yield index, gens

    def _replace(self, slot: int) -> None:
        """Start a new actor in `slot` (it loads its model while the others keep working)."""
        self.restarts += 1
        if self.restarts > self.config.max_restarts:
            raise EngineError(f"Ray actors died {self.restarts} times; check the cluster's logs (`ray status`)"
                              " and run the same command again to resume.")
        self.actors[slot] = self._new_actor()

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
