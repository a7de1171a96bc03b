"""Grounded QA: support, extractive spans, answerability and leaks, each caught with its reason."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

import synthwright
from synthwright.core.documents import focus_points
from synthwright.core.errors import ConfigError
from synthwright.core.samples import QASample
from synthwright.core.store import RunStore
from synthwright.engines.base import parse_into
from synthwright.evaluators.filters import Candidate, FilterState, apply_filters
from synthwright.evaluators.grounding import best_span, leak, passage_talk, support
from synthwright.recipe.load import load_recipe
from synthwright.tasks import task_for

from .scripted import WriterEngine, recipe_dict

REPO = Path(__file__).resolve().parent.parent
DOCS = {
    "router.md": "The status light turns solid blue when the router is online. Hold the reset button on the back for ten"
                 " seconds to restore the factory settings; the light then blinks white while the router restarts.",
    "warranty.md": "The warranty lasts two years from the date of purchase and covers hardware faults. It does not cover"
                   " damage from water, drops or repairs made by anyone other than an authorised service centre.",
    "billing.md": "Invoices are sent by email on the first day of each month. You can pay them by card or by bank"
                  " transfer within fourteen days; late payments are charged a fee of five euros.",
}
GROUNDED = {
    "router.md": ("How long do I hold the reset button to get the factory settings back?", "Hold it for ten seconds."),
    "warranty.md": ("Does my warranty cover a router that fell into water?", "No, damage from water is not covered."),
    "billing.md": ("How many days do I have to pay an invoice?", "You can pay within fourteen days, by card or bank transfer."),
}
OFF_TOPIC = {  # a question about another passage's subject, so it does not retrieve its own
    "router.md": "How many days do I have to pay my monthly invoice by bank transfer?",
    "warranty.md": "What colour is the status light when the router is online?",
    "billing.md": "Does the warranty cover damage from water or drops?",
}
UNGROUNDED = "A 19th century legend claims that a 18-year old girl named Aria de Acme was the last person to connect her home."
KINDS = ["grounded", "ungrounded", "leaked", "passage_talk", "off_topic"]
EXPECTED = {"grounded": (None, None), "ungrounded": ("grounding", "not supported by its passage"),
            "leaked": ("answer_leak", "contains its answer"), "passage_talk": ("answerable", "refers to 'the passage'"),
            "off_topic": ("answerable", "does not find its own passage")}


def _doc_of(prompt: str) -> str:
    return next(name for name, text in DOCS.items() if text in prompt)


def qa_writer():
    seen: dict[str, int] = defaultdict(int)

    def write(prompt: str, schema: str) -> dict:
        doc = _doc_of(prompt)
        kind = KINDS[seen[doc] % len(KINDS)]
        seen[doc] += 1
        q, a = GROUNDED[doc]
        if kind == "ungrounded":
            a = UNGROUNDED
        elif kind == "leaked":
            first = DOCS[doc].split(". ")[0]
            q, a = f"Is it true that {first[0].lower() + first[1:]}?", first
        elif kind == "passage_talk":
            q = "What does the passage say about " + q[0].lower() + q[1:]
        elif kind == "off_topic":
            q = OFF_TOPIC[doc]
        return {"question": q, "answer": a}

    return write


def qa_recipe(tmp_path: Path, **overrides) -> dict:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for name, text in DOCS.items():
        (docs / name).write_text(text + "\n")
    return {**recipe_dict(task="qa", categories=[], documents={"path": str(docs), "chunk_chars": 1000, "overlap_chars": 0},
                          count={"per_category": len(KINDS)}, base_dir=str(tmp_path)), **overrides}


def test_each_bad_qa_kind_is_rejected_with_its_reason(tmp_path):
    result = synthwright.run(qa_recipe(tmp_path), out=tmp_path / "run", engine=WriterEngine(qa_writer()))
    store = RunStore(tmp_path / "run" / "run.sqlite")
    samples = store.samples()
    store.close()
    assert len(samples) == len(KINDS) * len(DOCS)
    by_kind = defaultdict(list)
    for s in samples:
        doc = _doc_of(s["data"]["context"])
        q, a = s["data"]["question"], s["data"]["answer"]
        kind = ("ungrounded" if a == UNGROUNDED else "leaked" if q.startswith("Is it true") else
                "passage_talk" if "the passage" in q else "off_topic" if q == OFF_TOPIC[doc] else "grounded")
        by_kind[kind].append(s)
    assert {k: len(v) for k, v in by_kind.items()} == {k: len(DOCS) for k in KINDS}
    for kind, rows in by_kind.items():
        name, words = EXPECTED[kind]
        for s in rows:
            assert s["filter"] == name, (kind, s["filter"], s["reason"], s["data"]["question"])
            assert name is None or words in s["reason"], s["reason"]
    assert result.stats["accepted"] == len(DOCS)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Grounding" in report and "| accepted | 3 |" in report and "| rejected | 12 |" in report


def test_extractive_mode_always_yields_spans_of_the_context(tmp_path):
    rng = random.Random(0)

    def write(prompt: str, schema: str) -> dict:
        assert "copied word for word from the passage" in prompt
        doc = _doc_of(prompt)
        words = DOCS[doc].split()
        i = rng.randrange(len(words) - 6)
        span = words[i:i + rng.randint(2, 6)]
        if rng.random() < 0.5:  # what a small model writes: a near copy, other case, a word dropped or added
            span = [w.upper() if rng.random() < 0.3 else w for w in span if rng.random() > 0.2] + ["indeed"]
        if rng.random() < 0.2:
            span = ["bananas", "and", "spaceships"]
        return {"question": f"Question {rng.random():.6f} about the {doc.split('.')[0]}?", "answer": " ".join(span) or "x"}

    recipe = qa_recipe(tmp_path, filters={"grounding": {"mode": "extractive", "answerable": False}, "near_duplicates": False},
                       count={"per_category": 12})
    synthwright.run(recipe, out=tmp_path / "run", engine=WriterEngine(write))
    store = RunStore(tmp_path / "run" / "run.sqlite")
    accepted, rejected = store.samples("accepted"), store.samples("rejected")
    store.close()
    assert len(accepted) >= 12 and any(s["filter"] == "grounding" for s in rejected)
    for s in accepted:
        assert s["data"]["answer"] and s["data"]["answer"] in s["data"]["context"], s["data"]
    assert any(s["filter"] == "grounding" and "not a span of its passage" in s["reason"] for s in rejected)


def test_best_span_is_always_a_span_and_finds_verbatim_answers():
    context = " ".join(DOCS.values())
    rng = random.Random(1)
    words = context.split()
    for _ in range(200):
        answer = " ".join(rng.choice(words) if rng.random() < 0.8 else "zebra" for _ in range(rng.randint(1, 8)))
        span = best_span(answer, context)
        assert span.f1 == 0.0 or span.text in context
    assert best_span("ten seconds", context).text == "ten seconds"
    assert best_span("ten seconds", context).f1 == 1.0
    assert best_span("purple elephants", context).f1 == 0.0


def test_support_leak_and_passage_talk_on_crafted_pairs():
    ctx = DOCS["warranty.md"]
    assert support("The warranty covers hardware faults for two years.", ctx) == 1.0
    assert support("Warranties cover hardware faults.", ctx) == 1.0  # plurals count as the word
    assert support(UNGROUNDED, ctx) < 0.2
    assert leak("Is the warranty two years long?", "two years") and not leak("How long is the warranty?", "two years")
    assert leak("en_BE: The answer is: AAC: what is it?", "AAC")
    assert passage_talk("According to the text, how long is it?") and not passage_talk("How long is the warranty?")


def _qa(task, chunks, cid, q, a):
    data = {"question": q, "answer": a, "context": chunks[cid], "topic": cid}
    return Candidate(data=data, text=task.text_of(data), category=cid, slot_id="s")


def test_the_issues_qa_examples_are_rejected_with_the_default_recipe():
    recipe = load_recipe(REPO / "recipes" / "support-qa.yaml")
    task = task_for("qa")
    state = FilterState.for_run(recipe, task, [], set(), [])
    chunks = state.extra["chunks"]
    cid = next(k for k, v in chunks.items() if "administrator password" in v)
    bad = [_qa(task, chunks, cid, "What does the passage say about the importance of adding an admin password?",
               "A 19th century legend claims that a 18-year old girl named Aria de Acme was the last person to connect"
               " her home with the internet"),
           _qa(task, chunks, cid, "en_BE: The answer is: AAC: which password does the wizard ask for?",
               "An administrator password.")]
    good = _qa(task, chunks, cid, "What does the setup wizard ask me to choose?",
               "An administrator password, a Wi-Fi network name and a Wi-Fi password, each at least 12 characters.")
    apply_filters(bad + [good], state, recipe.filters)
    assert [c.filter for c in bad] == ["grounding", "answer_leak"], [c.reason for c in bad]
    assert good.alive, good.reason


def test_grounding_config_is_typed_and_can_be_switched_off():
    with pytest.raises(ConfigError, match=r"filters\.grounding\.min_suport: unknown field"):
        load_recipe(recipe_dict(filters={"grounding": {"min_suport": 0.5}}))
    recipe = load_recipe(recipe_dict(filters={"grounding": False}))
    assert recipe.filters.grounding.enabled is False and recipe.filters.grounding.mode == "abstractive"
    state = FilterState(task="qa")
    c = _qa(task_for("qa"), {"a#0": DOCS["router.md"]}, "a#0", "Q?", UNGROUNDED)
    apply_filters([c], state, recipe.filters)
    assert c.alive


def test_qa_without_documents_notes_that_grounding_was_skipped():
    recipe = load_recipe(recipe_dict(task="qa", categories=[{"name": "warranty"}]))
    state = FilterState(task="qa")
    data = {"question": "How long is the warranty?", "answer": "Two years.", "context": "", "topic": "warranty"}
    c = Candidate(data=data, text="How long is the warranty?\nTwo years.", category="warranty", slot_id="s")
    apply_filters([c], state, recipe.filters)
    assert c.alive and any(re.search("grounding filter skipped", n) for n in state.notes)


def test_a_passages_questions_focus_on_different_sentences(tmp_path):
    """Each chunk's slots name its sentences in turn, so its questions do not all ask about the opening."""
    engine = WriterEngine(lambda prompt, schema: dict(zip(("question", "answer"), GROUNDED[_doc_of(prompt)])))
    synthwright.run(qa_recipe(tmp_path, count={"per_category": 2}, few_shot=3), out=tmp_path / "run", engine=engine)
    by_doc = defaultdict(set)
    for prompt in engine.prompts:
        doc = _doc_of(prompt)
        by_doc[doc] |= {s for s in re.split(r"(?<=[.])\s+", DOCS[doc]) if f'"{s}' in prompt}
    assert all(len(found) == 2 for found in by_doc.values()) and len(by_doc) == len(DOCS), dict(by_doc)
    assert not any("Other questions" in p for p in engine.prompts)  # a small teacher copies the passage's others
    assert focus_points("press the power button twice.\n\n# Setting up\n\nPlug it in.\nThe light turns blue when the"
                        " router is online.") == ["The light turns blue when the router is online."]


def test_a_blank_question_is_a_parse_failure_not_an_empty_sample():
    parsed, reason = parse_into(QASample, '{"question": "  \\n ", "answer": "Two years."}', "stop")
    assert parsed is None and "question" in reason
    parsed, _ = parse_into(QASample, '{"question": " How long? ", "answer": "Two years."}', "stop")
    assert parsed.question == "How long?"


def test_a_question_that_tfidf_places_right_is_answerable_where_minilm_does_not():
    """MiniLM ranks the router passage second for this question, TF-IDF first ('ten seconds' is the router's)."""
    question, answer = "What happens after ten seconds?", "The factory settings are restored."
    verdicts = {}
    for lexical in (True, False):
        recipe = load_recipe(recipe_dict(filters={"grounding": {"answerable_lexical": lexical}}))
        state = FilterState(task="qa", extra={"chunks": dict(DOCS)})
        c = _qa(task_for("qa"), DOCS, "router.md", question, answer)
        apply_filters([c], state, recipe.filters)
        verdicts[lexical] = (c.filter, c.reason, c.features.get("chunk_rank"), c.features.get("chunk_rank_lexical"))
    assert verdicts[True][0] is None and verdicts[True][2:] == (2, 1), verdicts
    assert verdicts[False][0] == "answerable" and "ranks 2 of 3 chunks by MiniLM" in verdicts[False][1], verdicts


def test_a_statement_or_a_copied_sentence_is_not_a_question():
    recipe = load_recipe(recipe_dict())
    state = FilterState(task="qa", extra={"chunks": dict(DOCS)})
    task = task_for("qa")
    statement = _qa(task, DOCS, "warranty.md", "The warranty covers hardware faults from the date of purchase.",
                    "Two years.")
    copied = _qa(task, DOCS, "billing.md", "Invoices are sent by email on the first day of each month, are they?",
                 "Yes, by email.")
    asked = _qa(task, DOCS, "billing.md", "On which day of the month do invoices arrive?", "On the first day.")
    apply_filters([statement, copied, asked], state, recipe.filters)
    assert (statement.filter, statement.reason) == ("answerable", "the question is a statement, not a question")
    assert (copied.filter, copied.reason) == ("answerable", "the question copies a sentence of its passage")
    assert asked.alive, asked.reason
