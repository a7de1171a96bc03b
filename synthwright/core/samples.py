"""The samples a run produces, as pydantic models with bounded strings.

Every string has a `max_length` and every list a `max_length` so that grammar-constrained
decoding always terminates; `assert_bounded` enforces that for user-supplied schemas too.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from synthwright.core.errors import SchemaError

TaskKind = Literal["classification", "qa", "dialogue", "instruction"]


class _Sample(BaseModel):
    # stripped before the length bounds apply: a field of blanks is an empty field, and the sample fails to parse
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClassificationSample(_Sample):
    """One labelled text for intent, sentiment or topic classification."""

    text: str = Field(min_length=1, max_length=600, description="The text to classify, as a real user would write it.")
    label: str = Field(min_length=1, max_length=64, description="The class this text belongs to.")


class QASample(_Sample):
    """A question and its answer; grounded runs store the supporting context beside it."""

    question: str = Field(min_length=1, max_length=400, description="A question a real user would ask.")
    answer: str = Field(min_length=1, max_length=800, description="A correct, self-contained answer.")


class Turn(_Sample):
    """One message in a dialogue."""

    role: Literal["user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(min_length=1, max_length=500, description="What they say.")


class DialogueSample(_Sample):
    """A multi-turn conversation between a user and an assistant."""

    turns: list[Turn] = Field(min_length=2, max_length=12, description="The conversation, user first.")


SCHEMAS: dict[str, type[BaseModel]] = {
    "classification": ClassificationSample,
    "qa": QASample,
    "dialogue": DialogueSample,
}


def schema_for(name: str) -> type[BaseModel]:
    """A registered schema name, or 'package.module:ClassName' for your own pydantic model."""
    if name in SCHEMAS:
        return SCHEMAS[name]
    if ":" in name:
        import importlib

        module_name, _, attr = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            raise SchemaError(f"Cannot import schema '{name}'; check the module path and class name.") from None
        if not (isinstance(found, type) and issubclass(found, BaseModel)):
            raise SchemaError(f"'{name}' is not a pydantic model class; point --schema at a BaseModel subclass.")
        assert_bounded(found)
        return found
    raise SchemaError(
        f"Unknown schema '{name}'; choose one of {', '.join(SCHEMAS)}, or give module:Class for your own."
    )


def classification_schema(labels: list[str]) -> type[BaseModel]:
    """`ClassificationSample` whose label must be one of `labels` (enforced by the grammar)."""
    if not labels:
        raise SchemaError("A classification schema needs at least one label.")
    return create_model(
        "ClassificationSample",
        __base__=ClassificationSample,
        label=(Literal[tuple(labels)], Field(description="The class this text belongs to.")),
    )


def assert_bounded(schema: type[BaseModel]) -> dict[str, Any]:
    """Return the JSON schema of `schema`, or raise SchemaError naming an unbounded field."""
    js = schema.model_json_schema()
    defs = js.get("$defs", {})

    def walk(node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            walk(defs[node["$ref"].split("/")[-1]], path)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):
                walk(option, path)
        kind = node.get("type")
        if kind == "string" and "enum" not in node and "const" not in node and "maxLength" not in node:
            raise SchemaError(
                f"Schema field '{path}' is a string without a maximum length, so constrained"
                f" generation might never finish; give it one, e.g. Field(max_length=500)."
            )
        if kind == "array":
            if "maxItems" not in node:
                raise SchemaError(
                    f"Schema field '{path}' is a list without a maximum length; give it one,"
                    f" e.g. Field(max_length=10)."
                )
            walk(node.get("items", {}), f"{path}[]")
        if kind == "object":
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) or (extra is True and not node.get("properties")):
                raise SchemaError(
                    f"Schema field '{path or schema.__name__}' is an open mapping; declare its keys as fields."
                )
            for name, sub in node.get("properties", {}).items():
                walk(sub, f"{path}.{name}" if path else name)

    walk(js, "")
    return js


def schema_json(schema: type[BaseModel]) -> str:
    """The bounded JSON schema as a compact string (the grammar compiler's cache key)."""
    return json.dumps(assert_bounded(schema), sort_keys=True, separators=(",", ":"))
