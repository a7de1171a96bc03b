"""A scripted engine for instruction recipes: the real Engine interface, outputs drawn from word pools by seed.

Self-Instruct proposals are new instructions, except that every `copy_every`-th one nearly copies the first example
the prompt shows (so the novelty filter has something to reject); evolutions append new words to the given prompt,
except every `stale_every`-th, which returns it unchanged (no new information); answers are plain sentences.
It also continues raw text (Magpie), counting what it was asked.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter

from pydantic import BaseModel

from synthwright.engines import ChatRequest, Engine, Generation, Sampling

VERBS = "summarize classify rewrite explain list translate compare suggest outline describe draft evaluate".split()
NOUNS = ("email essay recipe poem itinerary budget review proposal headline slogan apology invitation letter story"
         " resume agenda riddle joke").split()
TOPICS = ("gardening chess astronomy banking cooking hiking jazz volcanoes recycling sleep taxes robotics pottery"
          " surfing beekeeping origami").split()
EXTRA = "carefully briefly formally kindly twice precisely using three examples in bullet points for children".split()


class InstructionEngine(Engine):
    def __init__(self, copy_every: int = 4, stale_every: int = 5, spec: str = "instruction-script"):
        self.copy_every, self.stale_every, self.spec = copy_every, stale_every, spec
        self.batch_size = 8
        self.calls: Counter = Counter()
        self.evolved: list[str] = []  # every prompt given to evolve, in order
        self.prefixes: list[str] = []

    def user_turn_prefix(self, system: str | None = None) -> str:
        return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n" if system else "<|im_start|>user\n"

    def continue_text(self, prefixes: list[str], *, seeds: list[int], sampling: Sampling | None = None) -> list[Generation]:
        out = []
        for prefix, seed in zip(prefixes, seeds):
            self.calls["continue"] += 1
            self.prefixes.append(prefix)
            rng = random.Random(seed)
            text = f"Please {rng.choice(VERBS)} a {rng.choice(NOUNS)} about {rng.choice(TOPICS)} {rng.choice(EXTRA)}."
            out.append(Generation(text=text, prompt_tokens=len(prefix) // 4, completion_tokens=len(text) // 4, seconds=0.001))
        return out

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        return [self._one(r, schema) for r in requests]

    def _one(self, request: ChatRequest, schema: type[BaseModel] | None) -> Generation:
        name = schema.__name__ if schema is not None else "text"
        self.calls[name] += 1
        prompt = request.messages[-1]["content"]
        rng = random.Random(request.seed)
        if name == "NewTasks":
            n = 2
            tasks = []
            for i in range(n):
                if (self.calls[name] * n + i) % self.copy_every == 0:
                    first = re.search(r"^1\. (.+?)(?: \(input: .*\))?$", prompt, re.M).group(1)
                    tasks.append({"instruction": first.rstrip(".") + " now.", "input": ""})
                else:
                    tasks.append({"instruction": f"{rng.choice(VERBS).capitalize()} a {rng.choice(NOUNS)} about"
                                                 f" {rng.choice(TOPICS)} and {rng.choice(TOPICS)} {rng.choice(EXTRA)}.",
                                  "input": ""})
            obj: dict = {"tasks": tasks}
        elif name == "Evolved":
            given = prompt.split("Given prompt:\n", 1)[1].split("\n\nInput:")[0].strip()
            self.evolved.append(given)
            if self.calls[name] % self.stale_every == 0:
                obj = {"instruction": given}
            else:
                obj = {"instruction": f"{given.rstrip('.')}, {rng.choice(EXTRA)} with {rng.choice(TOPICS)}"
                                      f" {rng.choice(NOUNS)} {rng.choice(VERBS)}."}
        elif name == "Answer":
            obj = {"output": f"The {rng.choice(NOUNS)} covers {rng.choice(TOPICS)} and {rng.choice(TOPICS)}:"
                             f" {' '.join(rng.sample(TOPICS, 5))}."}
        elif name == "InstructionSample":
            obj = {"instruction": f"{rng.choice(VERBS).capitalize()} a {rng.choice(NOUNS)} about {rng.choice(TOPICS)}.",
                   "input": "", "output": f"Here it goes: {' '.join(rng.sample(TOPICS, 6))}."}
        elif name == "InstructionVerdict":
            obj = {"reason": "Clear and correct.", "helpfulness": 4, "correctness": 4, "harmlessness": 5}
        elif name == "Phrase":
            field = next(iter(schema.model_fields))
            obj = {field: f"a {field} about {rng.choice(TOPICS)} {rng.choice(NOUNS)}"}
        elif name == "text":
            text = f"Sure. The {rng.choice(NOUNS)} is about {' '.join(rng.sample(TOPICS, 4))}."
            return Generation(text=text, prompt_tokens=len(prompt) // 4, completion_tokens=len(text) // 4, seconds=0.001)
        else:
            raise AssertionError(f"unexpected schema {name}")
        text = json.dumps(obj)
        return Generation(text=text, parsed=schema.model_validate(obj), prompt_tokens=len(prompt) // 4,
                          completion_tokens=len(text) // 4, seconds=0.001)


SEED_TASKS = [
    "Write a polite reply to a customer whose parcel arrived late.",
    "Explain the difference between a debit card and a credit card.",
    "Summarize the following complaint in one sentence.",
    "Suggest three names for a neighbourhood bakery.",
    "Classify the sentiment of this product review as positive or negative.",
    "Rewrite this sentence so that it sounds more formal.",
    "List five questions to ask before renting a flat.",
    "Give step-by-step instructions for resetting a router.",
]


def instruction_recipe(method: str, **overrides) -> dict:
    data = {
        "name": f"instr-{method}", "task": "instruction", "method": method,
        "description": "Requests people make to a helpful general assistant.",
        "count": {"total": 10},
        "instruction": {"seed_tasks": SEED_TASKS, "batch_size": 4, "max_requests": 80, "per_request": 2},
        "filters": {"language": False, "near_duplicates": False},
        "output": {"formats": ["jsonl", "hf"], "splits": {"train": 1.0}},
        "quality": {"enabled": False},
    }
    for k, v in overrides.items():
        data[k] = {**data[k], **v} if k in ("instruction", "filters") else v
    return data
