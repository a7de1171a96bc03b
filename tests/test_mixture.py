"""A mixture of teachers: slots spread over them by share within every label, provenance per sample, a report section."""

from __future__ import annotations

from collections import Counter

import pytest

import synthwright
from synthwright.core.errors import ConfigError

from .scripted import VocabEngine, vocab_recipe


def test_mixture_spreads_each_label_by_share_and_records_the_teacher(tmp_path):
    recipe = vocab_recipe(teacher=[{"model": "vocab-a", "share": 2}, {"model": "vocab-b", "share": 1}],
                          count={"per_category": 6}, quality={"enabled": False})
    engines = [VocabEngine(spec="vocab-a"), VocabEngine(spec="vocab-b")]
    result = synthwright.run(recipe, out=tmp_path / "run", engine=engines)
    rows = [r for split in result.dataset.values() for r in split]
    per_label = Counter((r["label"], r["teacher"]) for r in rows)
    assert per_label == {(label, t): n for label in ("lost_card", "refund", "fees") for t, n in (("vocab-a", 4), ("vocab-b", 2))}
    assert engines[0].prompts and engines[1].prompts  # both wrote
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Teachers" in report and "vocab-a" in report and "vocab-b" in report


def test_a_mixture_names_each_model_once():
    with pytest.raises(ConfigError, match="different model"):
        synthwright.load_recipe(vocab_recipe(teacher=[{"model": "default"}, {"model": "default", "share": 2}]))
