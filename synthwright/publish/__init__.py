"""Publishing a run: export as a Hugging Face dataset with a card, push it to the Hub, review its samples."""

from __future__ import annotations

from synthwright.core.lazy import lazy_getattr

__all__ = ["ExportResult", "PushResult", "check_card", "export_dataset", "push_dataset"]

_LAZY = {
    "ExportResult": "synthwright.publish.export",
    "export_dataset": "synthwright.publish.export",
    "check_card": "synthwright.publish.hub_vocab",
    "PushResult": "synthwright.publish.push",
    "push_dataset": "synthwright.publish.push",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
