"""Goal-following dialogue: role swaps, off-goal talk, meta turns and turn bounds, each caught with its reason; the
quality loop re-plans dialogues that read like another goal."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import synthwright
from synthwright.core.store import RunStore
from synthwright.evaluators.filters import Candidate, FilterState, apply_filters
from synthwright.recipe.load import load_recipe
from synthwright.tasks import task_for

from .scripted import WriterEngine, recipe_dict

REPO = Path(__file__).resolve().parent.parent
GOALS = {"track_order": "The customer wants to know where their order is.",
         "return_item": "The customer wants to return an item and get a refund."}
_GOAL = re.compile(r"The user's goal: (.+?)\. Situation")

GOOD = {
    "track_order": ["Hi, my order 4411 should have arrived on Monday but it is not here yet. Where is my parcel now?",
                    "I checked: your parcel left our warehouse on Friday and is with the courier.",
                    "When will the delivery of my order reach me?", "The courier expects to deliver it tomorrow morning."],
    "return_item": ["I bought a jacket that does not fit and I want to send it back for a refund.",
                    "Of course. Print the free return label from your account and drop the parcel at any post office.",
                    "How soon do I get my refund for the returned jacket?",
                    "The refund reaches your card within five days after the jacket arrives back."],
}
BAD = {
    "role_swap": ["How can I help you with your order today?", "Where is my order? It has not arrived.",
                  "Let me check the tracking.", "Thanks."],
    "off_goal": ["Hello! I am excited to try your new fitness routine for you!", "Great, which exercise would you like?",
                 "I want to start with some stretching and yoga.", "Start with ten minutes of stretching every morning."],
    "meta": ["Hi, order 4411 has not arrived yet. Where is it?", "It left the warehouse on Friday.",
             "When will it come?", "It arrives tomorrow. End of conversation."],
    "placeholder": ["Hi, this is [Customer Name], my order 4411 is late. Where is it?", "It arrives tomorrow.",
                    "Where is my parcel now?", "It is at the local depot."],
}
EXPECTED = {"role_swap": ("dialogue_role", "speaks as the support agent"), "off_goal": ("off_goal", "hardly talks about"),
            "meta": ("dialogue_meta", "talks about the task"), "placeholder": ("placeholder", "[Customer Name]")}


def exchanges(turns: list[str]) -> dict:
    return {"exchanges": [{"user": u, "assistant": a} for u, a in zip(turns[::2], turns[1::2])]}


def goal_of(prompt: str) -> str:
    found = _GOAL.search(prompt).group(1).strip()
    return next(k for k, v in GOALS.items() if v.rstrip(".") == found.rstrip("."))


def dialogue_recipe(**overrides) -> dict:
    return {**recipe_dict(task="dialogue", description="Chat conversations between customers of an online shop and its support agents.",
                          categories=[{"name": k, "description": v} for k, v in GOALS.items()],
                          roles={"user": "customer", "assistant": "support agent"}, turns={"min": 4, "max": 6},
                          count={"per_category": 1 + len(BAD)}), **overrides}


def test_each_bad_dialogue_kind_is_rejected_with_its_reason(tmp_path):
    kinds = ["good", *BAD]
    seen: dict[str, int] = defaultdict(int)

    def write(prompt: str, schema: str) -> dict:
        goal = goal_of(prompt)
        kind = kinds[seen[goal] % len(kinds)]
        seen[goal] += 1
        return exchanges(GOOD[goal] if kind == "good" else BAD[kind])

    result = synthwright.run(dialogue_recipe(), out=tmp_path / "run", engine=WriterEngine(write))
    store = RunStore(tmp_path / "run" / "run.sqlite")
    samples = store.samples()
    store.close()
    got = defaultdict(list)
    for s in samples:
        first = s["data"]["turns"][0]["content"]
        kind = next((k for k, v in BAD.items() if v[0] == first), "good")
        got[kind].append((s["filter"], s["reason"]))
    assert all(f is None for f, _ in got["good"]) and len(got["good"]) == 2
    for kind, (name, words) in EXPECTED.items():
        assert got[kind] and all(f == name and words in r for f, r in got[kind]), (kind, got[kind])
    assert result.stats["accepted"] == 2
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Goal and roles" in report and "| accepted | 2 | 100% |" in report


def _dialogue(task, turns, goal):
    data = {"turns": [{"role": r, "content": t} for r, t in zip(["user", "assistant"] * 6, turns)], "intent": goal}
    return Candidate(data=data, text=task.text_of(data), category=goal, slot_id="s")


def test_turn_bounds_agent_in_customer_voice_and_speaker_labels():
    recipe = load_recipe(dialogue_recipe())
    task = task_for("dialogue")
    state = FilterState.for_run(recipe, task, [], set(), [])
    short = _dialogue(task, GOOD["track_order"][:2], "track_order")
    agent_as_customer = _dialogue(task, [GOOD["track_order"][0], "Where is my order? I ordered it last week."]
                                  + GOOD["track_order"][2:], "track_order")
    both_sides = _dialogue(task, [GOOD["track_order"][0] + "\nAgent: It is on its way.", *GOOD["track_order"][1:]], "track_order")
    echo = _dialogue(task, [GOOD["track_order"][0], GOOD["track_order"][1], GOOD["track_order"][1], GOOD["track_order"][3]],
                     "track_order")
    good = _dialogue(task, GOOD["return_item"], "return_item")
    apply_filters([short, agent_as_customer, both_sides, echo, good], state, recipe.filters)
    assert (short.filter, short.reason) == ("dialogue_turns", "2 messages, outside turns min 4 .. max 6")
    assert agent_as_customer.filter == "dialogue_role" and "support agent speaks as the customer" in agent_as_customer.reason
    assert both_sides.filter == "dialogue_role" and "speaker label" in both_sides.reason
    assert echo.filter == "dialogue_role" and "repeats the message before it" in echo.reason
    assert good.alive, good.reason


def test_a_dialogue_about_the_other_goal_is_off_goal():
    recipe = load_recipe(dialogue_recipe())
    task = task_for("dialogue")
    state = FilterState.for_run(recipe, task, [], set(), [])
    swapped = _dialogue(task, GOOD["return_item"], "track_order")
    apply_filters([swapped], state, recipe.filters)
    assert swapped.filter == "off_goal" and "talks about 'return_item'" in swapped.reason


def test_the_issues_dialogue_example_is_rejected_with_the_default_recipe():
    recipe = load_recipe(REPO / "recipes" / "support-dialogue.yaml")
    task = task_for("dialogue")
    state = FilterState.for_run(recipe, task, [], set(), [])
    issue = _dialogue(task, ["Hello! I am excited to try your new fitness routine for you!",
                             "Great! Which part of the routine would you like to start with?",
                             "I would like to start with the morning exercises.",
                             "Start with ten minutes of stretching, then a short run."], "track_order")
    apply_filters([issue], state, recipe.filters)
    assert issue.filter == "off_goal", (issue.filter, issue.reason)


def test_quality_loop_replans_dialogues_that_read_like_another_goal(tmp_path):
    """The goal check is loosened so confused dialogues get in; the loop's classifier (on the user messages) finds them
    and re-plans contrastive requests, which this teacher then writes on goal."""
    n = defaultdict(int)

    def write(prompt: str, schema: str) -> dict:
        goal = goal_of(prompt)
        n[goal] += 1
        contrastive = "talks only about this goal" in prompt
        if goal == "track_order" and not contrastive and n[goal] % 2 == 0:
            turns = list(GOOD["return_item"])  # a weak teacher: half its tracking dialogues are about a return
        else:
            turns = list(GOOD[goal])
        turns[0] = f"{turns[0]} (case {n[goal]})"
        return exchanges(turns)

    recipe = dialogue_recipe(count={"per_category": 10}, budget={"max_rounds": 2},
                             filters={"dialogue": {"goal_margin": -1.0, "goal_min_similarity": -1.0},
                                      "near_duplicates": False, "language": False},
                             quality={"enabled": True, "max_steps": 2, "replace_confidence": 0.5, "cv_sets_aside": True})
    engine = WriterEngine(write)
    synthwright.run(recipe, out=tmp_path / "run", engine=engine)
    store = RunStore(tmp_path / "run" / "run.sqlite")
    steps = store.loop_steps()
    store.close()
    first = steps[0].decision
    assert first.action == "replan" and first.replaced > 0, first
    assert ["track_order", "return_item"] in first.contrast_pairs
    assert any('nobody could take the conversation for this other one: "The customer wants to return an item and get a refund"'
               in p for p in engine.prompts)
    assert steps[-1].signal["score"] > steps[0].signal["score"]
