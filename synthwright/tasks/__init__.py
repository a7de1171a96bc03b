"""Task kinds. Each module here owns one kind: what the model writes for a slot, the dataset row, the text
the filters see, the judge's rubric and verdict, and its Hub names. Adding a kind is a module here, an entry
in TASKS and the recipe's `task` Literal."""

from __future__ import annotations

from synthwright.tasks.base import Score, Task, Verdict
from synthwright.tasks.classification import ClassificationTask, GeneratedText
from synthwright.tasks.dialogue import DialogueTask, Exchange
from synthwright.tasks.instruction import InstructionTask
from synthwright.tasks.qa import QATask

TASKS: dict[str, Task] = {t.kind: t for t in (ClassificationTask(), QATask(), DialogueTask(), InstructionTask())}


def task_for(kind: str) -> Task:
    return TASKS[kind]


__all__ = ["TASKS", "ClassificationTask", "DialogueTask", "Exchange", "GeneratedText", "InstructionTask", "QATask", "Score", "Task",
           "Verdict", "task_for"]
