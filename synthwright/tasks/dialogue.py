"""Dialogue: a conversation between the recipe's two roles, toward a goal (the category)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from synthwright.core.samples import _Sample
from synthwright.recipe.model import Recipe
from synthwright.tasks.base import Task, Verdict, check, score, target


class Exchange(_Sample):
    """One user message and the assistant's reply: alternation is guaranteed by the structure."""

    user: str = Field(min_length=1, max_length=400, description="What the user says.")
    assistant: str = Field(min_length=1, max_length=500, description="What the assistant replies.")


class DialogueTask(Task):
    kind = "dialogue"
    template = "dialogue"
    judge_template = "judge_dialogue"
    category_field = "intent"
    hub_task_categories = ["text-generation"]
    hub_tag = "dialogue"
    title = "dialogue"
    has_quality_loop = True
    own_filters = ("dialogue_turns", "dialogue_meta", "dialogue_role", "off_goal")
    checks_section = "goals"

    def signal_text(self, record: dict[str, Any]) -> str:
        """The user's messages: goals whose dialogues read like another goal are weak labels."""
        return user_text(record)

    def describe(self, recipe: Recipe, *, seed_tasks: int = 0) -> str:
        n, roles = len(recipe.categories), recipe.roles
        return (f"dialogue: {n} goals, {recipe.turns.min}-{recipe.turns.max} messages between {roles.get('user', 'user')}"
                f" and {roles.get('assistant', 'assistant')}, target {target(recipe, n)}")

    def filter_context(self, recipe: Recipe) -> dict[str, Any]:
        return {"turns": (recipe.turns.min, recipe.turns.max), "roles": dict(recipe.roles)}

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

    def hub_task_ids(self, recipe: Any) -> list[str]:
        return ["dialogue-generation"]

    def verdict_schema(self, recipe: Any) -> type[BaseModel]:
        return create_model(
            "DialogueVerdict", __base__=Verdict,
            goal_completed=check("true if the user's goal is reached by the end"),
            coherence=score("how well each message follows from the ones before"),
            role_consistency=score("how consistently each side keeps its role"),
            naturalness=score("how much it reads like a real conversation"),
        )

    def judge_fields(self, recipe: Any, c: Any) -> dict[str, Any]:
        goals = {x.name: x.description for x in recipe.categories}
        return {"roles": recipe.roles, "goal": goals.get(c.category) or c.category, "transcript": c.text}


def user_text(record: dict[str, Any]) -> str:
    """The user's messages of a dialogue, joined: what the goal check (and the quality loop's classifier) reads."""
    return "\n".join(t["content"] for t in record.get("turns", []) if t.get("role") == "user")
