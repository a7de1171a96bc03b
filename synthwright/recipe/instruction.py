"""The recipe's `instruction:` section: seed tasks and the settings of self_instruct, evol_instruct and magpie."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["topics", "self_instruct", "evol_instruct", "magpie"]
EVOLUTIONS = ("constraints", "deepen", "concretize", "reasoning", "complicate_input", "breadth")
Evolution = Literal["constraints", "deepen", "concretize", "reasoning", "complicate_input", "breadth"]


class SeedTask(BaseModel):
    """A task written by a person: self_instruct shows them as examples, evol_instruct evolves them."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1, max_length=500, description="What the user asks.")
    input: str = Field(default="", max_length=600, description="Optional input the task works on.")
    output: str = Field(default="", max_length=1200, description="Optional reference response (never copied into the dataset).")
    category: str | None = Field(default=None, max_length=64, description="Task family or domain; a recipe category when the recipe has them.")

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, value):
        return {"instruction": value} if isinstance(value, str) else value


class InstructionConfig(BaseModel):
    """task: instruction with a `method` other than topics. Counts are requests to the teacher."""

    model_config = ConfigDict(extra="forbid")

    seed_tasks: list[SeedTask] = Field(default_factory=list, description="Seed tasks, inline (a string is an instruction).")
    seed_file: str | None = Field(default=None, description="JSONL of seed tasks {instruction, input?, output?, category?}, relative to the recipe.")
    max_requests: int = Field(default=200, ge=1, le=10_000_000,
                              description="The method's budget: model calls at most (proposals, evolutions and answers).")
    batch_size: int = Field(default=8, ge=1, le=1024, description="Proposals (or evolutions) per step; each step is stored in one transaction.")
    novelty_threshold: float = Field(default=0.7, gt=0.0, le=1.0,
                                     description="Reject a new instruction whose ROUGE-L F1 with any seed or accepted instruction reaches this (0.7 in Self-Instruct).")
    keyword_filter: bool = Field(default=True, description="Reject instructions a text model cannot do (image, graph, file, draw…), as Self-Instruct does.")
    min_words: int = Field(default=3, ge=1, le=50, description="Reject instructions with fewer words (Self-Instruct: more than 3).")
    max_words: int = Field(default=150, ge=5, le=1000, description="Reject instructions with more words.")
    # self_instruct
    human_examples: int = Field(default=6, ge=1, le=20, description="self_instruct: seed tasks shown in each prompt (the paper: 6).")
    generated_examples: int = Field(default=2, ge=0, le=20, description="self_instruct: accepted instructions shown in each prompt (the paper: 2).")
    per_request: int = Field(default=3, ge=1, le=20, description="self_instruct: new instructions asked for in one request.")
    # evol_instruct
    generations: int = Field(default=3, ge=1, le=20, description="evol_instruct: rounds of evolution; generation g evolves what generation g-1 accepted.")
    operations: list[Evolution] = Field(default_factory=lambda: list(EVOLUTIONS),
                                        description="evol_instruct: in-depth (constraints, deepen, concretize, reasoning, complicate_input) and in-breadth (breadth) evolutions to draw from.")
    min_new_words: int = Field(default=2, ge=0, le=50,
                               description="evol_instruct: an evolution must add at least this many content words to its parent (else: no new information).")
    # magpie
    system_prompt: str | None = Field(default=None, max_length=2000,
                                      description="magpie: system message before the open user turn (default: the recipe's description).")

    @model_validator(mode="after")
    def _bounds(self) -> "InstructionConfig":
        if self.min_words > self.max_words:
            raise ValueError("min_words must not exceed max_words")
        if not self.operations:
            raise ValueError("operations needs at least one evolution")
        return self
