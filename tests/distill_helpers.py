"""A tiny chat model that can be distilled into, and small teacher runs made with it.

The shared tiny model (`build_tiny_chat_model`) is random: its logits are near uniform (entropy about
ln V), and LoRA on attention and MLP cannot sharpen them, because the tied output embeddings are
tiny (std 0.02) and the final RMSNorm bounds the hidden state. So this one scales the final norm to
give the logits room and pretrains the model for a few seconds to be a (very small) chat model: it
answers in one quoted sentence and ends its turn. Constrained decoding wraps such an answer in the
schema's JSON; free decoding does not, so the base writes valid JSON ~never, as a real base model
that was never taught the schema would.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from pathlib import Path

import pytest

from synthwright.testing import build_tiny_chat_model
from synthwright.testing.tiny_model import WORDS


def build_pretrained_tiny(directory: str | Path, *, steps: int = 100, batch: int = 8, logit_scale: float = 8.0,
                          seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = build_tiny_chat_model(directory, seed=seed)
    tok = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    rng = random.Random(seed)
    torch.manual_seed(seed)

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."

    def example() -> list[int]:
        messages = [{"role": "system", "content": sentence(5, 12)}, {"role": "user", "content": sentence(20, 60)},
                    {"role": "assistant", "content": '"' + sentence(3, 10) + '"'}]
        return tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]

    with torch.no_grad():
        model.model.norm.weight.mul_(logit_scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        rows = [example() for _ in range(batch)]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tok.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(directory)
    return directory


def teacher_recipe(model_dir: Path, **changes) -> dict:
    """Three categories, constrained decoding; short answers so the tiny teacher closes its JSON."""
    from .recipes import classification_recipe

    # short prompts (no few-shot examples, no neighbour labels): a 2-layer student learns the schema from them
    recipe = classification_recipe(model_dir, count={"per_category": 40},
                                   sampling={"max_new_tokens": 40, "temperature": 1.0}, few_shot=0)
    recipe.update(changes)
    return recipe


@contextmanager
def one_thread():
    """The suite shares 2 cores with other work; under contention one torch thread avoids OpenMP spin-waits
    (3-5x faster training steps measured on these machines)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


STUDENT_CONFIG = dict(learning_rate=5e-3, max_steps=200, batch_size=4, eval_steps=10, patience=3, min_delta=0.02, warmup_ratio=0.0,
                      dtype="float32", seed=0)


@pytest.fixture(scope="session")
def distill_base(tmp_path_factory) -> Path:
    with one_thread():
        return build_pretrained_tiny(tmp_path_factory.mktemp("distill-base"))


@pytest.fixture(scope="session")
def teacher_run(distill_base, tmp_path_factory) -> Path:
    import synthwright

    out = tmp_path_factory.mktemp("teacher") / "run"
    with one_thread():
        synthwright.run(teacher_recipe(distill_base), out=out)
    return out


@pytest.fixture(scope="session")
def student(teacher_run, distill_base, tmp_path_factory):
    """The student of `teacher_run`, trained with early stopping and written with --merge."""
    from synthwright.finetune import DistillConfig, distill

    with one_thread():
        return distill(teacher_run, str(distill_base), tmp_path_factory.mktemp("student") / "student",
                       DistillConfig(**STUDENT_CONFIG), merge=True)
