"""Each filter on crafted texts that must pass and must fail."""

from __future__ import annotations

import importlib.util

import pytest

from synthwright.core.errors import ConfigError
from synthwright.evaluators.filters import (
    Candidate,
    FilterState,
    apply_filters,
    filter_names,
)
from synthwright.evaluators.pii import find_pii, iban_ok, luhn_ok
from synthwright.evaluators.textcheck import assistant_voice
from synthwright.recipe.load import load_recipe
from synthwright.recipe.filter_config import FilterConfig
from synthwright.tasks import task_for

from .scripted import recipe_dict

HAS_LINGUA = importlib.util.find_spec("lingua") is not None
ONLY = {  # switches every other filter off, so a test sees one filter's verdicts
    "exact_duplicates": False, "near_duplicates": False, "seed_copies": False, "language": False,
    "pii": {"mode": "off"}, "placeholders": False, "refusals": False, "label_leak": "off", "min_chars": 0,
    "role": False, "label_fidelity": False, "grounding": False, "dialogue": False, "gibberish": False,
}


def cfg(**on) -> FilterConfig:
    return FilterConfig(**{**ONLY, **on})


def run(texts, config, state=None, category="lost_card"):
    cands = [Candidate(data={"text": t, "label": category}, text=t, category=category, slot_id="s0") for t in texts]
    apply_filters(cands, state or FilterState(), config)
    return cands


def verdicts(texts, config, **kw):
    return {c.text: c.filter for c in run(texts, config, **kw)}


def test_registry_order_puts_placeholders_before_pii_and_near_duplicates_last():
    names = filter_names()
    assert names[0] == "length" and names[-1] == "near_duplicate"
    assert names.index("placeholder") < names.index("pii") < names.index("exact_duplicate")


def test_config_is_closed_typed_and_accepts_bool_shorthand():
    c = FilterConfig(near_duplicates=False, pii=False, language={"enabled": True, "min_chars": 5})
    assert not c.near_duplicates.enabled and c.pii.mode == "off" and c.language.min_chars == 5
    with pytest.raises(ConfigError, match=r"filters\.near_duplicates\.treshold: unknown field"):
        load_recipe(recipe_dict(filters={"near_duplicates": {"treshold": 0.5}}))
    with pytest.raises(ConfigError, match="min_chars must not exceed max_chars"):
        load_recipe(recipe_dict(filters={"min_chars": 50, "max_chars": 10}))


def test_length_bounds():
    got = verdicts(["hi", "a good length message", "x" * 50], cfg(min_chars=5, max_chars=40))
    assert got == {"hi": "length", "a good length message": None, "x" * 50: "length"}


def test_placeholders():
    bad = ["Hi, this is [Customer Name] and my card is gone", "Dear {name}, my card", "Please call <NAME> about my card",
           "My card ending XXXX was declined", "It happened on XX/XX/2024", "Lorem ipsum dolor card", "My name is ____"]
    good = ["I paid $50 (twice!) for this and want it back", "Order #4411 is late: where is it?", "my card :( is gone"]
    got = verdicts(bad + good, cfg(placeholders=True))
    assert all(got[t] == "placeholder" for t in bad), got
    assert all(got[t] is None for t in good), got


def test_refusals_meta_talk_and_prompt_echoes():
    bad = ["As an AI language model, I cannot write personal messages.", "I'm sorry, I cannot fulfill this request.",
           "Sure! Here's a message a customer might send: my card is lost", "Here is an example message: I lost my card",
           "Message: I lost my card", "Its purpose: report a lost card.\nI lost my card.",
           "I lost my card.\nSituation: on a train", "Style: casual. I lost my card", "Write one message that a student would send",
           "do not answer it, do not describe it, do not write as the one who replies",
           "I'm sorry, but as a machine learning model, I don't have the capability to book tables at restaurant.",
           "I'm unable to assist with this request.", "Sorry, I'm not able to help with that."]
    good = ["Here is my new address, please update it", "as a digital marketer i need a table for four at 8", "Sure, I can send the receipt tomorrow",
            "I'm sorry but I can't find my card anywhere", "I cannot create an account on your app",
            "Here's the thing: my card vanished"]
    got = verdicts(bad + good, cfg(refusals=True))
    assert all(got[t] == "refusal" for t in bad), got
    assert all(got[t] is None for t in good), got


def test_a_sample_that_restates_the_recipes_description_is_a_prompt_echo():
    state = FilterState(prompt_texts=["The reviewer is pleased with the product.", "Reviews of phones and headsets bought online."])
    got = verdicts(["The reviewer is pleased with the product.", "Diane Smith is pleased with the product, she says.",
                    "I am pleased with it, works well", "Battery died after two days."], cfg(refusals=True), state=state)
    assert list(got.values()) == ["refusal", "refusal", None, None], got


def test_a_sample_that_echoes_the_recipes_axes_is_a_prompt_echo():
    recipe = load_recipe(recipe_dict(axes={"personas": ["a student"], "styles": ["casual and a little annoyed"],
                                           "lengths": ["two or three sentences"]}))
    state = FilterState.for_run(recipe, task_for("classification"), [], set(), [])
    texts = ["This message is frustration and two or three sentences. I lost my card.",
             "Casual and a little annoyed: my card is gone", "I sent two or three transfers and my card is gone"]
    assert verdicts(texts, cfg(refusals=True), state=state) == {texts[0]: "refusal", texts[1]: "refusal", texts[2]: None}


def test_assistant_voice_is_rejected_in_classification_only():
    bad = ["I'm sorry to hear about your issue, I'll try to resolve this",
           "Sure, I'd be happy to help! Can you please provide more details?",
           "Hello, thank you for contacting us. I understand that your card was lost",
           "Hello there, friend! How can I assist you with cinema-related tasks?", "Would you like me to add it to a playlist?",
           "The customer wants to change their PIN because they forgot it.", "This user is asking for the weather",
           "I'm ready to provide weather forecasts for place or time requests.", "Let me know if you need any further assistance.",
           "Please rate this book. The user gives it stars.", "Sorry, but I don't know which film you are looking for",
           "Do you want to play a song on your smart speaker?", "Do you need assistance with a credit card transaction?",
           "If you have any questions about banking, let me know!"]
    good = ["Sure, I can send the receipt tomorrow", "how can I help my son open an account", "I'm sorry but my card is gone",
            "Please let me know when the new card arrives", "Can you check my balance please",
            "The customer service line never answers"]
    got = verdicts(bad + good, cfg(role=True))
    assert all(got[t] == "role" for t in bad), got
    assert all(got[t] is None for t in good), got
    assert verdicts(bad[:1], cfg(role=True), state=FilterState(task="dialogue")) == {bad[0]: None}


def test_label_fidelity_rejects_off_topic_text_and_another_label_only_when_asked():
    recipe = load_recipe(recipe_dict(description="Messages that customers of a retail bank type into its support chat.",
                                     categories=[
        {"name": "lost_card", "description": "The customer's card was lost or stolen and they want it blocked."},
        {"name": "refund", "description": "A merchant refund has not appeared in the account."},
        {"name": "exchange_rate", "description": "The customer asks about currency exchange rates."}]))
    state = FilterState.for_run(recipe, task_for("classification"), [], set(), [])
    other_label = "the shop said they refunded me a week ago but nothing is in my account"
    cases = {"someone stole my card from my bag, please block it": None, other_label: None,
             "The weather in Paris is lovely in spring.": "label_fidelity"}
    assert verdicts(list(cases), cfg(label_fidelity=True), state=state) == cases
    strict = cfg(label_fidelity={"reject_other_label": True})
    assert verdicts(list(cases), strict, state=state) == {**cases, other_label: "label_fidelity"}
    reason = run([other_label], strict, state=state)[0].reason
    assert reason.startswith("reads as 'refund'"), reason


def test_gibberish_is_rejected_and_names_brands_and_typos_are_not():
    bad = ["xq zzt vbb qwrr plk", "asdf jkl qwe rty", "Lorem ipsum dolor sit amet consectetur"]
    good = ["Add Annesley Malewana album to playlist indietronic", "Poorly contstruct hinge.", "ok",
            "Plantronics Bluetooth Excelent Buy.", "Logitech Bluetooth Headset is a 10!.", "add Koichi Sugiyama to WHM", "whats the timezone for modesto"]
    got = verdicts(bad + good, cfg(gibberish=True))
    assert got == {**{t: "gibberish" for t in bad}, **{t: None for t in good}}, got
    # words the recipe itself uses count as words, though MiniLM's vocabulary splits them ("refund" → ref ##und)
    assert verdicts(["refund refund refund"], cfg(gibberish=True)) == {"refund refund refund": "gibberish"}
    state = FilterState(label_docs={"refund": ["refund", "A merchant refund has not appeared."], "other": ["other"]})
    assert verdicts(["refund refund refund"], cfg(gibberish=True), state=state) == {"refund refund refund": None}


def test_label_leak_identifier_and_words_modes():
    texts = ["Category lost_card: I lost it", "I lost my card on the bus", "I need to report a LOST-CARD",
             "I want to report a lost card"]
    assert verdicts(texts, cfg(label_leak="identifier")) == {texts[0]: "label_leak", texts[1]: None, texts[2]: None,
                                                             texts[3]: None}
    assert verdicts(texts, cfg(label_leak="words")) == {texts[0]: "label_leak", texts[1]: None, texts[2]: "label_leak",
                                                        texts[3]: "label_leak"}
    # single-word labels are ordinary words: only the words mode checks them
    assert verdicts(["where is my refund"], cfg(label_leak="identifier"), category="refund") == {"where is my refund": None}
    assert verdicts(["where is my refund"], cfg(label_leak="words"), category="refund") == {"where is my refund": "label_leak"}
    # other task kinds are not checked
    assert verdicts(texts[:1], cfg(label_leak="words"), state=FilterState(task="dialogue")) == {texts[0]: None}


@pytest.mark.skipif(not HAS_LINGUA, reason="needs lingua-language-detector")
def test_language():
    bad = ["Ich habe meine Karte gestern im Bus verloren, bitte sperren Sie sie.",
           "Hola, perdí mi tarjeta ayer en el metro, ¿pueden bloquearla?", "Je voudrais ouvrir un compte d'épargne, s'il vous plaît",
           "Hoi, mijn pas is kwijt, kunt u hem blokkeren?"]
    good = ["I lost my card yesterday on the bus, please block it", "yo wheres my refund bruh its been 2 wks",
            "Poor customer. Can't find the missing card.",  # lingua's low accuracy says Dutch 0.87: confirmed English
            "Karte weg!",  # too short to judge
            "user: hello, my card is gone\nassistant: I am sorry to hear that, let me block it"]
    got = verdicts(bad + good, cfg(language={"enabled": True, "min_chars": 20}), state=FilterState(language="en"))
    assert all(got[t] == "language" for t in bad), got
    assert all(got[t] is None for t in good), got
    german = run(bad[:1], cfg(language=True), state=FilterState(language="de"))
    assert german[0].alive


@pytest.mark.skipif(not HAS_LINGUA, reason="needs lingua-language-detector")
def test_unknown_language_is_one_config_error_before_any_generation():
    from synthwright.recipe.seeds import read_seeds
    from synthwright.tasks import task_for

    recipe = load_recipe(recipe_dict(language="xx"))
    with pytest.raises(ConfigError, match="language filter cannot identify language 'xx'"):
        FilterState.for_run(recipe, task_for("classification"), read_seeds(recipe), set(), [])


def test_checksums():
    assert luhn_ok("4111111111111111") and luhn_ok("5500005555555559") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and iban_ok("GB82WEST12345698765432")
    assert not iban_ok("DE89370400440532013001") and not iban_ok("DE8937040044053201300")


def test_pii_reject():
    bad = ["write to me at jane.doe@example.com", "call me on (415) 555-2671 tonight", "or +44 20 7946 0958 in London",
           "my card 4111 1111 1111 1111 was charged twice", "send it to DE89 3704 0044 0532 0130 00 please",
           "IBAN GB82WEST12345698765432"]
    good = ["my card 4111 1111 1111 1112 was charged twice",  # fails Luhn: not a card number
            "send it to DE89 3704 0044 0532 0130 01 please",    # fails mod-97
            "order 20240311 arrived broken on 11/03/2024", "I was charged 1,299.00 USD", "my card ends in 4242",
            "John Smith told me to write"]  # names are opt-in
    if importlib.util.find_spec("phonenumbers") is None:  # the fallback pattern knows North-American numbers only
        bad.remove("or +44 20 7946 0958 in London")
    got = verdicts(bad + good, cfg(pii={"mode": "reject"}))
    assert all(got[t] == "pii" for t in bad), got
    assert all(got[t] is None for t in good), got
    c = run(bad[:1], cfg(pii={"mode": "reject"}))[0]
    assert "email" in c.reason and "jane.doe@example.com" in c.reason


def test_pii_names_opt_in():
    texts = ["John Smith told me to write", "Ask Dr. Watson about it", "My Bill Payment failed", "Mark my words, Visa Card"]
    got = verdicts(texts, cfg(pii={"mode": "reject", "kinds": ["name"]}))
    assert got == {texts[0]: "pii", texts[1]: "pii", texts[2]: None, texts[3]: None}


def test_pii_redact_rewrites_text_and_data_and_is_not_then_a_placeholder():
    text = "Email jane.doe@example.com or call (415) 555-2671 about card 4111-1111-1111-1111"
    c = run([text], FilterConfig(pii={"mode": "redact"}, min_chars=0))[0]  # every filter on
    assert c.alive, c.reason
    assert c.text == "Email [EMAIL] or call [PHONE] about card [CARD]"
    assert c.data == {"text": c.text, "label": "lost_card"} and c.key == "email email or call phone about card card"
    assert c.features["redacted"] == ["email", "phone", "card"]
    assert find_pii(c.text, ["email", "phone", "card", "iban"]) == []


def test_pii_redact_keeps_labels_and_contexts():
    c = Candidate(data={"question": "Is bob@example.com right?", "answer": "Yes", "context": "mail bob@example.com",
                        "topic": "a@b.co"}, text="Is bob@example.com right?\nYes", category="t", slot_id="s")
    apply_filters([c], FilterState(task="qa"), cfg(pii={"mode": "redact"}))
    assert c.data == {"question": "Is [EMAIL] right?", "answer": "Yes", "context": "mail bob@example.com", "topic": "a@b.co"}


def test_seed_copies_exact_and_near():
    seed = "I think I left my debit card in a taxi last night"
    state = FilterState(seed_texts=[seed], seed_keys={"i think i left my debit card in a taxi last night"})
    texts = ["I think I left my debit card in a taxi last night!", "I think I left my debit card in a taxi last night, help",
             "The cash machine swallowed my card this morning"]
    got = run(texts, cfg(seed_copies=True), state=state)
    assert [c.filter for c in got] == ["seed_copy", "seed_copy", None]
    assert got[0].reason == "copies a seed example" and "near copy of seed example" in got[1].reason


def test_exact_duplicates_against_accepted_and_within_batch():
    state = FilterState(accepted_keys={"my card is gone"})
    got = run(["My card is gone!", "Where is my refund?", "where is my refund"], cfg(exact_duplicates=True), state=state)
    assert [c.filter for c in got] == ["exact_duplicate", None, "exact_duplicate"]
    assert "accepted sample" in got[0].reason and "same batch" in got[2].reason


def test_near_duplicates_within_batch_and_across_batches():
    config = cfg(near_duplicates={"enabled": True, "threshold": 0.7})
    state = FilterState()
    first = run(["The shop said they refunded me two weeks ago but nothing arrived",
                 "The shop said they refunded me two weeks ago, but nothing arrived so far",
                 "My card was swallowed by the cash machine on Main Street"], config, state=state)
    assert [c.filter for c in first] == [None, "near_duplicate", None]
    assert "same batch" in first[1].reason and "similarity 0.9" in first[1].reason
    for c in first:
        if c.alive:
            state.accept(c)
    second = run(["The shop said they refunded me two weeks ago but nothing has arrived yet",
                  "Can I raise the contactless limit on my new card?"], config, state=state)
    assert [c.filter for c in second] == ["near_duplicate", None]
    assert "near duplicate of accepted sample 'The shop said" in second[0].reason


def test_near_duplicate_index_is_rebuilt_from_accepted_texts_on_resume():
    config = cfg(near_duplicates=True)
    resumed = FilterState(accepted_texts=["The shop said they refunded me two weeks ago but nothing arrived"])
    got = run(["The shop said they refunded me two weeks ago, but nothing arrived so far"], config, state=resumed)
    assert got[0].filter == "near_duplicate"
    # what is rejected later (judge, quota) never enters the run's index: only state.accept adds
    other = run(["Please close my savings account today"], config, state=resumed)
    assert other[0].alive and len(resumed.extra["near_index"]) == 1


def test_first_rejection_sticks_and_timings_are_recorded():
    from synthwright.evaluators.filters import apply_filters

    cands = [Candidate(data={"text": t}, text=t, category="lost_card", slot_id="s")
             for t in ["As an AI I lost [Name]", "a fine message about my card"]]
    timings: dict[str, float] = {}
    apply_filters(cands, FilterState(), FilterConfig(language=False), timings=timings)
    assert cands[0].filter == "placeholder" and cands[1].alive
    assert set(timings) >= {"length", "placeholder", "refusal", "near_duplicate"}


# What Qwen2.5-Coder-0.5B wrote for the banking recipe in the bank's voice, or as a narrator: each must be refused.
BANK_OR_NARRATOR = [
    "Customer wants to change their address.",
    "Customer of a retail bank type asks about applying for personal loan.",
    "Customer: Hi! What's an interest inquiry in savings account?",
    "Hello, customer! We're thinking of opening a new account.",
    "Please contact our customer service for assistance with your ATM transactions.",
    "How much money is in your account?",
    "Sorry, your card has been declined or does not work at a shop or ATM.",
    "We are sorry, but the ATM failed to collect your cash.",
    "We apologize for the oversight in processing customer complaints and refunds.",
    "Please call the customer's support chat for mortgage interest rates. Thank you for your interest.",
    "Great to hear about setting up a direct debit. What specific needs are you experiencing?",
]
# Real messages of the same shapes (from the public intent and review sets): each must pass.
PEOPLE = [
    "customer service was rude to me on the phone",
    "We moved house last month, how do I change the address",
    "can you tell me your name",
    "please contact the bank and let them know i cut up the wrong card",
    "We are so glad we found this place.",
    "what's your exchange rate for dollars",
    "sorry, my card got declined again",
]


@pytest.mark.parametrize("text", BANK_OR_NARRATOR)
def test_the_bank_speaking_or_a_narrator_is_the_wrong_voice(text):
    assert assistant_voice(text)


@pytest.mark.parametrize("text", PEOPLE)
def test_a_person_speaking_is_not(text):
    assert assistant_voice(text) is None
