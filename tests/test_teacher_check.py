"""The teacher check: after the first samples, a teacher that mostly fails its own checks is named in one sentence,
and the closing summary repeats it; a teacher that does well, or failures that are not the teacher's, say nothing."""

from __future__ import annotations

import pytest

import synthwright
from synthwright.cli.summary import print_summary
from synthwright.core.store import RunStore
from synthwright.make.teacher_check import MIN_SAMPLES, verdict

from .scripted import ScriptedEngine, recipe_dict

AGENT_VOICE = ["I'm sorry to hear that, I'll block your card right away.",
               "Sure, I'd be happy to help! Can you please provide more details?",
               "Thank you for contacting us, our team will look into your refund.",
               "I understand your concern, let me check that for you.",
               "Hello, I hope this message finds you well. How can I assist you today?",
               "I apologize for the inconvenience, I have escalated your case."]


def test_too_few_samples_tell_nothing():
    assert verdict({"role": MIN_SAMPLES - 1}, "tiny") is None


def test_a_teacher_that_mostly_fails_its_own_checks_is_named_with_the_numbers():
    result = verdict({"accepted": 2, "role": 5, "parse": 2, "label_fidelity": 1, "exact_duplicate": 2}, "hf:small/model")
    assert result["weak"] and result["generated"] == 12 and result["failed"] == {"role": 5, "parse": 2, "label_fidelity": 1}
    assert result["message"].startswith("The teacher hf:small/model looks too weak for this recipe: 8 of its first 12"
                                        " samples failed its own checks (5 spoke as the agent or a narrator; 2 did not"
                                        " parse; 1 read as no label or another) and 2 were accepted")
    assert "qwen2.5-coder-1.5b" in result["message"] and "--teacher openai:gpt-4o-mini" in result["message"]
    assert "reject_other_label" not in result["message"]
    fates = {"accepted": 2, "role": 5, "parse": 2, "label_fidelity": 1, "exact_duplicate": 2}
    assert "reject_other_label: true" in verdict(fates, "t", stricter_gate="suggest")["message"]
    assert "(reject_other_label: auto)" in verdict(fates, "t", stricter_gate="auto")["message"]


def test_room_and_repeats_are_not_the_teachers_fault():
    result = verdict({"accepted": 3, "quota": 4, "exact_duplicate": 3, "near_duplicate": 2, "role": 1}, "t")
    assert not result["weak"] and result["message"] is None


def test_a_run_of_a_weak_teacher_says_so_and_the_summary_repeats_it(tmp_path, capsys):
    texts = {"lost_card": AGENT_VOICE + ["i lost my card at the station"],
             "refund": list(reversed(AGENT_VOICE)) + ["the shop still has not refunded me"]}
    recipe = recipe_dict(count={"per_category": 4}, filters={"language": False, "label_fidelity": False})
    engine = ScriptedEngine(texts)
    result = synthwright.run(recipe, out=tmp_path / "run", engine=engine)
    check = result.stats["teacher_check"]
    assert check["weak"] and check["failed"]["role"] >= MIN_SAMPLES // 2
    assert check["message"].startswith("The teacher scripted looks too weak for this recipe")
    print_summary(result)
    assert "The teacher scripted looks too weak" in capsys.readouterr().out
    again = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    assert again.stats["teacher_check"] == check  # decided once, from the first samples


def test_a_teacher_that_writes_the_data_passes(tmp_path):
    texts = {"lost_card": [f"i lost my debit card somewhere in town {i}" for i in "abcdefgh"],
             "refund": [f"the shop still has not refunded my order number {i}" for i in "abcdefgh"]}
    recipe = recipe_dict(count={"per_category": 4}, filters={"language": False, "label_fidelity": False,
                                                             "near_duplicates": {"enabled": False}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    assert result.stats["teacher_check"]["weak"] is False and result.stats["teacher_check"]["message"] is None


OTHER_LABEL = "the shop promised a refund last week and it has still not arrived"  # written for lost_card


@pytest.mark.parametrize("setting", ["auto", False])
def test_a_weak_teacher_turns_on_the_stricter_label_gate_and_its_earlier_samples_are_checked_again(tmp_path, setting):
    texts = {"lost_card": [OTHER_LABEL, *AGENT_VOICE[:3], "i lost my card on the bus this morning",
                           "my debit card is gone, i think i dropped it at the gym", "cannot find my card anywhere",
                           "i left my card in a taxi last night"],
             "refund": [*AGENT_VOICE[3:], "the shop still has not refunded my order", "where is the refund for my shoes",
                        "my refund from the airline never came", "still waiting on the money the store owes me back"]}
    recipe = recipe_dict(count={"per_category": 2}, budget={"max_rounds": 3},
                         filters={"language": False, "near_duplicates": {"enabled": False},
                                  "label_fidelity": {"reject_other_label": setting}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    check = result.stats["teacher_check"]
    assert check["weak"]
    kept = {r["text"] for split in result.dataset.values() for r in split}
    store = RunStore(tmp_path / "run" / "run.sqlite")
    fate = {s["data"].get("text"): s["filter"] for s in store.samples()}
    store.close()
    if setting == "auto":
        assert "(reject_other_label: auto)" in check["message"]
        assert OTHER_LABEL not in kept and fate[OTHER_LABEL] == "label_fidelity", fate
        assert len(kept) == 4  # its slot was filled again
    else:
        assert "reject_other_label: true (or auto)" in check["message"]
        assert OTHER_LABEL in kept


REFUND_TALK = ["where is the refund for my cancelled order", "the shop has not refunded me yet",
               "i returned the shoes and the store still owes me the money", "my refund from the airline never arrived"]
LOST_CARD_TALK = ["i lost my card on the bus this morning", "my debit card is gone, i think i dropped it at the gym",
                  "cannot find my card anywhere", "i left my card in a taxi last night"]


def test_samples_that_pass_every_check_but_read_as_another_label_make_a_teacher_weak(tmp_path):
    texts = {"lost_card": REFUND_TALK + LOST_CARD_TALK,
             "refund": ["still waiting on the money the store owes me back", "the refund for my parcel has not come through",
                        "they promised my money back two weeks ago", "when will the merchant credit my refund"]}
    recipe = recipe_dict(count={"per_category": 4}, budget={"max_rounds": 3},
                         filters={"language": False, "near_duplicates": {"enabled": False}})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    check = result.stats["teacher_check"]
    assert check["weak"] and check["failed"] == {"other_label": 4} and check["accepted"] == 4
    assert "4 read as another label" in check["message"] and "(reject_other_label: auto)" in check["message"]
    kept = [r for split in result.dataset.values() for r in split]
    assert {r["text"] for r in kept if r["label"] == "lost_card"} == set(LOST_CARD_TALK)


def test_a_teacher_whose_samples_read_as_their_own_label_is_not_held_to_the_stricter_gate(tmp_path):
    texts = {"lost_card": LOST_CARD_TALK * 2, "refund": REFUND_TALK * 2}
    recipe = recipe_dict(count={"per_category": 4}, filters={"language": False, "near_duplicates": {"enabled": False},
                                                             "exact_duplicates": False})
    result = synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    check = result.stats["teacher_check"]
    assert not check["weak"] and "other_label" not in check["failed"]
