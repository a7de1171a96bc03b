"""A scripted engine: the real Engine interface with outputs a test decides.

Planner phrases get distinct plausible phrases; classification requests get the next text scripted
for the category whose description (or name) the prompt names; judge requests get `verdict(label, text)` from the test,
label check requests the letter of `pick(text, options)`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from typing import Any, Callable

from pydantic import BaseModel

from synthwright.engines import ChatRequest, Engine, Generation, Sampling

_CATEGORY = re.compile(r"about this: (.+)")
_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
_JUDGED_LABEL = re.compile(r'written to have the label "([^"]+)"')
_JUDGED_TEXT = re.compile(r'Its text:\n"""\n(.*?)\n"""', re.S)


_CHECKED_TEXT = re.compile(r'A user wrote this message:\n"(.*)"\n')
_OPTION = re.compile(r"^([A-Z])\) ([^:\n]+)", re.M)


class ScriptedEngine(Engine):
    def __init__(self, texts: dict[str, list[str]] | None = None,
                 verdict: Callable[[str, str], dict[str, Any] | None] | None = None, spec: str = "scripted",
                 pick: Callable[[str, list[str]], str | None] | None = None):
        self.texts = {k: deque(v) for k, v in (texts or {}).items()}
        self.verdict = verdict
        self.pick = pick  # label check requests: (text, option labels in the prompt's order) → the label picked
        self.spec = spec
        self.batch_size = 4
        self.calls: dict[str, int] = defaultdict(int)

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        return [self._one(r.messages[-1]["content"], schema) for r in requests]

    def _one(self, prompt: str, schema: type[BaseModel] | None) -> Generation:
        name = schema.__name__ if schema is not None else ""
        self.calls[name] += 1
        if name == "Phrase":
            field = next(iter(schema.model_fields))
            obj: Any = {field: f"a {field} called {_WORDS[self.calls[name] % len(_WORDS)]}"}
        elif name == "GeneratedText":
            about = _CATEGORY.search(prompt).group(1).strip()
            queue = self.texts.get(CATEGORY_BY_DESCRIPTION.get(about, about))
            if not queue:
                return Generation(text="", error="script exhausted", finish_reason="error")
            obj = {"text": queue.popleft()}
        elif name.endswith("Verdict"):
            label = _JUDGED_LABEL.search(prompt)
            text = _JUDGED_TEXT.search(prompt)
            obj = self.verdict(label.group(1) if label else "", text.group(1) if text else prompt)
            if obj is None:
                return Generation(text='{"reason": "cut', error="output is not valid JSON", finish_reason="length")
        elif name == "LabelChoice":
            options = [label.replace(" ", "_") for _, label in _OPTION.findall(prompt)]
            picked = self.pick(_CHECKED_TEXT.search(prompt).group(1), options)
            if picked is None:
                return Generation(text="{", error="output is not valid JSON", finish_reason="length")
            obj = {"answer": "ABCDEFGH"[options.index(picked)]}
        else:
            raise AssertionError(f"unexpected schema {name}")
        text = json.dumps(obj)
        return Generation(text=text, parsed=schema.model_validate(obj), prompt_tokens=len(prompt) // 4,
                          completion_tokens=len(text) // 4, seconds=0.001)


CATEGORY_BY_DESCRIPTION = {"The card was lost.": "lost_card", "A refund has not arrived.": "refund"}


def recipe_dict(**overrides: Any) -> dict[str, Any]:
    """A two-label classification recipe whose plan needs no model judgement (fixed personas, one scenario)."""
    data: dict[str, Any] = {
        "name": "scripted", "task": "classification", "description": "Messages to a bank's support chat.",
        "categories": [{"name": "lost_card", "description": "The card was lost."},
                       {"name": "refund", "description": "A refund has not arrived."}],
        "count": {"per_category": 3},
        "axes": {"personas": ["a student"], "scenarios_per_category": 1, "styles": ["casual"], "lengths": ["one sentence"]},
        "budget": {"max_rounds": 1},
        "output": {"formats": ["jsonl"], "splits": {"train": 1.0}},
        "few_shot": 0,
        "quality": {"enabled": False},
    }
    data.update(overrides)
    return data


VOCAB = {
    "lost_card": "card lost stolen wallet missing block replace pocket bag dropped gone thief purse taken find".split(),
    "refund": "refund money back return reimburse shop merchant order parcel cancelled returned credited owed".split(),
    "fees": "fee charge overdraft commission monthly cost interest penalty charged expensive deducted pricing".split(),
}
DESCRIPTIONS = {"lost_card": "The customer lost their card.", "refund": "The customer wants money back.",
                "fees": "The customer asks about fees."}


class VocabEngine(Engine):
    """Classification texts drawn from per-label word pools, so a classifier can learn them.

    `blur` maps a label to another whose words it borrows with probability `rate`, unless the prompt is
    contrastive (names the other kind to avoid): the loop's contrastive requests come out clean.
    Everything depends on the request's seed, so two runs of the same plan give the same texts.
    """

    def __init__(self, blur: dict[str, str] | None = None, rate: float = 0.5, spec: str = "vocab",
                 situation: Callable[[str], str] | None = None, contrast_backfires: bool = False):
        self.blur, self.rate, self.spec = blur or {}, rate, spec
        self.contrast_backfires = contrast_backfires  # a weak teacher writes about the kind it was told to avoid
        self.situation = situation
        self.batch_size = 8
        self.prompts: list[str] = []

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        import random

        out = []
        for r in requests:
            prompt = r.messages[-1]["content"]
            self.prompts.append(prompt)
            rng = random.Random(r.seed)
            if schema.__name__ == "Phrase":
                field = next(iter(schema.model_fields))
                quoted = re.search(r'Someone wrote this: "(.*)"', prompt)
                if quoted and self.situation is not None:
                    value = self.situation(quoted.group(1))
                else:
                    value = f"a {field} with {' and '.join(rng.sample(_WORDS, 2))}"
                obj: Any = {field: value}
            else:
                about = _CATEGORY.search(prompt).group(1).strip()
                label = next(k for k, v in DESCRIPTIONS.items() if v == about)
                contrastive = "nobody could take it for" in prompt
                if contrastive and self.contrast_backfires:
                    label = next(k for k, v in DESCRIPTIONS.items() if f'take it for this other kind: "{v.rstrip(".")}"' in prompt)
                elif label in self.blur and not contrastive and rng.random() < self.rate:
                    label = self.blur[label]
                obj = {"text": " ".join(rng.sample(VOCAB[label], 7))}
            text = json.dumps(obj)
            out.append(Generation(text=text, parsed=schema.model_validate(obj), prompt_tokens=len(prompt) // 4,
                                  completion_tokens=len(text) // 4, seconds=0.001))
        return out


def vocab_recipe(**overrides: Any) -> dict[str, Any]:
    data = recipe_dict(categories=[{"name": k, "description": v} for k, v in DESCRIPTIONS.items()],
                       count={"per_category": 20}, filters={"language": False, "label_fidelity": False},
                       budget={"max_rounds": 3}, quality={"enabled": True, "max_steps": 3, "weak_f1": 0.95})
    data["axes"] = {**data["axes"], "scenarios_per_category": 2, "personas": ["a student", "a nurse"]}
    data.update(overrides)
    return data


class WriterEngine(Engine):
    """QA pairs and dialogues that a test writes from the prompt: `write(prompt, schema_name)` returns the object
    (None: a parse failure). Planner phrases are distinct plausible phrases, as in ScriptedEngine."""

    def __init__(self, write: Callable[[str, str], dict[str, Any] | None], spec: str = "writer"):
        self.write, self.spec = write, spec
        self.batch_size = 4
        self.prompts: list[str] = []
        self.calls: dict[str, int] = defaultdict(int)

    def generate(self, requests: list[ChatRequest], *, schema: type[BaseModel] | None = None,
                 sampling: Sampling | None = None) -> list[Generation]:
        out = []
        for r in requests:
            prompt = r.messages[-1]["content"]
            name = schema.__name__
            self.calls[name] += 1
            if name == "Phrase":
                field = next(iter(schema.model_fields))
                obj = {field: f"a {field} called {_WORDS[self.calls[name] % len(_WORDS)]} {self.calls[name]}"}
            else:
                self.prompts.append(prompt)
                obj = self.write(prompt, name)
            if obj is None:
                out.append(Generation(text='{"cut', error="output is not valid JSON", finish_reason="length"))
                continue
            text = json.dumps(obj)
            out.append(Generation(text=text, parsed=schema.model_validate(obj), prompt_tokens=len(prompt) // 4,
                                  completion_tokens=len(text) // 4, seconds=0.001))
        return out
