"""The label check: a model picks each sample's label among its own and its nearest labels; a sample it does not
confirm is rejected or relabelled, in a run and in a replay."""

from __future__ import annotations

import pytest

import synthwright
from synthwright.cli.summary import print_summary
from synthwright.core.errors import ConfigError
from synthwright.evaluators.filters import Candidate
from synthwright.evaluators.label_check import LabelCheck, choice_schema, shuffled
from synthwright.recipe.load import load_recipe

from .scripted import ScriptedEngine, recipe_dict

THREE = [{"name": "lost_card", "description": "The card was lost."},
         {"name": "refund", "description": "A refund has not arrived."},
         {"name": "fees", "description": "A fee was charged."}]
NEIGHBOURS = {"lost_card": ["refund", "fees"], "refund": ["fees", "lost_card"], "fees": ["refund", "lost_card"]}


@pytest.fixture(autouse=True)
def _tfidf(monkeypatch):
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")


def cands(pairs):
    return [Candidate(data={"text": t, "label": label}, text=t, category=label, slot_id="s") for t, label in pairs]


WORDS = {"refund": ("refund", "money"), "fees": ("fee",), "lost_card": ("card", "wallet")}


def by_word(text, options):
    """Picks the first label (in a fixed order) one of whose words the text has; the first option when none."""
    for label in ("refund", "fees", "lost_card"):
        if label in options and any(w in text.lower() for w in WORDS[label]):
            return label
    return options[0]


def test_options_are_the_label_and_its_nearest_in_an_order_drawn_from_the_text():
    recipe = load_recipe(recipe_dict(categories=THREE, label_check={"enabled": True, "neighbours": 1}))
    check = LabelCheck(recipe, ScriptedEngine(), NEIGHBOURS)
    assert check.choices == {"lost_card": ["lost_card", "refund"], "refund": ["refund", "fees"],
                             "fees": ["fees", "refund"]}
    (c,) = cands([("my card is gone", "lost_card")])
    assert check.options(c) == check.options(c)  # the same sample always gets the same order
    firsts = {shuffled(["a", "b", "c", "d"], f"text {i}", 0)[0] for i in range(40)}
    assert firsts == {"a", "b", "c", "d"}  # the own label is not always first
    assert list(choice_schema(3).model_json_schema()["properties"]["answer"]["enum"]) == ["A", "B", "C"]


def test_unconfirmed_samples_are_rejected_or_relabelled():
    pairs = [("my card is lost", "lost_card"), ("the refund never came", "lost_card"), ("no answer", "refund"),
             ("a fees question", "refund")]

    def pick(text, options):
        return None if text == "no answer" else by_word(text, options)

    recipe = load_recipe(recipe_dict(categories=THREE, label_check={"enabled": True}))
    batch = cands(pairs)
    LabelCheck(recipe, ScriptedEngine(pick=pick), NEIGHBOURS).evaluate(batch)
    assert [(c.status, c.filter) for c in batch] == [("accepted", None), ("rejected", "label_check"),
                                                      ("rejected", "label_check"), ("rejected", "label_check")]
    assert "reads it as 'refund', not 'lost_card'" in batch[1].reason
    assert "no usable answer" in batch[2].reason
    assert batch[0].features["label_check"]["picked"] == "lost_card"

    relabel = load_recipe(recipe_dict(categories=THREE, label_check={"enabled": True, "on_disagree": "relabel"}))
    batch = cands(pairs)
    LabelCheck(relabel, ScriptedEngine(pick=pick), NEIGHBOURS).evaluate(batch)
    assert [(c.status, c.category, c.data["label"]) for c in batch] == [
        ("accepted", "lost_card", "lost_card"), ("accepted", "refund", "refund"), ("rejected", "refund", "refund"),
        ("accepted", "fees", "fees")]
    assert batch[1].features["label_check"]["relabelled_from"] == "lost_card"


def test_a_tiny_model_answers_with_one_of_the_options(tiny_engine):
    recipe = load_recipe(recipe_dict(categories=THREE, label_check={"enabled": True}))
    batch = cands([("I lost my card", "lost_card"), ("where is my refund", "refund"), ("why this fee", "fees")])
    LabelCheck(recipe, tiny_engine, NEIGHBOURS).evaluate(batch)
    for c in batch:
        check = c.features["label_check"]
        assert check["picked"] in check["options"] and sorted(check["options"]) == sorted(THREE_NAMES)
        assert c.alive == (check["picked"] == c.category)


THREE_NAMES = [c["name"] for c in THREE]
TEXTS = {"lost_card": ["I lost my card at the station yesterday", "My wallet with my card was stolen on the tram",
                       "the refund for my card never came"],
         "refund": ["The shop refunded me two weeks ago but nothing arrived", "Where is the money for the shoes I returned",
                    "My refund for the cancelled flight is missing"]}


def base(**check):
    return recipe_dict(label_check={"enabled": True, **check},
                       filters={"language": False, "label_fidelity": {"enabled": False}, "label_noise": {"mode": "off"}})


def test_a_run_rejects_what_the_check_does_not_confirm(tmp_path, capsys):
    result = synthwright.run(base(), out=tmp_path / "run", engine=ScriptedEngine(TEXTS, pick=by_word))
    assert result.stats["funnel"] == {"accepted": 5, "label_check": 1}
    assert result.stats["label_check"]["checked"] == 6
    print_summary(result)
    assert "label check (scripted): 6 samples read" in capsys.readouterr().out
    rows = [r for split in result.dataset.values() for r in split]
    assert "the refund for my card never came" not in {r["text"] for r in rows}


def test_relabelled_samples_keep_their_slot_and_take_the_new_label(tmp_path):
    result = synthwright.run(base(on_disagree="relabel"), out=tmp_path / "run",
                             engine=ScriptedEngine(TEXTS, pick=by_word))
    rows = {r["text"]: r["label"] for split in result.dataset.values() for r in split}
    assert len(rows) == 6 and rows["the refund for my card never came"] == "refund"
    assert result.stats["label_check"]["relabelled"] == 1
    assert sorted(rows.values()).count("refund") == 4


def test_turning_the_check_on_replays_the_stored_responses(tmp_path):
    out = tmp_path / "run"
    off = base()
    off["label_check"]["enabled"] = False
    first = synthwright.run(off, out=out, engine=ScriptedEngine(TEXTS))
    assert first.stats["accepted"] == 6
    engine = ScriptedEngine({}, pick=by_word)  # no texts: a new generation call would fail the run
    second = synthwright.run(base(), out=out, engine=engine)
    assert second.stats["replay"] is not None and second.stats["accepted"] == 5
    assert engine.calls["LabelChoice"] == 6 and engine.calls["GeneratedText"] == 0


@pytest.mark.parametrize("change, message", [
    ({"task": "qa", "categories": [{"name": "warranty"}, {"name": "setup"}]}, "applies to classification recipes"),
    ({"categories": THREE[:1]}, "at least two labels"),
])
def test_a_check_that_cannot_apply_is_refused(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        synthwright.run({**base(), **change}, out=tmp_path / "run", engine=ScriptedEngine(TEXTS))


def test_a_checking_model_that_cannot_load_fails_before_any_generation(tmp_path):
    engine = ScriptedEngine(TEXTS, pick=by_word)
    with pytest.raises(ConfigError):
        synthwright.run(base(model=str(tmp_path / "no-such-model")), out=tmp_path / "run", engine=engine)
    assert engine.calls["GeneratedText"] == 0
