"""Task kinds: what the model writes for a slot, what a dataset row holds, and the text filters see."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from .samples import QASample, _Sample


class GeneratedText(_Sample):
    """Classification: the model writes only the text; the slot supplies the label."""

    text: str = Field(min_length=1, max_length=600, description="The message, exactly as the person would write it.")


class Exchange(_Sample):
    """One user message and the assistant's reply: alternation is guaranteed by the structure."""

    user: str = Field(min_length=1, max_length=400, description="What the user says.")
    assistant: str = Field(min_length=1, max_length=500, description="What the assistant replies.")


class Task:
    """Base: classification."""

    kind = "classification"
    template = "classification"

    def schema(self, recipe: Any) -> type[BaseModel]:
        return GeneratedText

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        return {"text": parsed.text.strip(), "label": slot["category"]}

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        """The inverse of `record`: the schema's fields, in the schema's order, as the model would have written them."""
        return {"text": record["text"]}

    def text_of(self, record: dict[str, Any]) -> str:
        return record["text"]

    def example(self, record: dict[str, Any]) -> str:
        return record.get("text", "")


class QATask(Task):
    kind = "qa"
    template = "qa"

    def schema(self, recipe: Any) -> type[BaseModel]:
        return QASample

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        return {"question": parsed.question.strip(), "answer": parsed.answer.strip(),
                "context": slot.get("context") or "", "topic": slot["category"]}

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"question": record["question"], "answer": record["answer"]}

    def text_of(self, record: dict[str, Any]) -> str:
        return f"{record['question']}\n{record['answer']}"

    def example(self, record: dict[str, Any]) -> str:
        if "question" in record:
            return f"Q: {record['question']}\nA: {record['answer']}"
        return record.get("text", "")


class DialogueTask(Task):
    kind = "dialogue"
    template = "dialogue"

    def schema(self, recipe: Any) -> type[BaseModel]:
        low, high = (recipe.turns.min + 1) // 2, max(1, recipe.turns.max // 2)
        return create_model("GeneratedDialogue", __base__=_Sample,
                            exchanges=(list[Exchange], Field(min_length=low, max_length=max(low, high),
                                                             description="The conversation, one user message and one reply at a time.")))

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        turns = []
        for ex in parsed.exchanges:
            turns += [{"role": "user", "content": ex.user.strip()}, {"role": "assistant", "content": ex.assistant.strip()}]
        return {"turns": turns, "intent": slot["category"]}

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        turns = record["turns"]
        return {"exchanges": [{"user": u["content"], "assistant": a["content"]} for u, a in zip(turns[::2], turns[1::2])]}

    def text_of(self, record: dict[str, Any]) -> str:
        return "\n".join(f"{t['role']}: {t['content']}" for t in record["turns"])

    def example(self, record: dict[str, Any]) -> str:
        return self.text_of(record) if "turns" in record else record.get("text", "")


TASKS: dict[str, Task] = {t.kind: t for t in (Task(), QATask(), DialogueTask())}


def task_for(kind: str) -> Task:
    return TASKS[kind]
