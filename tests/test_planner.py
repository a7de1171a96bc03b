"""The planner drops what would make the executor restate or reply: scenarios that only restate their label and
personas who answer the messages; built-in fallbacks fill in, and the plan's notes say so."""

from __future__ import annotations

import json

from synthwright.agents.planner import make_plan, replier, restatement
from synthwright.engines import ChatRequest, Engine, Generation
from synthwright.recipe.load import load_recipe

from .scripted import recipe_dict

SCENARIOS = {"lost_card": ["A banking request: lost card", "Lost cards", "left it in a taxi after a late dinner",
                           "dropped it on the bus to work", "the card was lost"],
             "refund": ["Refund", "a refund has not arrived", "returned a jacket three weeks ago",
                        "the airline cancelled the flight in May", "refund not arrived"]}
PERSONAS = ["AI Personal Assistant", "a customer service representative", "a chatbot", "a nurse on night shifts",
            "Alice, a software engineer who works on AI", "Voice assistant", "a retired farmer", "a bot",
            "a student", "a taxi driver"]


class PhraseEngine(Engine):
    """Answers each scenario request with the next scripted phrase for the label its prompt names."""

    spec = "phrases"
    batch_size = 8

    def __init__(self):
        self.scenarios = {k: list(v) for k, v in SCENARIOS.items()}
        self.personas = list(PERSONAS)

    def generate(self, requests: list[ChatRequest], *, schema=None, sampling=None) -> list[Generation]:
        out = []
        for r in requests:
            field = next(iter(schema.model_fields))
            prompt = r.messages[-1]["content"]
            if field == "person":
                phrase = self.personas.pop(0)
            else:
                label = "lost_card" if "The card was lost." in prompt else "refund"
                if not self.scenarios[label]:
                    out.append(Generation(text="", error="script exhausted", finish_reason="error"))
                    continue
                phrase = self.scenarios[label].pop(0)
            text = json.dumps({field: phrase})
            out.append(Generation(text=text, parsed=schema.model_validate({field: phrase}), prompt_tokens=10,
                                  completion_tokens=5, seconds=0.001))
        return out


def test_a_scenario_that_only_restates_its_label_names_no_situation():
    restates = restatement("lost_card The card was lost. Messages to a bank's support chat.")
    assert restates("A banking request: lost card") is False  # "banking", "request" are not the recipe's words
    assert restates("Lost cards") and restates("the card was lost") and restates("Card lost, support chat")
    assert not restates("left it in a taxi after a late dinner")


def test_a_persona_who_answers_the_messages_is_not_one_who_writes_them():
    assert all(replier(p) for p in ("AI Personal Assistant", "a customer service representative", "a chatbot",
                                    "Voice assistant", "an AI", "a support agent at a bank"))
    assert not any(replier(p) for p in ("a nurse on night shifts", "Alice, a software engineer who works on AI",
                                        "a retired farmer", "an insurance agent"))


def test_the_plan_keeps_situations_and_writers_and_fills_in_the_rest():
    recipe = load_recipe(recipe_dict(axes={"personas": "auto", "auto_personas": 5, "scenarios_per_category": 2}))
    plan, _ = make_plan(recipe, PhraseEngine())
    scenarios = {c["name"]: c["scenarios"] for c in plan["categories"]}
    assert scenarios["lost_card"] == ["A banking request: lost card", "left it in a taxi after a late dinner"]
    assert scenarios["refund"] == ["returned a jacket three weeks ago", "the airline cancelled the flight in May"]
    assert plan["personas"] == ["a nurse on night shifts", "Alice, a software engineer who works on AI",
                                "a retired farmer", "a student", "a taxi driver"]
    recipe = load_recipe(recipe_dict(axes={"personas": "auto", "auto_personas": 5, "scenarios_per_category": 3}))
    plan, _ = make_plan(recipe, PhraseEngine())
    assert any("'refund': 2 of 3 scenarios from the model" in n for n in plan["notes"]), plan["notes"]
