"""The call cache: a restarted run or another recipe reuses identical calls, and never another model's or
another sampling's answers."""

from __future__ import annotations

import json

import pytest

import synthwright

from .scripted import ScriptedEngine, recipe_dict
from .test_replay import Refusing

TEXTS = {"lost_card": ["I lost my card at the station", "My wallet with my card was stolen", "My card fell out"],
         "refund": ["The shop never refunded me", "Where is the money for the shoes", "My refund is missing"]}
FILTERS = {"language": False, "label_fidelity": {"enabled": False}, "label_noise": {"mode": "off"}}


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")


def texts(out):
    return sorted(json.loads(line)["text"] for line in (out / "data" / "train.jsonl").read_text().splitlines())


def test_a_second_run_is_answered_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    first = synthwright.run(recipe_dict(filters=FILTERS), out=tmp_path / "a", engine=ScriptedEngine(TEXTS), cache=cache)
    assert first.stats["cache"]["hits"] == 0 and first.stats["cache"]["misses"] > 0
    again = synthwright.run(recipe_dict(filters=FILTERS), out=tmp_path / "b", engine=RefusingScripted(), cache=cache)
    assert again.stats["cache"]["misses"] == 0 and again.stats["cache"]["hits"] == first.stats["cache"]["misses"]
    assert texts(tmp_path / "b") == texts(tmp_path / "a")


class RefusingScripted(Refusing):
    spec = "scripted"  # the same identity as ScriptedEngine's, so its calls may hit; any miss fails the test

    def describe(self):
        return ScriptedEngine().describe()


def test_another_model_or_sampling_never_hits(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    synthwright.run(recipe_dict(filters=FILTERS), out=tmp_path / "a", engine=ScriptedEngine(TEXTS), cache=cache)
    other_model = ScriptedEngine(TEXTS, spec="another-model")
    result = synthwright.run(recipe_dict(filters=FILTERS), out=tmp_path / "b", engine=other_model, cache=cache)
    assert result.stats["cache"]["hits"] == 0
    warmer = recipe_dict(filters=FILTERS, sampling={"temperature": 0.5, "top_p": 0.95, "max_new_tokens": 400, "seed": 0})
    monkeypatch.setenv("SYNTHWRIGHT_CALL_CACHE", str(cache))  # the variable works as --cache does
    result = synthwright.run(warmer, out=tmp_path / "c", engine=ScriptedEngine(TEXTS))
    executor = result.stats["usage"]["by_phase"]["executor"]["calls"]
    assert result.stats["cache"]["misses"] >= executor > 0  # the planner's calls may hit; no generation did


def test_an_engine_that_names_no_model_keys_apart_from_the_working_directory(tmp_path, monkeypatch):
    """Its identity once listed every file under the working directory, so any file written there between two runs
    (a log, a results file) made the second run miss the cache."""
    from synthwright.core.store import CallCache
    from synthwright.engines.cache import CachedEngine

    monkeypatch.chdir(tmp_path)
    before = CachedEngine(ScriptedEngine(TEXTS), CallCache(tmp_path / "cache")).identity
    (tmp_path / "written-meanwhile.log").write_text("a line")
    assert CachedEngine(ScriptedEngine(TEXTS), CallCache(tmp_path / "cache")).identity == before
