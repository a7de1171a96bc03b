"""Instruction data end to end: self_instruct, evol_instruct and magpie from a recipe, on a scripted engine and the
tiny model; the novelty index; resume after kill -9; the messages column in TRL's SFT data path."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthwright import run
from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore
from synthwright.evaluators.novelty import NoveltyIndex, rouge_l, rouge_tokens

from .instruction_engine import SEED_TASKS, InstructionEngine, instruction_recipe

ROOT = Path(__file__).resolve().parent.parent


def stored(out: Path) -> list[dict]:
    store = RunStore(out / "run.sqlite")
    try:
        return store.samples()
    finally:
        store.close()


def test_rouge_l_is_twice_the_lcs_over_both_lengths():
    a, b = rouge_tokens("Write a short poem about the sea."), rouge_tokens("write a poem about the blue sea")
    # LCS: write a poem about the sea (6); lengths 7 and 7
    assert rouge_l(a, b) == pytest.approx(2 * 6 / 14)


def test_novelty_index_finds_exactly_what_a_full_scan_finds():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)]
    index = NoveltyIndex(0.6, probe_limit=None, verify_limit=None)
    for i in range(1500):
        text = " ".join(rng.choices(words, k=rng.randint(1, 14)))
        if i % 2:
            index.nearest(text)  # add() reuses the tokens of the query just made
        index.add(text)
    scored = 0
    for _ in range(300):
        q = " ".join(rng.choices(words, k=rng.randint(1, 14)))
        before = index.compared
        fast = index.nearest(q)
        scored += index.compared - before
        full = index.nearest(q, exact=True)
        assert (fast.score >= 0.6) == (full.score >= 0.6)
        if full.score >= 0.6:
            assert fast.score == full.score
    assert scored < 300 * 1500 / 10  # the pre-filters skipped most of the work


def test_probe_limit_bounds_the_work_of_a_query_and_counts_it():
    index = NoveltyIndex(0.7, probe_limit=10)
    for i in range(50):
        index.add(f"write a poem about the sea number {i}")
    assert index.nearest("write a poem about the sea number 7").score == 1.0  # read before the limit: found
    index.nearest("write a poem about the sea and the sky")
    assert index.cut >= 1


def test_verify_limit_scores_the_candidates_sharing_most_and_counts_it():
    index = NoveltyIndex(0.7, probe_limit=None, verify_limit=5)
    for i in range(40):
        index.add(f"write a long poem about the calm sea at night {i}")
    before = index.compared
    m = index.nearest("write a long poem about the calm sea at dawn")
    assert m.score == pytest.approx(2 * 9 / 21, abs=1e-4) and m.text.startswith("write a long poem about the calm sea at night")
    assert index.compared - before == 5 and index.capped == 1


def test_self_instruct_counts_and_novelty_rejections(tmp_path):
    engine = InstructionEngine(copy_every=3)
    result = run(instruction_recipe("self_instruct"), out=tmp_path, engine=engine)
    assert result.stats["accepted"] == 10 and result.stats["shortfall"] == 0
    samples = stored(tmp_path)
    novelty = [s for s in samples if s["filter"] == "novelty"]
    assert novelty and all("ROUGE-L" in s["reason"] and "threshold 0.7" in s["reason"] for s in novelty)
    shown = {t.lower().rstrip(".") for t in SEED_TASKS}
    assert any(s["data"]["instruction"].lower().removesuffix(" now.") in shown for s in novelty)
    train = result.dataset["train"]
    assert train.column_names[:5] == ["instruction", "input", "output", "messages", "category"]
    row = train[0]
    assert row["messages"] == [{"role": "user", "content": row["instruction"]},
                               {"role": "assistant", "content": row["output"]}]
    assert engine.calls["NewTasks"] > 0 and engine.calls["Answer"] == result.stats["funnel"].get("accepted", 0) + \
        result.stats["funnel"].get("quota", 0)
    report = (tmp_path / "report.md").read_text()
    assert "## Instructions" in report and "ROUGE-L F1 with the nearest seed task" in report


def test_keyword_filter_rejects_tasks_a_text_model_cannot_do(tmp_path):
    from synthwright.make.method_run import PROGRAM, UNFIT

    assert UNFIT.search("Draw a diagram of the water cycle") and PROGRAM.search("Write a program that sorts")
    assert not UNFIT.search("Explain how the water cycle works")


def test_list_numbers_are_stripped_and_non_words_rejected_by_form():
    from synthwright.make.method_run import LIST_MARK, form_problem

    assert LIST_MARK.sub("", "3. Suggest one way to improve support", count=1) == "Suggest one way to improve support"
    assert LIST_MARK.sub("", "2) Draft a reply", count=1) == "Draft a reply"
    assert LIST_MARK.sub("", "3 ways to calm a customer", count=1) == "3 ways to calm a customer"
    assert form_problem("4th May 2023 15:08:59") == "starts with '4', not a word"
    assert form_problem("{\"instruction\": 1}") and form_problem("Explain refunds") is None


def test_evol_instruct_stores_lineage(tmp_path):
    result = run(instruction_recipe("evol_instruct", count={"total": 12}), out=tmp_path, engine=InstructionEngine())
    rows = list(result.dataset["train"])
    assert len(rows) == 12
    accepted = {r["instruction"]: r for r in rows}
    seeds = set(SEED_TASKS)
    for r in rows:
        assert r["operation"] in ("constraints", "deepen", "concretize", "reasoning", "complicate_input", "breadth")
        if r["generation"] == 1:
            assert r["parent"] in seeds
        else:
            assert accepted[r["parent"]]["generation"] == r["generation"] - 1
    assert {r["generation"] for r in rows} >= {1, 2}
    stale = [s for s in stored(tmp_path) if s["filter"] == "evolution"]
    assert stale and all("no new information" in s["reason"] for s in stale)


KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.instruction_engine import InstructionEngine, instruction_recipe
from synthwright import run

class Killed(InstructionEngine):
    def generate(self, requests, *, schema=None, sampling=None):
        if schema is not None and schema.__name__ == "Evolved" and self.calls["Evolved"] >= 8:
            os.kill(os.getpid(), signal.SIGKILL)  # the third batch of evolutions never comes back
        return super().generate(requests, schema=schema, sampling=sampling)

run(instruction_recipe("evol_instruct", count={{"total": 12}}), out={out!r}, engine=Killed())
"""


def test_evol_instruct_resumes_after_kill_without_repeating_an_evolution(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_RUN.format(root=str(ROOT), out=str(out)))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    before = stored(out)
    assert before and len({s["call_id"] for s in before}) >= 8
    engine = InstructionEngine()
    result = run(instruction_recipe("evol_instruct", count={"total": 12}), out=out, engine=engine)
    assert result.stats["accepted"] == 12
    attempts = [(s["data"]["parent"], s["data"]["generation"]) for s in stored(out) if s["data"].get("parent")]
    assert len(attempts) == len(set(attempts))  # no parent evolved twice in a generation
    done_before = {(s["data"]["parent"], s["data"]["generation"]) for s in before if s["data"].get("parent")}
    assert not done_before & {(p, 1) for p in engine.evolved}  # the resumed run did not redo generation 1's work


def test_magpie_writes_the_user_turn_from_the_template_prefix(tmp_path):
    engine = InstructionEngine()
    result = run(instruction_recipe("magpie"), out=tmp_path, engine=engine)
    assert result.stats["accepted"] == 10
    assert engine.prefixes and all(p.endswith("<|im_start|>user\n") for p in engine.prefixes)
    assert "Requests people make" in engine.prefixes[0]  # the recipe's description as the system message
    assert all(r["method"] == "magpie" and r["output"] for r in result.dataset["train"])


def test_magpie_on_the_tiny_model_continues_the_raw_prefix(tmp_path, tiny_engine):
    prefix = tiny_engine.user_turn_prefix("Be helpful.")
    assert prefix.endswith("user\n") and "Be helpful." in prefix
    recipe = instruction_recipe("magpie", count={"total": 4},
                                instruction={"max_requests": 8, "min_words": 1, "keyword_filter": False},
                                sampling={"temperature": 1.0, "max_new_tokens": 24},
                                filters={"language": False, "near_duplicates": False, "refusals": False,
                                         "placeholders": False, "pii": False, "min_chars": 1})
    result = run(recipe, out=tmp_path, engine=tiny_engine)
    samples = stored(tmp_path)
    assert result.stats["calls"] <= 8 and len(samples) >= 4  # every proposal has a stored fate
    assert sum(s["status"] == "accepted" for s in samples) == result.stats["accepted"]


def test_magpie_is_refused_on_a_langchain_engine(tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from synthwright.engines.langchain_engine import LangChainEngine

    engine = LangChainEngine(FakeListChatModel(responses=["hi"]))
    with pytest.raises(ConfigError, match="Magpie needs a model that continues the raw chat template") as err:
        run(instruction_recipe("magpie"), out=tmp_path, engine=engine)
    assert "\n" not in str(err.value) and "transformers or vLLM" in str(err.value)


def test_bad_instruction_recipes_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="has none; add instruction.seed_tasks"):
        run(instruction_recipe("self_instruct", instruction={"seed_tasks": []}), out=tmp_path / "a",
            engine=InstructionEngine())
    with pytest.raises(ConfigError, match="method applies to instruction recipes only"):
        run({**instruction_recipe("self_instruct"), "task": "classification"}, out=tmp_path / "b",
            engine=InstructionEngine())


def test_topics_method_runs_the_planner_and_executor(tmp_path):
    recipe = instruction_recipe("topics", count={"per_category": 2},
                                categories=[{"name": "writing", "description": "Help with writing."},
                                            {"name": "cooking", "description": "Questions about cooking."}],
                                axes={"personas": ["a student"], "scenarios_per_category": 1, "styles": ["casual"],
                                      "lengths": ["short"]},
                                budget={"max_rounds": 2}, few_shot=0)
    recipe.pop("instruction")
    result = run(recipe, out=tmp_path, engine=InstructionEngine())
    assert result.stats["accepted"] == 4
    assert set(result.dataset["train"]["category"]) == {"writing", "cooking"}


def test_messages_column_goes_through_trl_sft_preparation(tmp_path, tiny_model_dir):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    run(instruction_recipe("self_instruct"), out=tmp_path / "run", engine=InstructionEngine())
    ds = load_dataset("json", data_files=str(tmp_path / "run" / "data" / "train.jsonl"), split="train")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                     use_cpu=True, save_strategy="no", logging_strategy="no", dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)
    prepared = trainer.train_dataset
    assert "input_ids" in prepared.column_names and len(prepared) == len(ds)
    text = tokenizer.decode(prepared[0]["input_ids"])
    assert ds[0]["instruction"][:20] in text and ds[0]["output"][:20] in text
    trainer.train()  # one optimisation step on the prepared rows


def test_distill_trains_a_student_on_an_instruction_run(tmp_path, tiny_model_dir):
    from synthwright.finetune import DistillConfig, distill

    run(instruction_recipe("self_instruct", count={"total": 12}), out=tmp_path / "run", engine=InstructionEngine())
    result = distill(tmp_path / "run", student=str(tiny_model_dir), out=tmp_path / "student",
                     config=DistillConfig(max_steps=2, batch_size=4, patience=0, val_fraction=0.2))
    assert result.manifest["schema"]["title"] == "Answer"  # the student learns to answer instructions
    assert result.manifest["train_sample_ids"] and (tmp_path / "student" / "adapter_model.safetensors").is_file()

def test_export_writes_an_instruction_dataset_with_its_card(tmp_path):
    from synthwright.publish.export import export_dataset

    run(instruction_recipe("evol_instruct"), out=tmp_path / "run", engine=InstructionEngine())
    export_dataset(tmp_path / "run", tmp_path / "export", license="cc-by-4.0")
    card = (tmp_path / "export" / "README.md").read_text()
    assert "instruction" in card.lower() and "text-generation" in card


def test_cli_plan_is_refused_for_a_method_recipe(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from synthwright.cli.app import app

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(instruction_recipe("self_instruct")))
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "has no plan to make" in result.output
