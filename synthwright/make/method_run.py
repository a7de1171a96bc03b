"""What self_instruct, evol_instruct and magpie share while they run: the run's store and slots, the instruction gate
(length, keywords, ROUGE-L novelty), answering, the filters and judge, quotas, and committing a batch.

Each method is a module with `step(run, index) -> bool`: one batch of requests, stored in one transaction, so a
`kill -9` loses at most the batch in flight; False when the method has nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthwright.agents.executor import request_seed
from synthwright.core.errors import ConfigError
from synthwright.core.markdown import clip
from synthwright.core.progress import RunProgress
from synthwright.core.prompts import render
from synthwright.core.rowfiles import read_rows
from synthwright.core.store import RunStore
from synthwright.engines import ChatRequest, Engine, Generation
from synthwright.evaluators.filters import Candidate, FilterState
from synthwright.evaluators.judge import Judge
from synthwright.evaluators.novelty import NoveltyIndex, rouge_tokens
from synthwright.make.rounds import call_record, settle
from synthwright.recipe.instruction import SeedTask
from synthwright.recipe.model import Recipe
from synthwright.tasks.base import Task
from synthwright.tasks.instruction import GENERAL, Answer, instruction_row

# Self-Instruct's filter for tasks a text model cannot do (its generate_instances code, plus a few plurals).
UNFIT = re.compile(r"\b(images?|graphs?|pictures?|files?|maps?|draw|drawing|plot|plotting|go to|videos?|audio|music|"
                   r"flowcharts?|diagrams?)\b", re.I)
PROGRAM = re.compile(r"^\s*write a program\b", re.I)
LIST_MARK = re.compile(r"^\s*(?:\d{1,3}\s*[.):]|[-*•])\s+")  # "3. ", "2) ", "- ": the list the model wrote them in


def form_problem(instruction: str) -> str | None:
    """Why an instruction is not one by form (Self-Instruct drops those that start with punctuation or a
    non-letter: timestamps, numbers, code); None when it is."""
    first = instruction[:1]
    return None if first.isalpha() else f"starts with {first!r}, not a word"


def read_seed_tasks(recipe: Recipe) -> list[SeedTask]:
    """The recipe's seed tasks (inline, then the seed file), each with a category of the recipe."""
    cfg = recipe.instruction
    tasks = list(cfg.seed_tasks)
    if cfg.seed_file is not None:
        path = recipe.resolve(cfg.seed_file)
        if not path.is_file():
            raise ConfigError(f"instruction.seed_file '{cfg.seed_file}' does not exist (looked in {path}); fix the path.")
        for line, row in read_rows(path, "seed file"):
            try:
                tasks.append(SeedTask.model_validate(row))
            except ValueError as exc:
                raise ConfigError(f"Seed task on line {line} of '{cfg.seed_file}' is not {{instruction, input?, output?,"
                                  f" category?}}: {str(exc).splitlines()[-1].strip()}; fix that line.") from None
    names = [c.name for c in recipe.categories]
    for i, t in enumerate(tasks):
        if t.category is not None and names and t.category not in names:
            raise ConfigError(f"Seed task {t.instruction[:40]!r} has category '{t.category}', which is not a category of"
                              f" the recipe; use one of: {', '.join(names)}.")
        if names and t.category is None:
            tasks[i] = t.model_copy(update={"category": names[i % len(names)]})
        elif not names:
            tasks[i] = t.model_copy(update={"category": GENERAL})
    if not tasks and recipe.method in ("self_instruct", "evol_instruct"):
        raise ConfigError(f"method {recipe.method} grows instructions from seed tasks and the recipe has none; add"
                          " instruction.seed_tasks (a list of instructions) or instruction.seed_file.")
    return tasks


def method_slots(recipe: Recipe) -> list[dict[str, Any]]:
    names = [c.name for c in recipe.categories] or [GENERAL]
    return [{"slot_id": f"{recipe.method}-{name}", "category": name, "quota": quota, "scenario": recipe.method,
             "persona": "", "style": "", "length": ""}
            for name, quota in zip(names, recipe.count.for_categories(len(names)))]


@dataclass
class MethodRun:
    """The state one method's steps share."""

    recipe: Recipe
    task: Task
    store: RunStore
    engine: Engine
    judge: Judge | None
    state: FilterState
    novelty: NoveltyIndex
    seeds: list[SeedTask]
    bar: RunProgress
    allowance: int | None  # accepted samples this invocation may still add (None: no --limit)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # records, in acceptance order
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)  # category → slot

    @property
    def cfg(self):
        return self.recipe.instruction

    def requests_left(self) -> int:
        return self.cfg.max_requests - self.store.call_stats()["phases"].get("executor", {}).get("calls", 0)

    def room(self) -> dict[str, int]:
        """Category → samples it may still accept."""
        missing = self.store.missing_per_slot()
        return {s["category"]: missing[sid] for sid, s in ((s["slot_id"], s) for s in self.slots.values()) if sid in missing}

    def done(self) -> bool:
        return not self.room() or self.allowance == 0 or self.requests_left() <= 0

    def seed_of(self, *parts: Any) -> int:
        return request_seed(self.recipe.seed, self.recipe.method, *parts)

    def system(self) -> str:
        return render("system")

    def gate(self, instruction: str, batch: NoveltyIndex | None = None, *, against_run: bool = True) -> tuple[str, str] | None:
        """(filter, reason) when a new instruction is unfit or not novel against `batch` and (`against_run`) the seeds
        and accepted instructions."""
        cfg = self.cfg
        words = len(instruction.split())
        if words < cfg.min_words or words > cfg.max_words:
            return "instruction_length", f"{words} words; instructions need {cfg.min_words}-{cfg.max_words}"
        problem = form_problem(instruction)
        if problem:
            return "instruction_form", problem
        if cfg.keyword_filter:
            hit = UNFIT.search(instruction) or PROGRAM.search(instruction)
            if hit:
                return "keyword", f"asks for {hit.group(0).strip()!r}, which a text model cannot do"
        for index in (self.novelty if against_run else None, batch):
            if index is None:
                continue
            match = index.nearest(instruction)
            if match.score >= cfg.novelty_threshold:
                return "novelty", (f"ROUGE-L {match.score:.2f} (threshold {cfg.novelty_threshold}) with"
                                   f" {clip(match.text, 60)!r}")
        return None

    def answer_requests(self, items: list[tuple[str, str]], step: int) -> list[ChatRequest]:
        return [ChatRequest.user(render("answer_instruction", instruction=ins, input=inp),
                                 seed=self.seed_of("answer", step, i, ins)) for i, (ins, inp) in enumerate(items)]

    def answer(self, items: list[tuple[str, str]], step: int) -> tuple[list[ChatRequest], list[Generation]]:
        requests = self.answer_requests(items, step)
        if not requests:
            return [], []
        return requests, self.engine.generate(requests, schema=Answer, sampling=self.recipe.sampling)

    def candidate(self, record: dict[str, Any]) -> Candidate:
        slot = self.slots[record["category"]]
        return Candidate(data=record, text=self.task.text_of(record), category=record["category"], slot_id=slot["slot_id"])

    def settle(self, cands: list[Candidate]) -> int:
        """Filters, judge, quotas and --limit over answered candidates; returns how many were accepted."""
        return settle(cands, self.state, self.recipe, self.judge, self.room(), key=lambda c: c.category,
                      allowance=self.allowance)

    def call(self, slot_id: str, step: int, request: ChatRequest, gen: Generation) -> dict[str, Any]:
        return call_record(slot_id, step, request.seed or 0, request, gen, self.engine.describe())

    @staticmethod
    def rejected(record: dict[str, Any], filter_name: str, reason: str) -> dict[str, Any]:
        return {"category": record["category"], "data": record, "dedup_key": "", "status": "rejected",
                "filter": filter_name, "reason": reason}

    @staticmethod
    def settled(c: Candidate) -> dict[str, Any]:
        return {"category": c.category, "data": c.data, "dedup_key": c.key, "status": c.status, "filter": c.filter,
                "reason": c.reason, "verdict": c.features.get("verdict")}

    def commit(self, calls: list[dict[str, Any]], samples: list[list[dict[str, Any]]], cands: list[Candidate]) -> None:
        """One step's calls and samples in one transaction; then the accepted join the novelty index."""
        self.store.record_batch(calls, samples)
        accepted = [c for c in cands if c.alive]
        for c in accepted:
            self.novelty.add(c.data["instruction"])
            self.accepted.append(c.data)
        if self.allowance is not None:
            self.allowance -= len(accepted)
        self.bar.update(accepted=len(accepted), generated=len(calls), rejected=sum(len(s) for s in samples) - len(accepted),
                        tokens=sum(c["completion_tokens"] for c in calls), slots_done=len(self.slots) - len(self.room()),
                        slots_total=len(self.slots))

    def record(self, instruction: str, input_: str, output: str, category: str, **lineage: Any) -> dict[str, Any]:
        return instruction_row(LIST_MARK.sub("", instruction, count=1), input_, output, category,
                               method=self.recipe.method, **lineage)


def steps_done(store: RunStore) -> int:
    """Steps already stored: every step writes its calls under its own round number, all in one transaction."""
    step = 0
    while store.calls_per_slot(step):
        step += 1
    return step


def content_words(text: str) -> set[str]:
    return {w for w in rouge_tokens(text) if w not in STOP_WORDS}


STOP_WORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being it its this that
these those you your i me my we our they them their he she his her do does did not no so than then there here what which who
whom how why when where can could should would will shall may might must about into over under up down out all any each
some such only own same very just also more most other""".split())
