"""A pool of Ray actors, each holding one engine, behind the ordinary Engine interface.

The driver keeps the plan and the run store; actors only generate. Batches stream back as they
finish and are written as they arrive. An actor that dies is replaced and its batches are sent
again: nothing was stored for them, so nothing is duplicated.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthwright.core.errors import ConfigError, EngineError, require
from synthwright.engines.base import (
    ChatRequest,
    Engine,
    Generation,
    Sampling,
    parse_into,
)


class RayConfig(BaseModel):
    """Where and how wide to run. `address`: 'local' starts a cluster in this process, 'auto' joins the running one."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(default="auto", description="Ray address: 'auto', 'local', or ray://host:port / host:port.")
    actors: int = Field(default=2, ge=1, description="Engine actors (one model each).")
    cpus_per_actor: float = Field(default=1.0, gt=0, description="CPUs each actor reserves; torch uses that many threads.")
    gpus_per_actor: float = Field(default=0.0, ge=0, description="GPUs each actor reserves (vLLM / CUDA engines).")
    in_flight_per_actor: int = Field(default=2, ge=1, description="Batches queued on an actor, so it never waits for the driver.")
    max_restarts: int = Field(default=5, ge=0, description="Dead actors replaced before the run gives up.")
    wait_for_resources_s: float = Field(default=120.0, ge=0, description="How long a pool waits for busy CPUs/GPUs to free up.")
    judge_actors: int | None = Field(default=None, ge=1, description="Actors of a judge with a model of its own; default: actors.")
    judge_gpus_per_actor: float | None = Field(default=None, ge=0, description="GPUs per judge actor; default: gpus_per_actor.")

    @classmethod
    def from_user(cls, value: "RayConfig | dict[str, Any]") -> "RayConfig":
        """A RayConfig from a dict of settings (the CLI's flags), with a bad value named in one sentence."""
        if isinstance(value, cls):
            return value
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(map(str, err["loc"])) or "ray"
            raise ConfigError(f"Ray setting '{field}': {err['msg']}; fix --{field.replace('_', '-')}.") from exc

    def for_judge(self) -> "RayConfig":
        """The pool of a judge that runs a model of its own (a judge on the teacher's model shares its pool)."""
        return self.model_copy(update={
            "actors": self.judge_actors or self.actors,
            "gpus_per_actor": self.gpus_per_actor if self.judge_gpus_per_actor is None else self.judge_gpus_per_actor})


def send_token_if_available() -> None:
    """Join with token authentication when this machine has a Ray token and RAY_AUTH_MODE is unset.

    Ray >= 2.5x: `ray start` turns token authentication on by itself once ~/.ray/auth_token exists
    (any earlier local `ray.init()` writes one), but a driver that joins the cluster does not, and
    fails after a long retry. This applies Ray's own rule on the driver side too; a token sent to a
    cluster without authentication is ignored.
    """
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


class EngineActor:
    """Runs inside a Ray worker: loads the engine once, generates batches on request."""

    def __init__(self, spec: str, options: dict[str, Any], threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        from synthwright.engines import load_engine

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
            if address is not None:
                send_token_if_available()
            try:
                self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                              ignore_reinit_error=True, logging_level="ERROR")
            except (ConnectionError, RuntimeError) as exc:  # Ray raises RuntimeError when GCS refuses it
                raise ConfigError(f"Cannot reach a Ray cluster at '{self.config.address}'; start one with"
                                  " `ray start --head` or pass --ray local.") from exc
        self._check_resources()
        self._remote = self.ray.remote(num_cpus=self.config.cpus_per_actor,
                                       num_gpus=self.config.gpus_per_actor)(EngineActor)
        self.actors = [self._new_actor() for _ in range(self.config.actors)]
        try:  # every actor has loaded its model before the first batch goes out
            self._info = self.ray.get([a.describe.remote() for a in self.actors])[0]
        except self.ray.exceptions.RayActorError as exc:
            self.close()
            last_line = str(getattr(exc, "cause", None) or exc).strip().splitlines()[-1]
            reason = re.sub(r"^[\w.]+(Error|Exception): ", "", last_line)  # the actor's exception, without its class
            raise EngineError(f"A Ray actor could not load '{spec}': {reason}") from exc

    def _check_resources(self) -> None:
        """Refuse a pool the cluster cannot place: its actors would wait for resources forever.

        A pool larger than the whole cluster is refused at once; one that fits but finds the
        resources taken (e.g. by the actors of a driver that was just killed, which Ray reclaims
        within seconds) waits up to `wait_for_resources_s`.
        """
        need = {"CPU": self.config.cpus_per_actor * self.config.actors,
                "GPU": self.config.gpus_per_actor * self.config.actors}
        flags = {"CPU": "--cpus-per-actor", "GPU": "--gpus-per-actor"}
        total = self.ray.cluster_resources()
        for resource, amount in need.items():
            if amount > total.get(resource, 0.0) + 1e-9:
                raise ConfigError(
                    f"{self.config.actors} Ray actor(s) for '{self.spec}' need {amount:g} {resource}s but the cluster has"
                    f" {total.get(resource, 0.0):g} in all; lower --actors or {flags[resource]}, or add nodes (`ray status`).")
        deadline = time.monotonic() + self.config.wait_for_resources_s
        while True:
            free = self.ray.available_resources()
            short = [r for r, amount in need.items() if amount > free.get(r, 0.0) + 1e-9]
            if not short:
                return
            if time.monotonic() > deadline:
                r = short[0]
                raise ConfigError(
                    f"{self.config.actors} Ray actor(s) for '{self.spec}' need {need[r]:g} {r}s but only"
                    f" {free.get(r, 0.0):g} of the cluster's {total.get(r, 0.0):g} are free (a judge's pool needs room"
                    f" beside the teacher's); wait for other jobs (`ray status`) or lower --actors or {flags[r]}.")
            time.sleep(0.5)

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
