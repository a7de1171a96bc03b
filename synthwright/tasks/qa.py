"""Question answering: a question and its answer, grounded in a document chunk when the recipe has documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, create_model

from synthwright.core.documents import load_chunks
from synthwright.core.samples import QASample
from synthwright.recipe.model import Recipe
from synthwright.tasks.base import Task, Verdict, check, score, target


class QATask(Task):
    kind = "qa"
    template = "qa"
    judge_template = "judge_qa"
    category_field = "topic"
    hub_task_categories = ["question-answering"]
    hub_tag = "question-answering"
    title = "question-answering"
    plans_per_document_chunk = True
    own_filters = ("answer_leak", "grounding", "answerable")
    checks_section = "grounding"

    def describe(self, recipe: Recipe, *, seed_tasks: int = 0) -> str:
        if recipe.documents is None:
            return f"qa: {len(recipe.categories)} topics, target {target(recipe, len(recipe.categories))}"
        chunks = self.filter_context(recipe)["chunks"]
        files = len({c.split("#")[0] for c in chunks})
        return (f"qa grounded in documents: {len(chunks)} chunks of {files} files in {recipe.documents.path},"
                f" target {target(recipe, len(chunks))}")

    def filter_context(self, recipe: Recipe) -> dict[str, Any]:
        """The run's chunks: the answerable filter ranks a question's own chunk among them."""
        if recipe.documents is None:
            return {}
        return {"chunks": load_chunks(recipe.resolve(recipe.documents.path), recipe.documents.chunk_chars,
                                      recipe.documents.overlap_chars)}

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

    def hub_task_ids(self, recipe: Any) -> list[str]:
        return ["closed-domain-qa"] if _get(recipe, "documents") else []

    def verdict_schema(self, recipe: Any) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        if recipe.documents is not None:
            fields["supported"] = check("true if every fact of the answer is in the passage")
        return create_model(
            "QAVerdict", __base__=Verdict, **fields,
            correct=check("true if the answer is right and answers the question"),
            naturalness=score("how much the question reads like a real user's"),
            helpfulness=score("how clear, complete and concise the answer is"),
        )

    def judge_fields(self, recipe: Any, c: Any) -> dict[str, Any]:
        return {"context": c.data.get("context") or "", "question": c.data.get("question", ""),
                "answer": c.data.get("answer", "")}


def _get(recipe: Any, name: str) -> Any:
    return recipe.get(name) if isinstance(recipe, dict) else getattr(recipe, name, None)
