"""Redaction catches what a user expects: phone numbers in national and international formats whatever the recipe's
region, e-mail addresses, card numbers, IBANs and account numbers, at the recipe's defaults and through a real run;
and it leaves ordinary numbers (amounts, years, dates, order numbers) alone."""

from __future__ import annotations

import re

import pytest

import synthwright
from synthwright.evaluators.filters import Candidate, FilterState, apply_filters
from synthwright.evaluators.pii import find_pii
from synthwright.recipe.filter_config import FilterConfig, PIICheck

from .scripted import ScriptedEngine, recipe_dict

ONLY_PII = {"exact_duplicates": False, "near_duplicates": False, "seed_copies": False, "language": False,
            "placeholders": False, "refusals": False, "label_leak": "off", "min_chars": 0, "role": False,
            "label_fidelity": False, "grounding": False, "dialogue": False}

# (text, the personal data in it, the token redaction leaves)
PERSONAL = [
    ("Please call me back on 0827319658 after five", "0827319658", "[PHONE]"),  # the row
    ("My number is 082 731 9658 if the line drops", "082 731 9658", "[PHONE]"),
    ("Reach me in London on +44 20 7946 0958 tomorrow", "+44 20 7946 0958", "[PHONE]"),
    ("The office line is (415) 555-0134, ask for billing", "(415) 555-0134", "[PHONE]"),
    ("Text my mobile 07700 900123 when the card arrives", "07700 900123", "[PHONE]"),
    ("From abroad I dial +27 82 731 9658", "+27 82 731 9658", "[PHONE]"),
    ("Mon portable: 06 12 34 56 78", "06 12 34 56 78", "[PHONE]"),
    ("The landline (020) 7946 0958 rings out", "(020) 7946 0958", "[PHONE]"),
    ("Call 0044 20 7946 0958 from a French phone", "0044 20 7946 0958", "[PHONE]"),
    ("Write to jane.doe+bank@example.co.uk about it", "jane.doe+bank@example.co.uk", "[EMAIL]"),
    ("My card 4111 1111 1111 1111 was charged twice", "4111 1111 1111 1111", "[CARD]"),
    ("Card number 5500005555555559 was declined", "5500005555555559", "[CARD]"),
    ("Amex 3782-822463-10005 expired", "3782-822463-10005", "[CARD]"),
    ("Send it to DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00", "[IBAN]"),
    ("My IBAN is GB82WEST12345698765432", "GB82WEST12345698765432", "[IBAN]"),
    ("Pay into account number 31926819 today", "31926819", "[ACCOUNT]"),
    ("Sort code 12-34-56, acct no. 000123456789", "000123456789", "[ACCOUNT]"),
    ("Our routing number is 021000021", "021000021", "[ACCOUNT]"),
]

ORDINARY = [
    "I was charged 25 dollars twice", "I opened the account in 2024", "Order 123456 never arrived",
    "Order #48213967 arrived broken on 11/03/2024", "The transfer of 1,250.00 EUR left on 2024-05-17",
    "My card ends in 4242", "my card 4111 1111 1111 1112 was charged twice",  # fails Luhn
    "send it to DE89 3704 0044 0532 0130 01 please",  # fails mod-97
    "set an alarm for 07:30 on 01.02.2024", "what is 80980 + 098098 + 80980 + 1243",
    "add the Soul Classics 1970 to 1975 playlist", "sales in 2019 2020 2021 2022 were flat",
    "my account balance is 1500000 after the bonus", "tracking code 0012345678 for parcel 3",
    "version 0.10.2 of the app crashes", "it costs $1,234,567.89 in total", "call 555-0134",
]


def candidates(texts: list[str]) -> list[Candidate]:
    return [Candidate(data={"text": t, "label": "refund"}, text=t, category="refund", slot_id="s0") for t in texts]


def test_the_recipe_defaults_are_what_these_tests_use():
    d = PIICheck()
    assert d.mode == "reject" and d.kinds == ["email", "phone", "card", "iban"] and d.phone_region == "US"


@pytest.mark.parametrize("text, value, token", PERSONAL, ids=[p[1] for p in PERSONAL])
def test_personal_data_is_rejected_at_the_defaults(text, value, token):
    (c,) = candidates([text])
    apply_filters([c], FilterState(), FilterConfig(**ONLY_PII))  # pii at its defaults
    assert c.filter == "pii", (text, c.reason)
    d = PIICheck()
    assert value in {h.value for h in find_pii(text, d.kinds, region=d.phone_region)}


@pytest.mark.parametrize("region", ["US", "GB", "ZA", "DE"])
@pytest.mark.parametrize("text, value, token", PERSONAL, ids=[p[1] for p in PERSONAL])
def test_personal_data_is_redacted_whatever_the_region(text, value, token, region):
    (c,) = candidates([text])
    apply_filters([c], FilterState(), FilterConfig(**ONLY_PII, pii={"mode": "redact", "phone_region": region}))
    assert c.alive and value not in c.text and token in c.text, (region, c.text)
    assert c.data["text"] == c.text and c.data["label"] == "refund"
    assert find_pii(c.text, PIICheck().kinds, region=region) == []


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_numbers_are_kept(text):
    for region in ("US", "GB", "ZA"):
        assert find_pii(text, PIICheck().kinds, region=region) == [], (region, text)
    (c,) = candidates([text])
    apply_filters([c], FilterState(), FilterConfig(**ONLY_PII))
    assert c.alive, c.reason


def test_a_run_redacts_them_in_the_dataset(tmp_path, monkeypatch):
    """A real run (scripted teacher): every accepted row had personal data, and the dataset holds none of it."""
    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    rows = {"lost_card": [PERSONAL[0][0], PERSONAL[3][0], PERSONAL[10][0]],
            "refund": [PERSONAL[4][0], PERSONAL[13][0], PERSONAL[15][0]]}
    recipe = recipe_dict(filters={"label_noise": {"mode": "off"}, "language": False,
                                  "label_fidelity": {"enabled": False}, "pii": {"mode": "redact"}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(rows))
    texts = [r["text"] for split in result.dataset for r in result.dataset[split]]
    assert len(texts) == 6
    written = (tmp_path / "run").rglob("*.jsonl")
    on_disk = " ".join(p.read_text(encoding="utf-8") for p in written)
    for text, value, token in PERSONAL:
        if any(text == t for ts in rows.values() for t in ts):
            assert value not in on_disk and not any(value in t for t in texts), value
    assert any("[PHONE]" in t for t in texts) and any("[CARD]" in t for t in texts)
    assert any("[IBAN]" in t for t in texts) and any("[ACCOUNT]" in t for t in texts)
    assert not any(re.search(r"\d{6,}", t) for t in texts)
