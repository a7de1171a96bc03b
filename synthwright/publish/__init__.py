"""Publishing a run: export as a Hugging Face dataset with a card, push it to the Hub, review its samples."""

from __future__ import annotations

from typing import Any

__all__ = ["ExportResult", "PushResult", "check_card", "export_dataset", "push_dataset"]

_LAZY = {
    "ExportResult": "synthwright.publish.export",
    "export_dataset": "synthwright.publish.export",
    "check_card": "synthwright.publish.card",
    "PushResult": "synthwright.publish.push",
    "push_dataset": "synthwright.publish.push",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'synthwright.publish' has no attribute {name!r}")
