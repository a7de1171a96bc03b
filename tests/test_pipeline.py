"""End-to-end runs on the tiny model: exact quotas, balanced axes, durability, resume, refusal."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import synthwright
from synthwright.cli.app import app
from synthwright.core.errors import ConfigError
from synthwright.core.store import RunStore

from .recipes import classification_recipe


def accepted(out: Path) -> list[dict]:
    store = RunStore(out / "run.sqlite")
    try:
        return store.samples("accepted")
    finally:
        store.close()


def test_classification_run_meets_quotas_with_balanced_axes(tiny_model_dir, tmp_path):
    result = synthwright.run(classification_recipe(tiny_model_dir), out=tmp_path / "run")
    stats = result.stats
    assert stats["accepted"] == stats["target"] == 24 and stats["shortfall"] == 0
    assert {c: v["accepted"] for c, v in stats["per_category"].items()} == {"lost_card": 8, "refund": 8, "fees": 8}
    ds = result.dataset
    assert {name: len(ds[name]) for name in ds} == {"train": 12, "validation": 6, "test": 6}
    assert Counter(ds["test"]["label"]) == {"lost_card": 2, "refund": 2, "fees": 2}  # stratified
    rows = [r for name in ds for r in ds[name]]
    for axis, size in (("persona", 3), ("style", 2), ("length", 2)):
        counts = Counter(r[axis] for r in rows)
        assert len(counts) == size and max(counts.values()) - min(counts.values()) <= 1, (axis, counts)
    for r in rows:
        assert r["teacher"] == str(tiny_model_dir) and r["seed"] >= 0 and r["slot_id"]
    out = tmp_path / "run"
    for name in ("run.sqlite", "plan.json", "recipe.yaml", "stats.json", "dataset", "data/train.parquet",
                 "data/test.jsonl"):
        assert (out / name).exists(), name
    plan = json.loads((out / "plan.json").read_text())
    assert sum(s["quota"] for s in plan["slot_list"]) == 24
    store = RunStore(out / "run.sqlite")
    calls = store.call_stats()
    assert calls["phases"]["executor"]["calls"] == len(store.samples())  # every executor call has one sample with a fate
    assert calls["phases"]["planner"]["calls"] == 2 * 2 * 3  # 2 scenarios x 3 labels, each asked twice: one batch-first plan
    store.close()


def test_total_count_and_limit(tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir, count={"total": 10})
    first = synthwright.run(recipe, out=tmp_path / "run", limit=4)
    assert first.stats["accepted"] == 4 and first.stats["stopped_by_limit"]
    labels = {label for name in first.dataset for label in first.dataset[name]["label"]}
    assert len(labels) == 3  # a cut-short run is spread over labels
    second = synthwright.run(recipe, out=tmp_path / "run")
    assert second.stats["accepted"] == 10
    assert sorted(second.stats["per_category"][c]["target"] for c in second.stats["per_category"]) == [3, 3, 4]


def test_limit_counts_the_whole_run_so_the_same_command_converges(tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir, teacher={"model": str(tiny_model_dir),
                                                            "options": {"dtype": "float32", "batch_size": 2}})
    out = tmp_path / "run"

    def killed_after_one_batch(report):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthwright.run(recipe, out=out, limit=5, on_batch=killed_after_one_batch)
    assert 0 < len(accepted(out)) < 5
    again = synthwright.run(recipe, out=out, limit=5)  # the same command after the kill
    assert again.stats["accepted"] == len(accepted(out)) == 5 and again.stats["stopped_by_limit"]
    calls = RunStore(out / "run.sqlite").call_stats()["calls"]
    third = synthwright.run(recipe, out=out, limit=5)  # and once more: nothing to do
    assert third.stats["accepted"] == 5 and third.stats["stopped_by_limit"]
    assert RunStore(out / "run.sqlite").call_stats()["calls"] == calls
    assert synthwright.run(recipe, out=out, limit=7).stats["accepted"] == 7  # a higher limit goes on


def test_resume_after_exception_mid_run(tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir)
    out = tmp_path / "run"

    def crash_after_two(report):
        if report.store.call_stats()["calls"] >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthwright.run(recipe, out=out, on_batch=crash_after_two)
    before = {s["sample_id"]: s["data"]["text"] for s in accepted(out)}
    assert 0 < len(before) < 24
    result = synthwright.run(recipe, out=out)
    after = {s["sample_id"]: s["data"]["text"] for s in accepted(out)}
    assert result.stats["accepted"] == 24 and len(after) == 24
    assert all(after[i] == text for i, text in before.items())  # nothing accepted was lost or changed
    assert len(set(after.values())) == 24
    with sqlite3.connect(out / "run.sqlite") as con:
        seeds = con.execute("SELECT slot_id, round, seed FROM calls WHERE phase = 'executor'").fetchall()
    assert len(seeds) == len(set(seeds))  # the resumed round went on with new seeds, not the same requests again


def test_kill_minus_nine_loses_at_most_the_batch_in_flight(tiny_model_dir, tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 40})
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthwright.cli.app", "run", str(recipe_path), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    db = out / "run.sqlite"
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    count = con.execute("SELECT COUNT(*) FROM samples WHERE status='accepted'").fetchone()[0]
            except sqlite3.Error:
                count = 0
            if count >= 20:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {s["sample_id"]: s["data"]["text"] for s in accepted(out)}
    assert 20 <= len(before) < 120
    result = synthwright.run(recipe_path, out=out)
    after = {s["sample_id"]: s["data"]["text"] for s in accepted(out)}
    assert result.stats["accepted"] == 120 and len(after) == 120 and len(set(after.values())) == 120
    assert all(after[i] == text for i, text in before.items())


def test_changed_recipe_is_refused_unless_restart(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    synthwright.run(classification_recipe(tiny_model_dir, count={"per_category": 2}), out=out)
    changed = classification_recipe(tiny_model_dir, count={"per_category": 3})
    with pytest.raises(ConfigError, match="recipe changed since the run"):
        synthwright.run(changed, out=out)
    result = synthwright.run(changed, out=out, restart=True)
    assert result.stats["accepted"] == 9
    kept = list(out.glob("previous-*/run.sqlite"))
    assert len(kept) == 1 and len(RunStore(kept[0]).samples("accepted")) == 6


def test_dataset_is_rebuilt_from_the_store_without_a_model(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 2})
    first = synthwright.run(recipe, out=out)
    import shutil

    shutil.rmtree(out / "dataset")
    (out / "data" / "train.parquet").unlink()

    class NoModel(synthwright.Engine):
        def generate(self, requests, **kw):
            raise AssertionError("a finished run must not call the model")

    again = synthwright.run(recipe, out=out, engine=NoModel())
    assert (out / "dataset").is_dir() and (out / "data" / "train.parquet").is_file()
    assert sorted(again.dataset["train"]["text"]) == sorted(list(first.dataset["train"]["text"]))


def test_qa_run_grounded_in_documents(tiny_model_dir, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("The router's light turns blue when online.\n\n" + "Reset by holding the button. " * 20)
    (docs / "b.txt").write_text("Warranty lasts two years and covers hardware faults.")
    recipe = classification_recipe(tiny_model_dir, task="qa", categories=[], count={"per_category": 2},
                                   documents={"path": "docs", "chunk_chars": 300, "overlap_chars": 0},
                                   base_dir=str(tmp_path))
    result = synthwright.run(recipe, out=tmp_path / "run")
    rows = [r for name in result.dataset for r in result.dataset[name]]
    chunks = {r["topic"] for r in rows}
    assert result.stats["accepted"] == result.stats["target"] == 2 * len(chunks) and len(chunks) >= 3
    assert all(r["context"] and r["question"] and r["answer"] for r in rows)
    assert any("Warranty lasts two years" in r["context"] for r in rows)


def test_dialogue_run(tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir, task="dialogue", turns={"min": 2, "max": 4},
                                   count={"per_category": 2})
    result = synthwright.run(recipe, out=tmp_path / "run")
    rows = [r for name in result.dataset for r in result.dataset[name]]
    assert result.stats["accepted"] == 6 and len(rows) == 6
    for r in rows:
        roles = [t["role"] for t in r["turns"]]
        assert 2 <= len(roles) <= 4 and roles == ["user", "assistant"] * (len(roles) // 2)
        assert r["intent"] in {"lost_card", "refund", "fees"}


def test_plan_command_writes_plan_without_samples(tiny_model_dir, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe(tiny_model_dir)))
    result = CliRunner().invoke(app, ["plan", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "24 samples" in result.output
    assert (tmp_path / "run" / "plan.json").is_file()
    assert accepted(tmp_path / "run") == []


def test_a_few_rows_per_label_still_fill_every_split():
    from synthwright.rundir.views import stratified_splits

    rows = [{"label": f"intent_{i}", "sample_id": 10 * i + j} for i in range(22) for j in range(2 + i % 2)]
    splits = stratified_splits(rows, "label", {"train": 0.8, "validation": 0.1, "test": 0.1}, seed=0)
    sizes = {name: len(part) for name, part in splits.items()}
    assert sizes == {"train": 44, "validation": 6, "test": 5} and sum(sizes.values()) == len(rows)
    assert all(Counter(r["label"] for r in splits["train"])[f"intent_{i}"] >= 1 for i in range(22))
