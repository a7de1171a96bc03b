"""Runs on a local Ray cluster (CPU, 2 actors, the tiny model): same counts, actor death, driver kill."""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

import synthwright
from synthwright.core.store import RunStore

from .recipes import classification_recipe

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                    "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                   check=True, env=env, capture_output=True)
    address = f"127.0.0.1:{port}"
    try:
        from synthwright.scale.ray_pool import send_token_if_available

        send_token_if_available()  # `ray start` uses token auth where an earlier local ray.init() left a token
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        yield address
    finally:  # a cluster left behind would make the next `ray.init("auto")` ambiguous
        ray.shutdown()
        subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(temp, ignore_errors=True)


def accepted_texts(out: Path) -> dict[int, str]:
    store = RunStore(out / "run.sqlite")
    try:
        return {s["sample_id"]: s["data"]["text"] for s in store.samples("accepted")}
    finally:
        store.close()


def test_two_actors_give_the_same_counts_as_one_process(cluster, tiny_model_dir, tmp_path):
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 6})
    single = synthwright.run(recipe, out=tmp_path / "single")
    on_ray = synthwright.run(recipe, out=tmp_path / "ray", ray={"address": cluster, "actors": 2})
    assert on_ray.stats["per_category"] == single.stats["per_category"]
    assert on_ray.stats["accepted"] == on_ray.stats["target"] == 18
    assert on_ray.stats["splits"] == single.stats["splits"]
    store = RunStore(tmp_path / "ray" / "run.sqlite")
    engines = {s["engine"]["ray"]["actors"] for s in store.samples("accepted")}
    store.close()
    assert engines == {2}


def test_an_actor_killed_mid_batch_has_its_batch_rerun(cluster, tiny_model_dir, tmp_path):
    from synthwright.scale import RayConfig, RayEnginePool

    recipe = classification_recipe(tiny_model_dir, count={"per_category": 16},
                                   teacher={"model": str(tiny_model_dir), "options": {"dtype": "float32", "batch_size": 4}})
    pool = RayEnginePool(str(tiny_model_dir), {"dtype": "float32", "batch_size": 4},
                         RayConfig(address=cluster, actors=2, in_flight_per_actor=2))
    killed = []

    def kill_one(report):
        if not killed:
            ray.kill(pool.actors[0])  # its queued batches are still in flight
            killed.append(True)

    try:
        result = synthwright.run(recipe, out=tmp_path / "run", engine=pool, on_batch=kill_one)
    finally:
        pool.close()
    assert pool.restarts >= 1
    texts = accepted_texts(tmp_path / "run")
    assert result.stats["accepted"] == 48 and len(texts) == 48 and len(set(texts.values())) == 48
    store = RunStore(tmp_path / "run" / "run.sqlite")
    assert store.call_stats()["phases"]["executor"]["calls"] == len(store.samples())  # a re-run batch was stored once
    store.close()


def test_resume_after_the_driver_is_killed(cluster, tiny_model_dir, tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    recipe = classification_recipe(tiny_model_dir, count={"per_category": 40})
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "synthwright.cli.app", "run", str(recipe_path), "--out", str(out),
                             "--ray", cluster, "--actors", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db, count, deadline = out / "run.sqlite", 0, time.time() + 180
    while time.time() < deadline and proc.poll() is None and count < 16:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    count = con.execute("SELECT COUNT(*) FROM samples WHERE status='accepted'").fetchone()[0]
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before the driver could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = accepted_texts(out)
    assert 16 <= len(before) < 120
    result = synthwright.run(recipe_path, out=out, ray={"address": cluster, "actors": 2})
    after = accepted_texts(out)
    assert result.stats["accepted"] == 120 and len(set(after.values())) == 120
    assert all(after[i] == text for i, text in before.items())


def test_a_judge_with_its_own_model_runs_on_its_own_actor_pool(cluster, tiny_model_dir, tmp_path):
    from synthwright.testing import build_tiny_chat_model

    judge_model = build_tiny_chat_model(tmp_path / "judge-model", seed=1)
    lenient = {"enabled": True, "min_score": 1, "require_label_agreement": False, "max_new_tokens": 160,
               "options": {"dtype": "float32", "batch_size": 8}}
    ray_config = {"address": cluster, "actors": 1, "judge_actors": 1}  # the cluster has 2 CPUs, one per pool
    for name, judge, judge_spec in (("own", {**lenient, "model": str(judge_model)}, str(judge_model)),
                                    ("shared", lenient, str(tiny_model_dir))):
        recipe = classification_recipe(tiny_model_dir, count={"per_category": 4}, judge=judge)
        synthwright.run(recipe, out=tmp_path / name, ray=ray_config)
        store = RunStore(tmp_path / name / "run.sqlite")
        verdicts = store.verdicts()
        store.close()
        assert verdicts and {v.judge for v in verdicts} == {judge_spec}
        assert {v.engine["ray"]["actors"] for v in verdicts} == {1}  # judged on Ray actors


def test_a_pool_the_cluster_cannot_place_is_refused_in_one_sentence(cluster, tiny_model_dir, tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe(tiny_model_dir)))
    proc = subprocess.run([sys.executable, "-m", "synthwright.cli.app", "run", str(recipe_path), "--out", str(tmp_path / "run"),
                           "--ray", cluster, "--actors", "3"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "need 3 CPUs but the cluster has 2 in all" in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_a_bad_ray_setting_is_named_in_one_sentence(tiny_model_dir, tmp_path):
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe(tiny_model_dir)))
    proc = subprocess.run([sys.executable, "-m", "synthwright.cli.app", "run", str(recipe_path), "--out", str(tmp_path / "run"),
                           "--ray", "local", "--actors", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "fix --actors" in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was made
