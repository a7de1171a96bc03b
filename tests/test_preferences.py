"""Preference pairs from a real run of the tiny model, a DPO round on them, and the self-rewarding loop."""

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.engines import ChatRequest, Sampling, load_engine
from synthwright.finetune import DistillConfig
from synthwright.finetune.dpo import train_dpo
from synthwright.finetune.preferences import NOT_WORSE, build_preferences, preferences

from .distill_helpers import distill_base, one_thread, teacher_recipe  # noqa: F401 (fixtures)

DPO_CONFIG = dict(max_steps=3, batch_size=4, learning_rate=1e-2, warmup_ratio=0.0, dtype="float32", seed=0)


@pytest.fixture(scope="module")
def tiny_run(distill_base, tmp_path_factory) -> Path:
    """A run of the tiny model whose length filter rejects a good share of what it writes."""
    out = tmp_path_factory.mktemp("pref") / "run"
    recipe = teacher_recipe(distill_base, count={"per_category": 6}, budget={"max_rounds": 4},
                            filters={"min_chars": 3, "max_chars": 22, "label_fidelity": False})
    with one_thread():
        synthwright.run(recipe, out=out)
    return out


@pytest.fixture(scope="module")
def pairs_dir(tiny_run) -> Path:
    folder = tiny_run.parent / "pairs"
    preferences(tiny_run, folder)
    return folder


def test_pairs_of_a_tiny_run_match_its_store(tiny_run, pairs_dir):
    db = sqlite3.connect(tiny_run / "run.sqlite")
    samples = {r[0]: r[1:] for r in db.execute(
        "SELECT s.sample_id, s.slot_id, s.status, s.filter, s.reason, c.request FROM samples s JOIN calls c"
        " USING (call_id) WHERE c.phase = 'executor'")}
    with_accepted = {slot for slot, status, *_ in samples.values() if status == "accepted"}
    eligible = [i for i, (slot, status, fate, *_) in samples.items()
                if status == "rejected" and fate not in NOT_WORSE | {"parse", "pii"} and slot in with_accepted]
    rows = [json.loads(line) for line in (pairs_dir / "train.jsonl").read_text().splitlines()]
    assert eligible and len(rows) == len(eligible)  # one pair per rejected sample with an accepted sibling
    assert sorted(r["rejected_id"] for r in rows) == sorted(eligible)
    for r in rows:
        chosen, rejected = samples[r["chosen_id"]], samples[r["rejected_id"]]
        assert chosen[0] == rejected[0] == r["slot_id"]  # same slot
        assert chosen[1] == "accepted" and rejected[1] == "rejected"
        assert (r["rejected_filter"], r["rejected_reason"]) == (rejected[2], rejected[3]) and r["rejected_reason"]
        assert r["prompt"] == json.loads(rejected[4])["messages"]  # the exact executor request
        assert r["chosen"][0]["role"] == r["rejected"][0]["role"] == "assistant"
        assert json.loads(r["chosen"][0]["content"])["text"] and r["chosen"] != r["rejected"]
    meta = json.loads((pairs_dir / "preferences.json").read_text())
    assert meta["pairs"] == len(rows) and sum(meta["reasons"].values()) == len(rows)
    card = (pairs_dir / "README.md").read_text()
    assert f"{len(rows)} pairs" in card and "| length |" in card

    from datasets import load_dataset
    from trl.data_utils import is_conversational

    loaded = load_dataset("json", data_files=str(pairs_dir / "train.jsonl"), split="train")
    assert len(loaded) == len(rows) and is_conversational(loaded[0])


def test_a_sample_set_aside_for_a_full_slot_passed_the_evaluators(tiny_run, tmp_path):
    from synthwright.finetune.dpo_loop import acceptance

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = acceptance(run)
    assert before["calls"] > 0 and before["accepted"] > 0 and before["passed"] >= before["accepted"]
    db = sqlite3.connect(run / "run.sqlite")
    failed = [i for (i,) in db.execute("SELECT sample_id FROM samples WHERE filter = 'length' LIMIT 2")]
    assert len(failed) == 2
    db.executemany("UPDATE samples SET filter = 'quota' WHERE sample_id = ?", [(i,) for i in failed])
    db.commit()
    db.close()
    after = acceptance(run)
    assert after["accepted"] == before["accepted"] and after["rate"] == before["rate"]
    assert after["passed"] == before["passed"] + 2 and after["pass_rate"] == after["passed"] / after["calls"]


def test_export_with_preferences_carries_the_same_pairs(tiny_run, pairs_dir, tmp_path):
    result = CliRunner().invoke(app, ["export", str(tiny_run), "--to", str(tmp_path / "hub"), "--preferences"])
    assert result.exit_code == 0, result.output
    exported = (tmp_path / "hub" / "preferences" / "train.jsonl").read_text()
    assert exported == (pairs_dir / "train.jsonl").read_text() and (tmp_path / "hub" / "data").is_dir()


def test_parse_failures_only_when_asked(tiny_run):
    without = build_preferences(tiny_run)
    with_parse = build_preferences(tiny_run, include_parse=True)
    assert "parse" not in without.reasons
    assert len(with_parse.pairs) == len(without.pairs) + with_parse.reasons.get("parse", 0)
    assert without.left_out.get("parse", 0) >= with_parse.reasons.get("parse", 0)


def test_a_dpo_round_moves_the_weights_and_stays_an_engine(distill_base, pairs_dir, tmp_path):
    with one_thread():
        done = train_dpo(str(distill_base), pairs_dir, tmp_path / "dpo", DistillConfig(**DPO_CONFIG))
    out = done.out_dir
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert adapter and all(v.abs().max() > 0 for k, v in adapter.items() if "lora_B" in k)  # B starts at zero
    reference = load_file(str(out / "reference" / "model.safetensors"))
    base = load_file(str(distill_base / "model.safetensors"))
    assert all(reference[k].equal(v) for k, v in base.items() if k in reference)  # the reference is the policy as it was
    assert done.metrics["steps"] == 3 and done.metrics["final_loss"] < done.metrics["first_loss"]
    manifest = json.loads((out / "student.json").read_text())
    assert manifest["method"] == "dpo" and manifest["base"] == str(distill_base)
    assert [r["pair_count"] for r in manifest["rounds"]] == [done.metrics["pairs"]]
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str((out / "reference").resolve())

    request = [ChatRequest(messages=json.loads((pairs_dir / "train.jsonl").read_text().splitlines()[0])["prompt"])]
    greedy = Sampling(temperature=0.0, max_new_tokens=12)
    with one_thread():
        refined = load_engine(str(out), dtype="float32")
        scores = refined.model(**refined.tokenizer("a card", return_tensors="pt")).logits
        assert refined.generate(request, sampling=greedy)[0].text
        before = load_engine(str(out / "reference"), dtype="float32")
        assert not before.model(**before.tokenizer("a card", return_tensors="pt")).logits.allclose(scores)


def test_run_to_pairs_to_dpo_student_in_two_commands(tiny_run, distill_base, tmp_path):
    runner = CliRunner()
    made = runner.invoke(app, ["preferences", str(tiny_run), "--out", str(tmp_path / "pairs")])
    assert made.exit_code == 0 and re.search(r"wrote \d+ pairs \(.*\blength \d+", made.output), made.output
    with one_thread():
        trained = runner.invoke(app, ["distill", str(tiny_run), "--method", "dpo", "--student", str(distill_base),
                                      "--pairs", str(tmp_path / "pairs"), "--max-steps", "2", "--batch-size", "4",
                                      "--dtype", "float32", "--out", str(tmp_path / "dpo")])
    assert trained.exit_code == 0, trained.output
    assert "DPO student written" in trained.output and (tmp_path / "dpo" / "adapter_model.safetensors").is_file()
    again = runner.invoke(app, ["preferences", str(tiny_run), "--out", str(tmp_path / "pairs")])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_two_rounds_each_learn_from_the_previous_students_own_run(tiny_run, distill_base, tmp_path):
    from synthwright.finetune.dpo_loop import refine_with_dpo

    with one_thread():
        done = refine_with_dpo(tiny_run, str(distill_base), tmp_path / "dpo", DistillConfig(**{**DPO_CONFIG, "max_steps": 2}),
                               rounds=2)
    first, second = done.rounds
    assert first["policy"] == str(distill_base) and second["policy"] == str(tmp_path / "dpo.rounds" / "round-1" / "student")
    for r in done.rounds:
        run = json.loads((Path(r["run"]) / "plan.json").read_text())
        assert len(run["slot_list"]) == len(json.loads((tiny_run / "plan.json").read_text())["slot_list"])  # the teacher's plan
        assert r["run_acceptance"]["calls"] > 0 and r["pair_count"] == json.loads(
            (Path(r["pairs"]) / "preferences.json").read_text())["pairs"]
        engines = {json.loads(e)["spec"] for (e,) in sqlite3.connect(Path(r["run"]) / "run.sqlite").execute(
            "SELECT engine FROM calls WHERE phase = 'executor'")}
        assert engines == {r["policy"]}  # each round's pairs were written by the policy it trains
    manifest = json.loads((tmp_path / "dpo" / "student.json").read_text())
    assert [r["round"] for r in manifest["rounds"]] == [1, 2] and manifest["base"] == str(distill_base)
    from synthwright.finetune import compare_runs

    report = compare_runs(first["run"], second["run"], out=tmp_path / "compare")
    assert report.data["labels"] == ["teacher", "DPO student"] and "| metric | teacher | DPO student |" in report.markdown_table()
    reference = tmp_path / "dpo" / "reference"
    assert json.loads((tmp_path / "dpo" / "adapter_config.json").read_text())["base_model_name_or_path"] == str(reference.resolve())


def test_a_student_on_another_base_is_refused(pairs_dir, tiny_run, tmp_path):
    from synthwright.testing import build_tiny_chat_model

    other = build_tiny_chat_model(tmp_path / "other", seed=3)
    result = CliRunner().invoke(app, ["distill", str(tiny_run), "--method", "dpo", "--student", str(other),
                                      "--pairs", str(pairs_dir), "--out", str(tmp_path / "dpo")])
    assert result.exit_code == 2 and "does not match the pairs" in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3
    assert not (tmp_path / "dpo").exists()
    with pytest.raises(ConfigError, match="not a preference set"):
        train_dpo(str(other), tmp_path, tmp_path / "dpo")


@pytest.mark.parametrize("mode", ["redact", "reject"])
def test_the_pii_canary_never_appears_in_a_pair(mode, tmp_path, monkeypatch):
    from .scripted import ScriptedEngine, recipe_dict

    monkeypatch.setenv("SYNTHWRIGHT_EMBEDDER", "tfidf")
    monkeypatch.delenv("SYNTHWRIGHT_CACHE", raising=False)  # each mode's scripted answers, not the other's cached ones
    canary = "canary.q7x3@example.org"
    # 1: too long, rejected by `length` before the PII filter saw it (its stored text holds the canary);
    # 2: short enough: the PII filter redacts (accepted) or rejects it; 4: an exact duplicate of 3.
    texts = {"lost_card": [f"I lost my debit card on the bus this morning and it has not turned up anywhere since, so please write to {canary}",
                           f"Somebody took my wallet with the card, mail {canary}",
                           "My card fell out of my pocket at the station and I need it blocked now",
                           "My card fell out of my pocket at the station and I need it blocked now",
                           "I cannot find my card anywhere since the party last night"],
             "refund": ["The refund for my returned shoes never came and it is now more than four weeks later than you promised",
                        "I sent the broken kettle back a month ago and still have no money back",
                        "Why has the refund for my cancelled hotel booking not reached my account",
                        "Where is my refund for the lamp"]}
    recipe = recipe_dict(filters={"pii": {"mode": mode}, "label_noise": {"mode": "off"}, "max_chars": 90},
                         budget={"max_rounds": 3})
    synthwright.run(recipe, out=tmp_path / "run", engine=ScriptedEngine(texts))
    assert canary in (tmp_path / "run" / "run.sqlite").read_bytes().decode("utf-8", "replace")
    prefs = preferences(tmp_path / "run", tmp_path / "pairs", include_parse=True)
    if mode == "redact":
        assert prefs.reasons == {"length": 2, "exact_duplicate": 1}
        assert sum(p.redacted for p in prefs.pairs) == 1 and any("[EMAIL]" in p.rejected for p in prefs.pairs)
    else:
        assert prefs.reasons == {"length": 1, "exact_duplicate": 1}
        assert prefs.left_out["pii"] == 1 and prefs.left_out["pii_unredacted"] == 1
    for path in (tmp_path / "pairs").rglob("*"):
        assert canary.encode() not in path.read_bytes(), path


def test_bad_method_rounds_and_output_are_one_sentence(tiny_run, distill_base, tmp_path):
    runner = CliRunner()
    for args, message in ((["--method", "ppo"], "--method must be sft or dpo"),
                          (["--method", "dpo", "--rounds", "0"], "--rounds must be at least 1")):
        result = runner.invoke(app, ["distill", str(tiny_run), "--student", str(distill_base), *args,
                                     "--out", str(tmp_path / "dpo")])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["distill", str(tiny_run), "--method", "dpo", "--student", str(distill_base),
                                 "--out", str(tmp_path / "mine")])
    assert result.exit_code == 2 and "is not a student" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and not (tmp_path / "mine.rounds").exists()
    result = runner.invoke(app, ["preferences", str(tmp_path / "nope"), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and "does not exist" in result.output
