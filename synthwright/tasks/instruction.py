"""Instruction data: an instruction, an optional input and the response, for supervised fine-tuning.

The row also has a `messages` column in the chat format TRL's SFTTrainer reads directly, and, for the methods
that grow instructions (self_instruct, evol_instruct, magpie), the sample's lineage: method, parent, operation,
generation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from synthwright.core.samples import _Sample
from synthwright.recipe.model import Recipe
from synthwright.tasks.base import Task, Verdict, score, target

GENERAL = "general"  # the category of a recipe without categories


class InstructionSample(_Sample):
    """What the model writes for a slot of the `topics` method."""

    instruction: str = Field(min_length=1, max_length=500, description="A task a user asks an assistant to do.")
    input: str = Field(default="", max_length=600, description="Optional input the task works on; empty when it needs none.")
    output: str = Field(min_length=1, max_length=1200, description="A correct, helpful response to the instruction.")


class Answer(_Sample):
    """The second step of self_instruct and evol_instruct: the response to an instruction."""

    output: str = Field(min_length=1, max_length=1200, description="A correct, helpful response to the instruction.")


def messages(instruction: str, input_: str, output: str) -> list[dict[str, str]]:
    """The conversation SFT trains on: the input, when there is one, follows the instruction in the user turn."""
    user = f"{instruction}\n\n{input_}" if input_ else instruction
    return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]


def instruction_row(instruction: str, input_: str, output: str, category: str, *, method: str = "topics",
                    parent: str | None = None, operation: str | None = None, generation: int = 0) -> dict[str, Any]:
    instruction, input_, output = instruction.strip(), (input_ or "").strip(), output.strip()
    return {"instruction": instruction, "input": input_, "output": output,
            "messages": messages(instruction, input_, output), "category": category,
            "method": method, "parent": parent, "operation": operation, "generation": generation}


class InstructionTask(Task):
    kind = "instruction"
    template = "instruction"
    judge_template = "judge_instruction"
    category_field = "category"
    hub_task_categories = ["text-generation"]
    hub_tag = "instruction-tuning"
    title = "instruction-tuning"
    grows_instructions = True

    def describe(self, recipe: Recipe, *, seed_tasks: int = 0) -> str:
        n, cfg = len(recipe.categories), recipe.instruction
        goal = f"target {target(recipe, n)}"
        if recipe.method == "topics":
            return f"instruction: {n} topics, {goal}"
        where = f" over {n} categories" if n else ""
        calls = f"at most {cfg.max_requests} model calls"
        if recipe.method == "magpie":
            return f"instruction by magpie: user turns from the teacher's chat template{where}, {goal}, {calls}"
        grown = f", evolved over {cfg.generations} generations" if recipe.method == "evol_instruct" else ""
        return f"instruction by {recipe.method}: {seed_tasks} seed tasks{grown}{where}, {goal}, {calls}"

    def schema(self, recipe: Any) -> type[BaseModel]:
        """What the model call that made a sample wrote: the whole sample (topics), or the answer (the methods)."""
        return InstructionSample if getattr(recipe, "method", "topics") == "topics" else Answer

    def record(self, parsed: BaseModel, slot: Any) -> dict[str, Any]:
        return instruction_row(parsed.instruction, parsed.input, parsed.output, slot["category"])

    def generated(self, record: dict[str, Any]) -> dict[str, Any]:
        if record.get("method", "topics") != "topics":  # the methods' model call that made the row wrote the answer
            return {"output": record["output"]}
        return {"instruction": record["instruction"], "input": record.get("input", ""), "output": record["output"]}

    def text_of(self, record: dict[str, Any]) -> str:
        return "\n".join(p for p in (record["instruction"], record.get("input", ""), record["output"]) if p)

    def example(self, record: dict[str, Any]) -> str:
        if "instruction" in record:
            return record["instruction"]
        return record.get("text", "")

    def hub_task_ids(self, recipe: Any) -> list[str]:
        return ["language-modeling"]

    def verdict_schema(self, recipe: Any) -> type[BaseModel]:
        return create_model(
            "InstructionVerdict", __base__=Verdict,
            helpfulness=score("how well the response does what the instruction asks, completely and clearly"),
            correctness=score("how accurate the response is: facts, reasoning, code, arithmetic"),
            harmlessness=score("how safe the response is: 1 = harmful or dangerous, 5 = harmless"),
        )

    def judge_fields(self, recipe: Any, c: Any) -> dict[str, Any]:
        return {"instruction": c.data.get("instruction", ""), "input": c.data.get("input", ""),
                "output": c.data.get("output", "")}
